import ProxylibCore

/// Whether a queued request was allowed, denied, or denied and replaced by a no-op sent to the server.
enum IntentVerdict: UInt8 {
    case allowed
    /// Its denial is injected once every earlier reply has passed.
    case denied
    /// Denied behind quiet requests, whose replies may never come: a no-op went to the server in its place,
    /// and the no-op's reply is dropped and replaced by the denial, which is then in order.
    case probe
}

/// A request whose reply is due, as `ReplyOrder` sees it.
protocol OrderedIntent {
    var verdict: IntentVerdict { get set }
    /// Whether the server may stay silent (binary quiet opcodes, meta `q`).
    var quiet: Bool { get }
}

/// The replies due on one connection, oldest first, and the denials written into the client's inject buffer
/// in their place — at the position each denied request's reply would have had. Shared by memcache's text and
/// binary sessions and by redis, which frame the replies.
struct ReplyOrder<Intent: OrderedIntent> {
    private var intents = IntentQueue<Intent>()
    /// Quiet requests among `intents`.
    private var quietOutstanding = 0
    /// A denial partly written (the inject buffer was full).
    private var pendingDenial: InjectedReply?

    var first: Intent? { intents.first }

    mutating func append(_ intent: Intent) {
        if intent.quiet { quietOutstanding += 1 }
        intents.append(intent)
    }

    mutating func removeFirst() {
        if let intent = intents.removeFirst(), intent.quiet { quietOutstanding -= 1 }
    }

    /// Changes the oldest request (a reply of several parts counting down).
    mutating func updateFirst(_ body: (inout Intent) -> Void) {
        intents.updateFirst(body)
    }

    /// Sends `probe` to the server in place of a request the client must see fail (redis: DISCARD for an EXEC
    /// whose transaction lost a denied command): the probe's reply will be swapped for the intent's denial.
    /// Returns false, sending nothing, when the server-bound inject buffer has no room for the probe.
    mutating func substitute(_ intent: Intent, probe: UnsafeRawBufferPointer, connection: Connection) -> Bool {
        guard connection.injectSpace(reply: false) >= probe.count else { return false }
        connection.inject(reply: false, probe)
        var queued = intent
        queued.verdict = .probe
        append(queued)
        return true
    }

    /// The oldest request's reply was the no-op sent in its place: its denial is due now.
    mutating func probeAnswered() {
        intents.updateFirst { $0.verdict = .denied }
    }

    /// Places the denial of a request whose client expects a reply: written at once when no reply is due (what
    /// does not fit follows with the next reply-side call, which the datapath makes to flush the buffer);
    /// queued behind the replies due; or, when quiet requests are among them (their replies may never come),
    /// `probe` — a no-op — goes to the server in the request's place and its reply will be swapped for the
    /// denial. Returns whether the probe was injected (the caller answers INJECT, then DROPs the request).
    mutating func deny(_ intent: Intent, denial: InjectedReply, probe: UnsafeRawBufferPointer,
                       connection: Connection) -> Bool {
        if intents.isEmpty && pendingDenial == nil {
            var now = denial
            _ = now.write(to: connection)
            if !now.isComplete { pendingDenial = now }
            return false
        }
        var queued = intent
        if quietOutstanding > 0 && connection.injectSpace(reply: false) >= probe.count {
            connection.inject(reply: false, probe)
            queued.verdict = .probe
            append(queued)
            return true
        }
        queued.verdict = .denied
        append(queued)
        return false
    }

    /// Writes the denials due now (the denied requests at the front) into the client's inject buffer: INJECT
    /// with the bytes written, nil when none is due, ERROR when one is due but the buffer takes nothing.
    mutating func injectDueDenials(into connection: Connection, denial: (Intent) -> InjectedReply) -> ParserOp? {
        var written = 0
        while true {
            if pendingDenial == nil {
                guard let front = intents.first, front.verdict == .denied else { break }
                removeFirst()
                pendingDenial = denial(front)
            }
            guard var current = pendingDenial else { break }
            written += current.write(to: connection)
            if !current.isComplete {
                pendingDenial = current
                break
            }
            pendingDenial = nil
        }
        if written > 0 { return .inject(written) }
        // A denial that cannot be written at all (no inject buffer): nothing else may pass before it.
        return pendingDenial == nil ? nil : .error(.invalidFrameLength)
    }
}
