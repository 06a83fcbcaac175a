import Dispatch
import NIOCore
import NIOPosix
import ProxylibCore
import Synchronization

/// The NPDS policy client of one library instance: keeps a gRPC stream open to the Cilium agent's
/// NetworkPolicyDiscoveryService on the `xds-path` unix socket and feeds every policy update to the instance
/// (behaviour of upstream's `proxylib/npds/client.go`).
///
/// Threading: the client owns one event-loop thread (`MultiThreadedEventLoopGroup(numberOfThreads: 1)`) and one
/// Swift task that runs on it (task executor preference), so everything — connecting, HTTP/2, gRPC framing,
/// calling the session that updates the instance — happens on that thread; nothing runs on Swift's global
/// concurrency pool. (NIO's event-loop-group shutdown signals its completion through Dispatch queues.)
///
/// `init` returns once the first connection attempt has either established the stream (initial request sent)
/// or failed; the client keeps retrying with exponential backoff (100 ms doubling up to 10 s, reset after a
/// stream the server accepted) until `shutdown()`.
public final class NPDSClient: InstanceService {
    public let path: String
    public let nodeID: String

    private let group: MultiThreadedEventLoopGroup
    private let eventLoop: any EventLoop
    private let core: NPDSClientCore
    private let task: Task<Void, Never>

    /// Starts the client and waits for the first attempt's result.
    public convenience init(path: String, nodeID: String, instance: Instance) {
        self.init(path: path, nodeID: nodeID, configuration: .default) {
            NPDSStreamState(nodeID: nodeID, instance: instance)
        }
    }

    /// Starts the client with `makeSession` making the message layer of each new stream.
    init<Session: NPDSSession>(
        path: String,
        nodeID: String,
        configuration: NPDSClientConfiguration,
        makeSession: @escaping @Sendable () -> Session
    ) {
        self.path = path
        self.nodeID = nodeID
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        eventLoop = group.next()
        let core = NPDSClientCore(path: path, nodeID: nodeID, eventLoop: eventLoop, configuration: configuration)
        self.core = core
        Diagnostics.debug("NPDS: Client \(nodeID) starting on \(path)")
        task = Task(executorPreference: EventLoopTaskExecutor(eventLoop)) {
            await core.run(makeSession: makeSession)
        }
        if !core.waitForFirstAttempt(timeout: configuration.firstAttemptWait) {
            Diagnostics.debug("NPDS: Client \(nodeID) still connecting to \(path); continuing in the background")
        }
    }

    deinit {
        shutdown()
    }

    /// Stops the client: no reconnection, the stream and connection closed, the event-loop thread gone. After it
    /// returns the instance is not touched again. Idempotent; prompt (milliseconds) unless a policy update is
    /// being applied at that moment, which it lets finish. Call it from any thread but the client's own loop
    /// (from there it stops the client but finishes the thread shutdown in the background).
    public func shutdown() {
        guard core.stop() else { return }
        task.cancel()
        let core = self.core
        let group = self.group
        let wait = core.configuration.shutdownWait
        let finish: @Sendable () -> Void = {
            if !core.waitUntilFinished(timeout: wait) {
                Diagnostics.error("NPDS: Client \(core.nodeID) on \(core.path) did not stop within \(wait)")
            }
            do {
                try group.syncShutdownGracefully()
            } catch {
                Diagnostics.error("NPDS: Client \(core.nodeID) on \(core.path): event loop shutdown failed: \(error)")
            }
        }
        if eventLoop.inEventLoop {
            // Blocking here would wait on ourselves.
            DispatchQueue.global().async(execute: finish)
        } else {
            finish()
        }
        Diagnostics.debug("NPDS: Client \(nodeID) closed on \(path)")
    }

    /// A snapshot of the client's progress, for tests and diagnostics.
    var status: NPDSClientStatus { core.status }
}

/// Timings and limits of the client; `.default` is what the library uses, tests shrink the timings.
struct NPDSClientConfiguration: Sendable {
    var transport = NPDSTransportConfiguration.default
    var initialBackoffMilliseconds: Int64 = 100
    var maximumBackoffMilliseconds: Int64 = 10_000
    /// How long `init` (so OpenModule, on Envoy's main thread) waits for the first attempt. Normally it ends
    /// in milliseconds; an agent that accepts the connection but never speaks HTTP/2 would hold it until the
    /// transport's handshake timeout, so `init` stops waiting first and the attempt goes on in the background
    /// (Go's non-blocking dial does not wait at all).
    var firstAttemptWait: Duration = .seconds(1)
    /// How long `shutdown()` waits for the client's task to finish before shutting the loop down anyway.
    var shutdownWait: Duration = .seconds(2)

