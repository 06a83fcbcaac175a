#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Synchronization
import Testing
@testable import ProxylibCore

/// OpenModule may wait (an NPDS client waits up to a second for its first attempt); the table must not make
/// Envoy's worker threads wait with it.
@Suite struct InstanceTableTests {
    /// Stands for the policy client made (slowly) by `makePolicySource`.
    struct SlowService: InstanceService {
        func shutdown() {}
    }

    static func monotonicSeconds() -> Double {
        Double(DispatchTime.now().uptimeNanoseconds) / 1e9
    }

    @Test func findAndCloseDoNotWaitForAnOpenInProgress() {
        let runtime = ProxylibRuntime(registry: ParserRegistry(), makePolicySource: { instance in
            guard !instance.params.xdsPath.isEmpty else { return nil }
            Pause.seconds(1.0)
            return SlowService()
        })
        let existing = runtime.openModule([], debug: false)
        let other = runtime.openModule([("access-log-path", "/nonexistent/log.sock")], debug: false)
        #expect(existing != 0 && other != 0)

        let opened = Atomic<UInt64>(0)
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            opened.store(runtime.openModule([("xds-path", "/nonexistent/xds.sock")], debug: false), ordering: .releasing)
            done.signal()
        }
        // While the open sleeps, lookups (every OnNewConnection) and closes of other instances stay short.
        Pause.seconds(0.1)
        var worst = 0.0
        for _ in 0..<50 {
            let start = Self.monotonicSeconds()
            #expect(runtime.instances.find(existing) != nil)
            worst = max(worst, Self.monotonicSeconds() - start)
        }
        let closeStart = Self.monotonicSeconds()
        runtime.closeModule(other)
        worst = max(worst, Self.monotonicSeconds() - closeStart)
        #expect(opened.load(ordering: .acquiring) == 0, "the open was still in progress while we looked")
        #expect(worst < 0.3, "find/close waited \(worst) s for an OpenModule in progress")
        done.wait()

        // Same parameters while an open is in progress: one instance, counted twice.
        let id = opened.load(ordering: .acquiring)
        #expect(id != 0)
        #expect(runtime.openModule([("xds-path", "/nonexistent/xds.sock")], debug: false) == id)
    }

    @Test func concurrentOpensWithTheSameParametersShareOneInstance() {
        let made = Atomic<Int>(0)
        let runtime = ProxylibRuntime(registry: ParserRegistry(), makePolicySource: { _ in
            made.add(1, ordering: .relaxed)
            Pause.seconds(0.2)
            return SlowService()
        })
        let ids = Mutex<[UInt64]>([])
        let group = DispatchGroup()
        for _ in 0..<4 {
            DispatchQueue.global().async(group: group) {
                let id = runtime.openModule([("xds-path", "/nonexistent/shared.sock")], debug: false)
                ids.withLock { $0.append(id) }
            }
        }
        group.wait()
        let all = ids.withLock { $0 }
        #expect(all.count == 4 && Set(all).count == 1 && all[0] != 0)
        #expect(made.load(ordering: .relaxed) == 1)
    }
}

private enum Pause {
    static func seconds(_ seconds: Double) {
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 { request = remaining }
    }
}
