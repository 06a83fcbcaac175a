#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import ProxylibCore

/// The loop of an access-log client's thread: takes the head of the queue, (re)connects when needed and
/// sends. See `AccessLogClient` for the policy.
///
/// `@unchecked Sendable`: handed once to the thread it runs on; `connectAtCreation()` runs before the thread
/// starts, and everything else on that thread only.
final class AccessLogSender: @unchecked Sendable {
    private let path: String
    private let address: UnixSocketAddress
    private let queue: AccessLogQueue
    private let configuration: AccessLogClient.Configuration

    private var connection: SeqPacketSocket?
    /// When `connection` was made (monotonic).
    private var connectedAt: Int64 = 0
    /// A connection that lasted this long was working: when it is lost, the backoff starts over and the
    /// first redial is immediate. Any shorter-lived connection counts as a failed dial, so a collector that
    /// accepts and hangs up is not redialled in a loop.
    private static let stableConnectionTime: Int64 = 1_000_000_000
    /// Since the connection was lost or the first dial failed, no connection has delivered after lasting
    /// `stableConnectionTime`. Reported once (`Diagnostics.error`) when it starts.
    private var inOutage = false
    /// Monotonic time before which no dial is attempted.
    private var nextDialTime: Int64 = 0
    private var redialDelay: Int64
    /// Connections the head entry has failed to send on.
    private var headFailures = 0

    init(path: String, queue: AccessLogQueue, configuration: AccessLogClient.Configuration) {
        self.path = path
        address = UnixSocketAddress(path: path)
        self.queue = queue
        self.configuration = configuration
        redialDelay = configuration.minimumRedialDelay.nanoseconds
    }

    /// The dial at creation, made on the creating thread.
    func connectAtCreation() -> SocketError? {
        switch SeqPacketSocket.connect(to: address) {
        case .success(let socket):
            connection = consume socket
            connectedAt = Self.now()
            return nil
        case .failure(let error):
            beginOutage()
            return error
        }
    }

    /// After a failed dial at creation: redial after the backoff.
    private func beginOutage() {
        inOutage = true
        nextDialTime = Self.now() + redialDelay
        advanceBackoff()
    }

    func run() {
        while true {
            switch queue.nextWork() {
            case .closed:
                flush()
                return
            case .idle:
                // A producer signals when it queues into an empty queue; close() signals too.
                queue.wakeup.wait(milliseconds: 1000)
            case let .send(first, count):
                guard connected() else { continue }
                send(first: first, count: count)
            }
        }
    }

    // MARK: Connecting

    /// Whether there is a connection; dials when the backoff allows, otherwise waits for it (or for close).
    private func connected() -> Bool {
        if connection != nil { return true }
        let now = Self.now()
        if now < nextDialTime {
            let milliseconds = (nextDialTime - now + 999_999) / 1_000_000
            queue.wakeup.wait(milliseconds: Int32(clamping: milliseconds))
            return false
        }
        switch SeqPacketSocket.connect(to: address) {
        case .success(let socket):
            connection = consume socket
            connectedAt = now
            queue.countReconnect()
            Diagnostics.debug("access log: reconnected to \(path)")
            return true
        case .failure(let error):
            if !inOutage {
                inOutage = true
                Diagnostics.error("access log: cannot connect to \(path) (\(error)); entries are queued (up to \(queue.capacity)) and the connection is retried")
            } else {
                Diagnostics.debug("access log: redial of \(path) failed (\(error)); next attempt in \(redialDelay / 1_000_000) ms")
            }
            nextDialTime = now + redialDelay
            advanceBackoff()
            return false
        }
    }

    private func advanceBackoff() {
        redialDelay = min(redialDelay * 2, configuration.maximumRedialDelay.nanoseconds)
    }

    // MARK: Sending

    /// Sends a batch of committed entries in order, until one cannot be sent now; then frees the entries
    /// done with, in one call.
    private func send(first: Int, count: Int) {
        var done = 0
        var delivered = 0
        var undelivered = 0
        defer { queue.finish(entries: done, delivered: delivered, undelivered: undelivered) }
        var slot = first
        for _ in 0..<count {
            defer { slot = queue.slot(after: slot) }
            guard let packet = queue.packet(slot: slot) else {
                done += 1  // void: nothing to send
                continue
            }
            guard let outcome = connection?.send(packet, waitingOn: queue.wakeup) else { return }
            switch outcome {
            case .sent:
                headFailures = 0
                done += 1
                delivered += 1
                if inOutage && Self.now() - connectedAt >= Self.stableConnectionTime {
                    inOutage = false
                    Diagnostics.debug("access log: delivering to \(path) again; \(queue.statistics.undelivered) undelivered so far")
                }
            case .wouldBlock, .interrupted:
                // Woken while waiting for room: go round to see whether the queue was closed.
                return
            case .rejected(let error):
                headFailures = 0
                done += 1
                undelivered += 1
                Diagnostics.debug("access log: \(path) refused an entry of \(packet.count) bytes (\(error)); dropped")
            case .failed(let error):
                connectionFailed(error)
                headFailures += 1
                if headFailures >= configuration.maxSendAttempts {
                    headFailures = 0
                    done += 1
                    undelivered += 1
                    Diagnostics.debug("access log: an entry failed on \(configuration.maxSendAttempts) connections and was dropped")
                }
                return
            }
        }
    }

    /// A send failed: the connection is closed; the redial waits for the backoff unless it had lasted.
    private func connectionFailed(_ error: SocketError) {
        connection = nil
        let now = Self.now()
        let wasStable = now - connectedAt >= Self.stableConnectionTime
        if wasStable || !inOutage {
            inOutage = true
            Diagnostics.error("access log: connection to \(path) lost (\(error)); reconnecting, entries are queued (up to \(queue.capacity))")
        }
        if wasStable {
            // Redial at once for the entry that failed.
            redialDelay = configuration.minimumRedialDelay.nanoseconds
            nextDialTime = 0
        } else {
            nextDialTime = now + redialDelay
            advanceBackoff()
        }
    }

    /// At shutdown: sends what the socket takes without waiting, then drops the rest (undelivered), entries
    /// still being encoded included.
    private func flush() {
        if connection != nil {
            flushing: while let (first, count) = queue.readyEntries() {
                var done = 0
                var delivered = 0
                var undelivered = 0
                defer { queue.finish(entries: done, delivered: delivered, undelivered: undelivered) }
                var slot = first
                for _ in 0..<count {
                    defer { slot = queue.slot(after: slot) }
                    guard let packet = queue.packet(slot: slot) else {
                        done += 1
                        continue
                    }
                    guard let outcome = connection?.send(packet, waitingOn: nil) else { break flushing }
                    if case .sent = outcome {
                        done += 1
                        delivered += 1
                    } else if case .rejected = outcome {
                        done += 1
                        undelivered += 1
                    } else {
                        break flushing
                    }
                }
            }
        }
        connection = nil
        let discarded = queue.discardAll()
        if discarded > 0 {
            Diagnostics.debug("access log: \(discarded) entries still queued for \(path) at shutdown were dropped")
        }
    }

    private static func now() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
