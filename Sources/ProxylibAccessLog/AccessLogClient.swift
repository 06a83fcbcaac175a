#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import ProxylibCore
import Synchronization

/// Sends an instance's access-log entries to the Cilium agent: one serialized `cilium.LogEntry` per packet
/// (no length prefix) on the unix `SOCK_SEQPACKET` socket at `access-log-path`, as upstream's
/// `proxylib/accesslog` client does.
///
/// `log()` runs on Envoy's worker threads and never waits on the socket: it reserves a place in a preallocated
/// byte ring (`AccessLogQueue`) under a short lock, encodes the entry there (bounded by `AccessLogLimits`, no
/// allocation) without the lock, so that workers logging at once do not wait for each other's encoding, and
/// commits it under the lock. If the queue is full (the collector is slow, stuck or gone for long) the entry is
/// dropped and counted undelivered. One background thread owned by the client sends the queued entries, in
/// reservation order: each thread's entries in the order it logged them.
///
/// Connection handling (upstream redials on the next entry after a write error; we do the same, with a
/// backoff):
/// - The client connects at creation; a failure is reported once and is not fatal.
/// - A send error marks the connection broken: it is closed, and the thread redials as soon as an entry is
///   waiting — at once if the lost connection had lasted at least a second, otherwise (and while dials fail)
///   after a backoff: `minimumRedialDelay` doubling up to `maximumRedialDelay`, starting over when a
///   connection that lasted is lost. So neither a missing collector nor one that accepts and hangs up is
///   redialled in a loop. Entries queued meanwhile are kept (up to the queue capacity) and sent after the
///   reconnection.
/// - The entry whose send failed was not delivered (a packet is taken whole or not at all), so it stays at
///   the head and is sent again on the next connection; an entry that fails on `maxSendAttempts` connections
///   in a row is dropped, so one entry can never wedge the queue.
/// - The loss of the collector is reported once per outage (`Diagnostics.error`; an outage ends when a
///   connection that has lasted a second delivers); redials, drops and recovery go to the debug log with
///   running counts, never once per entry.
///
/// `shutdown()` (called at the instance's last CloseModule) stops accepting entries, sends what the socket
/// takes without waiting, and stops the thread; it returns within milliseconds.
public final class AccessLogClient: AccessLogSink, InstanceService {
    /// Tunables; the defaults suit production.
    public struct Configuration: Sendable {
        public var limits: AccessLogLimits
        /// Entries that can wait for the socket (in a ring of 256 bytes per entry, at least four of
        /// `limits.maxEntryBytes`).
        public var queueCapacity: Int
        /// Delay before redialling after a failed dial; doubles up to `maximumRedialDelay`.
        public var minimumRedialDelay: Duration
        public var maximumRedialDelay: Duration
        /// Connections an entry may fail to send on before it is dropped.
        public var maxSendAttempts: Int

        public init(limits: AccessLogLimits = .default, queueCapacity: Int = 1024,
                    minimumRedialDelay: Duration = .milliseconds(100), maximumRedialDelay: Duration = .seconds(5),
                    maxSendAttempts: Int = 3) {
            self.limits = limits
            self.queueCapacity = max(queueCapacity, 1)
            self.minimumRedialDelay = max(minimumRedialDelay, .milliseconds(1))
            self.maximumRedialDelay = max(maximumRedialDelay, self.minimumRedialDelay)
            self.maxSendAttempts = max(maxSendAttempts, 1)
        }
    }

    /// The collector's socket path.
    public let path: String
    public let configuration: Configuration
    /// nil when the client could not be set up at all (no pipe); it then ignores entries.
    private let queue: AccessLogQueue?
    /// The sender thread until `shutdown()` has joined it.
    private let sender: Mutex<pthread_t?>

    public convenience init(path: String) {
        self.init(path: path, configuration: Configuration())
    }

    public convenience init(path: String, configuration: Configuration) {
        self.init(path: path, configuration: configuration, afterEncoding: nil)
    }

    /// `afterEncoding`: tests only, runs between encoding an entry and committing it (a slow encoder).
    init(path: String, configuration: Configuration, afterEncoding: (@Sendable () -> Void)?) {
        self.path = path
        self.configuration = configuration
        guard let wakeup = WakeupPipe() else {
            Diagnostics.error("access log: cannot create a pipe (\(SocketError(operation: "pipe", code: errno))); access logging to \(path) is off")
            queue = nil
            sender = Mutex(nil)
            return
        }
        let queue = AccessLogQueue(capacity: configuration.queueCapacity, limits: configuration.limits,
                                   wakeup: wakeup, afterEncoding: afterEncoding)
        self.queue = queue

        // Connect now, like upstream's NewClient; the thread takes over the connection.
        let loop = AccessLogSender(path: path, queue: queue, configuration: configuration)
        Diagnostics.debug("access log: connecting to \(path)")
        if let error = loop.connectAtCreation() {
            Diagnostics.error("access log: cannot connect to \(path) (\(error)); entries are queued (up to \(queue.capacity)) and the connection is retried")
        }

        let thread = Self.startThread(running: loop)
        if thread == nil {
            Diagnostics.error("access log: cannot start the sender thread; access logging to \(path) is off")
            queue.close()
        }
        sender = Mutex(thread)
    }

    deinit {
        shutdown()
    }

    /// Queues `entry` for the collector, or drops it (counted undelivered) when the queue is full. Returns at
    /// once in every case; ignored after `shutdown()`.
    public func log(_ entry: AccessLogEntry) {
        // Optional chaining borrows the queue: binding it (`guard let`) would retain and release the object every
        // worker thread shares, two atomic writes to one cache line per entry.
        switch queue?.enqueue(entry) {
        case .queued, .ignored, nil:
            break
        case let .droppedQueueFull(firstOfRun, total):
            if firstOfRun {
                Diagnostics.debug("access log: queue full (\(configuration.queueCapacity) entries), dropping entries until \(path) catches up; \(total) undelivered so far")
            }
        case let .queuedAfterDropping(dropped, total):
            Diagnostics.debug("access log: queue has room again after dropping \(dropped) entries; \(total) undelivered in total")
        case let .droppedUnencodable(total):
            Diagnostics.debug("access log: an entry could not be encoded and was dropped; \(total) undelivered in total")
        }
    }

    /// Stops accepting entries, hands what the socket takes at once to the collector, stops the sender
    /// thread and closes the socket. Idempotent; every call returns once the thread has ended.
    public func shutdown() {
        guard let queue else { return }
        queue.close()
        sender.withLock { thread in
            guard let running = thread else { return }
            pthread_join(running, nil)
            thread = nil
        }
    }

    /// Counters: delivered, undelivered, reconnects, and entries waiting.
    public var statistics: AccessLogStatistics {
        queue?.statistics ?? AccessLogStatistics()
    }

    /// Starts the sender thread with every signal blocked, so that process signals are left to the host's
    /// threads.
    private static func startThread(running loop: AccessLogSender) -> pthread_t? {
        var allSignals = sigset_t()
        var previous = sigset_t()
        sigfillset(&allSignals)
        pthread_sigmask(SIG_SETMASK, &allSignals, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }

        let context = Unmanaged.passRetained(loop).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, { context in
            guard let context else { return nil }
            let loop = Unmanaged<AccessLogSender>.fromOpaque(context).takeRetainedValue()
            loop.run()
            return nil
        }, context)
        guard result == 0 else {
            Unmanaged<AccessLogSender>.fromOpaque(context).release()
            return nil
        }
        return thread
    }
}
