#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A value behind a plain (non priority-inheriting) pthread mutex, for the tables every worker thread touches
/// on every call.
///
/// Why not `Synchronization.Mutex`: on Linux it is a priority-inheritance futex. When it is contended, unlock
/// hands the lock to the sleeping waiter, so the lock stays owned by a thread that is not running until the
/// scheduler gets to it; every other thread queues behind it. With more worker threads than free cores (Envoy
/// on a busy node; the stress run's 8 threads on 2 cores) OnData's p50 went from ~0.2 µs to ~160 µs, 37% of
/// the CPU in `_MutexHandle._lockSlow`. A glibc default mutex wakes a waiter without handing over, so a running
/// thread takes the lock again at once.
public final class PlainLock<Value>: @unchecked Sendable {
    // @unchecked: `value` is only touched between pthread_mutex_lock and pthread_mutex_unlock.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    public init(_ value: Value) {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        // Default attributes cannot fail to initialize on glibc or musl.
        pthread_mutex_init(mutex, nil)
        self.value = value
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    @inline(__always)
    public func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