    static let `default` = NPDSClientConfiguration()
}

/// What the client has done so far.
struct NPDSClientStatus: Sendable, Equatable {
    /// Connection attempts started.
    var attempts = 0
    /// Streams established (initial request sent), over the client's life.
    var connectedStreams = 0
    /// A stream is established right now.
    var isConnected = false
    /// Response messages handed to the session.
    var responses = 0
    /// The session's verdict on the last response.
    var lastOutcome: NPDSUpdateOutcome?
    /// How the last finished attempt ended.
    var lastAttemptEnd: NPDSAttemptEnd?
    /// Attempts that ended in `.streamFailed` (an established stream lost), over the client's life.
    var streamFailures = 0
    /// Error lines the client has written (each distinct cause once per outage).
    var errorsLogged = 0
    var isStopped = false
}

/// The client's state shared between its task (on the event loop) and the threads calling `init`/`shutdown`.
final class NPDSClientCore: NPDSAttemptHost {
    let path: String
    let nodeID: String
    let eventLoop: any EventLoop
    let configuration: NPDSClientConfiguration

    private struct State {
        var stopped = false
        var connection: (any Channel)?
        var pendingDelay: Scheduled<Void>?
        var status = NPDSClientStatus()
        var firstAttemptReported = false
        /// The server accepted the current attempt's call (response headers arrived).
        var callAccepted = false
        /// The error lines written since the last healthy stream, so that each cause is logged once per outage
        /// rather than once per retry (a few causes may alternate, e.g. "refused" and "reset").
        var loggedErrors: [String] = []
    }

    private static let maximumRememberedErrors = 8

