import CProxylib
import Dispatch
import Synchronization
import Testing
@testable import ProxylibCore

/// The connection table is sharded by id so that worker threads do not queue on one lock (see `PlainLock`):
/// every id must still land in exactly one place, whatever its bits.
@Suite struct ConnectionTableTests {
    static func runtimeWithPasser() -> (ProxylibRuntime, UInt64) {
        var registry = ParserRegistry()
        registry.register(parser: "test.nothing", NothingFactory())
        let runtime = ProxylibRuntime(registry: registry)
        return (runtime, runtime.openModule([], debug: false))
    }

    struct NothingFactory: ParserFactory {
        func makeParser(for connection: Connection) -> (any Parser)? { NothingParser() }
    }

    final class NothingParser: Parser {
        func onData(reply: Bool, endStream: Bool, input: InputView) -> ParserOp { .nop }
    }

    static func open(_ runtime: ProxylibRuntime, _ instance: UInt64, _ id: UInt64) -> FilterResult {
        runtime.newConnection(instanceID: instance, parserName: "test.nothing", connectionID: id, ingress: true,
                              sourceSecurityID: 1, destinationSecurityID: 2, sourceAddress: "1.1.1.1:1",
                              destinationAddress: "10.0.0.2:80", policyName: "1.1.1.1",
                              originalInjectBuffer: nil, replyInjectBuffer: nil)
    }

    @Test func sequentialAndSpreadIDs() {
        let (runtime, instance) = Self.runtimeWithPasser()
        let ids = (1...6000).map { UInt64($0) } + (1...3000).map { UInt64($0) << 40 | 7 } + [0, .max]
        for id in ids { #expect(Self.open(runtime, instance, id) == FILTER_OK) }
        #expect(runtime.connections.count == ids.count)
        for id in ids { #expect(runtime.connections.find(id)?.id == id) }
        #expect(runtime.connections.find(6001) == nil)
        for id in ids where id % 2 == 0 { runtime.close(connectionID: id) }
        for id in ids { #expect((runtime.connections.find(id) != nil) == (id % 2 == 1)) }
        for id in ids { runtime.close(connectionID: id) }
        #expect(runtime.connections.count == 0)
    }

    @Test func eightThreadsOpenFindAndClose() {
        let (runtime, instance) = Self.runtimeWithPasser()
        let failures = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 8) { thread in
            let base = UInt64(thread) << 32
            for round in 0..<5 {
                let ids = (0..<1000).map { base + UInt64(round * 1000 + $0) }
                for id in ids where Self.open(runtime, instance, id) != FILTER_OK { failures.add(1, ordering: .relaxed) }
                for id in ids where runtime.connections.find(id)?.id != id { failures.add(1, ordering: .relaxed) }
                for id in ids { runtime.close(connectionID: id) }
                for id in ids where runtime.connections.find(id) != nil { failures.add(1, ordering: .relaxed) }
            }
        }
        #expect(failures.load(ordering: .relaxed) == 0)
        #expect(runtime.connections.count == 0)
    }
}
