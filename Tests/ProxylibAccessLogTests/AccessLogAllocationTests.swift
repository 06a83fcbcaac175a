import Glibc
import Testing
@testable import ProxylibCore
@testable import ProxylibAccessLog

/// The calling thread's heap allocations, when a counting malloc interposer is preloaded. It must export
/// `long accesslog_test_thread_allocations(void)` returning a `__thread` counter bumped by malloc, calloc,
/// realloc, aligned_alloc, memalign and posix_memalign (forwarding to `__libc_*`), e.g.:
///
///     cc -O2 -shared -fPIC -ftls-model=initial-exec alloccount.c -o alloccount.so
///     LD_PRELOAD=$PWD/alloccount.so swift test -c release --enable-testable-imports --disable-xctest \
///         --filter AccessLogAllocation
///
/// Without it, or in a debug build (unoptimized Swift allocates where optimized code does not, e.g. when
/// iterating an array of tuples), these tests are skipped.
enum ThreadAllocationCounter {
    private typealias Counter = @convention(c) () -> Int

    private static let counter: Counter? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "accesslog_test_thread_allocations") else {
            return nil
        }
        return unsafeBitCast(symbol, to: Counter.self)
    }()

    static var isAvailable: Bool {
        #if DEBUG
        return false
        #else
        return counter != nil
        #endif
    }

    static var current: Int { counter?() ?? 0 }
}

@Suite("AccessLog allocations", .enabled(if: ThreadAllocationCounter.isAvailable, "needs an optimized build and the malloc counter preloaded"))
struct AccessLogAllocationTests {
    /// Typical and pathological entries, built before the measurement (building them allocates).
    static let entries: [AccessLogEntry] = [
        sampleEntry(.generic(proto: "r2d2", fields: [("cmd", "READ"), ("file", "/etc/passwd")]), type: .denied),
        sampleEntry(.generic(proto: "textmemcached", fields: [("command", "get"), ("keys", "a, b, c")])),
        sampleEntry(.kafka(correlationID: 5, errorCode: 29, apiVersion: 9, apiKey: 0, topics: ["orders", "audit"])),
        sampleEntry(.generic(proto: "test", fields: [("big", String(repeating: "é", count: 50_000)), ("nul", "a\u{0}b")])),
        sampleEntry(.generic(proto: "test", fields: L7Fields((0..<2000).map { ("k\($0)", "v\($0)") }))),
    ]

    @Test("encoding into a queue slot allocates nothing, nor does dropping on a full queue")
    func enqueueAllocatesNothing() throws {
        let wakeup = try #require(WakeupPipe())
        let queue = AccessLogQueue(capacity: 4096, limits: .default, wakeup: wakeup)
        let entries = Self.entries
        for entry in entries { _ = queue.enqueue(entry) }  // warm up
        let before = ThreadAllocationCounter.current
        for _ in 0..<1000 {
            for entry in entries { _ = queue.enqueue(entry) }  // fills the queue, then drops
        }
        let allocations = ThreadAllocationCounter.current - before
        #expect(allocations == 0)
        // The 1 MiB ring fills before the entry count (these entries average about 1 KB; two are 4 KiB), then
        // every entry is dropped. (This said `queued == 4096`, true of the 4 KiB slots before the byte ring.)
        let queued = queue.statistics.queued
        #expect(queued > 500 && queued < 4096)
        let undelivered = queue.statistics.undelivered
        #expect(queue.enqueue(entries[0]) == .droppedQueueFull(firstOfRun: false, total: undelivered + 1))
    }

    @Test("AccessLogClient.log allocates nothing on the calling thread")
    func logAllocatesNothing() async throws {
        let collector = try TestCollector(path: temporarySocketPath("alloc")).start()
        defer { collector.stop() }
        let client = AccessLogClient(path: collector.path)
        defer { client.shutdown() }
        let entries = Self.entries
        for entry in entries { client.log(entry) }
        let before = ThreadAllocationCounter.current
        for _ in 0..<200 {
            for entry in entries { client.log(entry) }
        }
        let allocations = ThreadAllocationCounter.current - before
        #expect(allocations == 0)
    }
}
