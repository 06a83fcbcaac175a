/// Delay before the next connection attempt: `initial × 2^n` after the n-th consecutive failure (n from 0),
/// capped at `maximum`; back to `initial` after a successful connection. Upstream: 100 ms doubling up to 10 s.
struct NPDSBackoff: Sendable {
    let initialMilliseconds: Int64
    let maximumMilliseconds: Int64
    private(set) var failures = 0

    init(initialMilliseconds: Int64 = 100, maximumMilliseconds: Int64 = 10_000) {
        self.initialMilliseconds = max(1, initialMilliseconds)
        self.maximumMilliseconds = max(self.initialMilliseconds, maximumMilliseconds)
    }

    /// The delay to wait now, and counts the failure.
    mutating func nextDelayMilliseconds() -> Int64 {
        let delay = Self.delay(initial: initialMilliseconds, maximum: maximumMilliseconds, failures: failures)
        failures += 1
        return delay
    }

    mutating func reset() {
        failures = 0
    }

    static func delay(initial: Int64, maximum: Int64, failures: Int) -> Int64 {
        // Doubling stops at the cap, so no overflow however long the agent stays away.
        var delay = initial
        var step = 0
        while step < failures && delay < maximum {
            delay *= 2
            step += 1
        }
        return min(delay, maximum)
    }
}
