import Glibc

/// Plain threads for tests that block (a collector, concurrent loggers), so that Swift Testing's cooperative
/// pool is never held up.
final class TestThread: @unchecked Sendable {
    private var thread = pthread_t()
    private let body: () -> Void

    private init(_ body: @escaping () -> Void) {
        self.body = body
    }

    /// Starts `body` on a new thread.
    static func start(_ body: @escaping @Sendable () -> Void) -> TestThread {
        let handle = TestThread(body)
        let context = Unmanaged.passRetained(handle).toOpaque()
        let result = pthread_create(&handle.thread, nil, { context in
            let handle = Unmanaged<TestThread>.fromOpaque(context!).takeRetainedValue()
            handle.body()
            return nil
        }, context)
        precondition(result == 0, "pthread_create failed")
        return handle
    }

    func join() {
        pthread_join(thread, nil)
    }

    /// Runs `count` copies of `body` (given their index) at once and waits for all of them.
    static func runConcurrently(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
        let threads = (0..<count).map { index in start { body(index) } }
        threads.forEach { $0.join() }
    }
}

/// Monotonic nanoseconds.
func monotonicNanoseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}

/// Polls `condition` every 5 ms until it holds or `timeout` passes.
func eventually(timeout: Duration = .seconds(5), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(5))
    }
    return condition()
}

/// A unique socket path in /tmp for one test.
func temporarySocketPath(_ name: String) -> String {
    "/tmp/accesslog-test-\(getpid())-\(name)-\(UInt32.random(in: 0...UInt32.max)).sock"
}