    private let state = Mutex(State())
    /// Closed (true) by `stop()`. Held while the session runs, so that `stop()` returns only after an update in
    /// progress and no update starts after it.
    private let sessionGate = Mutex(false)
    private let firstAttempt = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)

    init(path: String, nodeID: String, eventLoop: any EventLoop, configuration: NPDSClientConfiguration) {
        self.path = path
        self.nodeID = nodeID
        self.eventLoop = eventLoop
        self.configuration = configuration
    }

    var status: NPDSClientStatus { state.withLock { $0.status } }

    private var isStopped: Bool { state.withLock { $0.stopped } }

    // MARK: The task

    func run<Session: NPDSSession>(makeSession: @Sendable () -> Session) async {
        let transport = NPDSTransport(path: path, eventLoop: eventLoop, configuration: configuration.transport)
        var backoff = NPDSBackoff(initialMilliseconds: configuration.initialBackoffMilliseconds,
                                  maximumMilliseconds: configuration.maximumBackoffMilliseconds)
        while !isStopped {
            state.withLock {
                $0.status.attempts += 1
                $0.callAccepted = false
            }
            let end = await transport.run(makeSession: makeSession, host: self)
            let accepted = state.withLock { state in
                state.connection = nil
                state.status.isConnected = false
                // An attempt cut short by shutdown() ended because of it, whatever the transport saw.
                state.status.lastAttemptEnd = state.stopped ? .stopped : end
                if case .streamFailed = state.status.lastAttemptEnd { state.status.streamFailures += 1 }
                return state.callAccepted
            }
            reportFirstAttempt()
            if end == .stopped || isStopped { break }
            log(end)
            if accepted { backoff.reset() }
            let delay = backoff.nextDelayMilliseconds()
            Diagnostics.debug("NPDS: Client \(nodeID) reconnecting to \(path) in \(delay) ms")
            await pause(milliseconds: delay)
        }
        reportFirstAttempt()
        finished.signal()
    }

    /// Waits out the backoff on the event loop; `stop()` cuts it short.
    private func pause(milliseconds: Int64) async {
        let scheduled = eventLoop.scheduleTask(in: .milliseconds(milliseconds)) {}
        let armed = state.withLock { state in
            guard !state.stopped else { return false }
            state.pendingDelay = scheduled
            return true
        }
        guard armed else {
            scheduled.cancel()
            return
        }
        _ = try? await scheduled.futureResult.get()
        state.withLock { $0.pendingDelay = nil }
    }

    private func reportFirstAttempt() {
        let first = state.withLock { state in
            defer { state.firstAttemptReported = true }
            return !state.firstAttemptReported
        }
        if first { firstAttempt.signal() }
    }

    private func log(_ end: NPDSAttemptEnd) {
        let line: String
        switch end {
        case .connectFailed(let cause):
            line = "NPDS: Client \(nodeID) cannot connect to \(path): \(cause) (retrying with backoff)"
        case .handshakeFailed(let cause):
            line = "NPDS: Client \(nodeID) cannot open a stream on \(path): \(cause) (retrying with backoff)"
        case .streamFailed(let cause):
            line = "NPDS: Client \(nodeID) stream on \(path) failed: \(cause) (reconnecting)"
        case .serverClosed:
            Diagnostics.debug("NPDS: Client \(nodeID) stream on \(path) closed by server (reconnecting)")
            return
        case .stopped:
            return
        }
        let repeated = state.withLock { state in
            if state.loggedErrors.contains(line) { return true }
            if state.loggedErrors.count >= Self.maximumRememberedErrors { state.loggedErrors.removeFirst() }
            state.loggedErrors.append(line)
            state.status.errorsLogged += 1
            return false
        }
        if repeated {
            Diagnostics.debug(line)
        } else {
            Diagnostics.error(line)
        }
    }

    // MARK: NPDSAttemptHost

    func attach(connection: any Channel) -> Bool {
        state.withLock { state in
            guard !state.stopped else { return false }
            state.connection = connection
            return true
        }
    }

    func streamEstablished() {
        state.withLock {
            $0.status.connectedStreams += 1
            $0.status.isConnected = true
        }
        Diagnostics.debug("NPDS: Client \(nodeID) connected on \(path)")
        reportFirstAttempt()
    }

    func callAccepted() {
        state.withLock {
            $0.callAccepted = true
            // A new outage gets its own error lines.
            $0.loggedErrors.removeAll()
        }
    }

    func ifRunning<Result>(_ body: () -> Result) -> Result? {
        sessionGate.withLock { closed in
            closed || isStopped ? nil : body()
        }
    }

    func recordOutcome(_ outcome: NPDSUpdateOutcome) {
        state.withLock {
            $0.status.responses += 1
            $0.status.lastOutcome = outcome
        }
    }

    // MARK: Callers' threads

    /// Blocks until the first attempt has established its stream or failed (or `timeout`); false on timeout.
    func waitForFirstAttempt(timeout: Duration) -> Bool {
        firstAttempt.wait(timeout: .now() + Self.dispatchInterval(timeout)) == .success
    }

    /// Marks the client stopped, closes the gate to the session (waiting for an update in progress), closes the
    /// connection and cuts a backoff pause short. True for the first call only.
    func stop() -> Bool {
        // On the client's own loop (a session callback or NIO code calling shutdown) no other session call can
        // be running, and the gate may be held by our own caller: it is not recursive, so leave it alone there.
        if !eventLoop.inEventLoop {
            sessionGate.withLock { $0 = true }
        }
        let (first, connection, pendingDelay) = state.withLock { state in
            guard !state.stopped else { return (false, nil as (any Channel)?, nil as Scheduled<Void>?) }
            state.stopped = true
            state.status.isStopped = true
            return (true, state.connection, state.pendingDelay)
        }
        connection?.close(promise: nil)
        pendingDelay?.cancel()
        return first
    }

    /// Blocks until the task has ended (or `timeout`); false on timeout.
    func waitUntilFinished(timeout: Duration) -> Bool {
        guard finished.wait(timeout: .now() + Self.dispatchInterval(timeout)) == .success else { return false }
        finished.signal()  // let another waiter through too
        return true
    }

    private static func dispatchInterval(_ duration: Duration) -> DispatchTimeInterval {
        let (seconds, attoseconds) = duration.components
        let wholeSeconds = Int(clamping: max(0, min(seconds, 1_000_000)))  // no overflow below
        return .nanoseconds(wholeSeconds * 1_000_000_000 + Int(clamping: max(0, attoseconds) / 1_000_000_000))
    }
}
