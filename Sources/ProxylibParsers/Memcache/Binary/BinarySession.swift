import ProxylibCore

/// The binary protocol of one connection: each request checked by opcode and key; replies matched to their
/// requests by opcode and opaque, quiet requests that stayed silent skipped, and each denial injected where
/// its reply belongs.
final class BinarySession {
    private let connection: Connection
    private var intents = IntentQueue<BinaryIntent>()
    private var quietOutstanding = 0
    private var pendingDenial: InjectedReply?
    private var pendingDrop: Int?
    private var keyScratch: [UInt8] = []

    init(connection: Connection) {
        self.connection = connection
        keyScratch.reserveCapacity(256)
    }

    // MARK: Requests

    func onRequest(_ input: InputView) -> ParserOp {
        if let drop = pendingDrop {
            pendingDrop = nil
            return .drop(drop)
        }
        guard let header = BinaryHeader(input) else {
            return .more(BinaryHeader.size - input.count)
        }
        guard header.magic == BinaryHeader.requestMagic else { return .error(.invalidFrameType) }
        guard header.isWellFormed else { return .error(.invalidFrameLength) }
        guard input.count >= header.prefixLength else { return .more(header.prefixLength - input.count) }

        let allowed = input.withContiguousBytes(from: BinaryHeader.size + header.extrasLength, count: header.keyLength,
                                                scratch: &keyScratch) { key in
            let allowed = connection.matches(MemcacheRequest.binary(opcode: header.opcode, key: key))
            connection.log(allowed ? .request : .denied, Self.logRecord(opcode: header.opcode, key: key))
            return allowed
        }
        guard let allowed else { return .error(.invalidFrameLength) }
        let quiet = MemcacheOpcode.isQuiet(header.opcode)
        if allowed {
            enqueue(BinaryIntent(opcode: header.opcode, opaque: header.opaque, quiet: quiet, verdict: .allowed))
            return .pass(header.frameLength)
        }
        let denial = BinaryHeader.denial(opcode: header.opcode, opaque: header.opaque)
        if intents.isEmpty && pendingDenial == nil {
            // Nothing outstanding: the denial goes out now (the rest of it with the next reply-side call).
            var direct = denial
            _ = direct.write(to: connection)
            if !direct.isComplete { pendingDenial = direct }
            return .drop(header.frameLength)
        }
        if quietOutstanding > 0 && connection.injectSpace(reply: false) >= BinaryHeader.size {
            var probe = BinaryHeader.noopProbe(opaque: header.opaque)
            withUnsafeBytes(of: &probe) { _ = connection.inject(reply: false, UnsafeRawBufferPointer(rebasing: $0[..<BinaryHeader.size])) }
            enqueue(BinaryIntent(opcode: header.opcode, opaque: header.opaque, quiet: false, verdict: .probe))
            pendingDrop = header.frameLength
            return .inject(BinaryHeader.size)
        }
        enqueue(BinaryIntent(opcode: header.opcode, opaque: header.opaque, quiet: false, verdict: .denied))
        return .drop(header.frameLength)
    }

    private static func logRecord(opcode: UInt8, key: UnsafeRawBufferPointer) -> L7LogRecord {
        .generic(proto: "binarymemcached",
                 fields: L7Fields(("opcode", MemcacheLogText.decimal(opcode)), ("key", LogText(decoding: key))))
    }

    private func enqueue(_ intent: BinaryIntent) {
        if intent.quiet { quietOutstanding += 1 }
        intents.append(intent)
    }

    private func dequeue() {
        if let intent = intents.removeFirst(), intent.quiet { quietOutstanding -= 1 }
    }

    // MARK: Replies

    func onReply(_ input: InputView) -> ParserOp {
        if let op = injectDenials() { return op }
        guard !input.isEmpty else { return .nop }
        guard let header = BinaryHeader(input) else { return .more(BinaryHeader.size - input.count) }
        guard header.magic == BinaryHeader.responseMagic else { return .error(.invalidFrameType) }
        guard header.extrasLength + header.keyLength <= header.bodyLength,
              header.bodyLength <= BinaryHeader.maxBodyLength
        else { return .error(.invalidFrameLength) }

        // Quiet requests ahead of the one this response answers stayed silent.
        while let front = intents.first, front.verdict != .denied, front.quiet,
              !(front.opcode == header.opcode && front.opaque == header.opaque) {
            dequeue()
        }
        if let op = injectDenials() { return op }
        guard let front = intents.first else {
            Diagnostics.debug("memcache: connection \(connection.id): binary response with no request outstanding")
            return .error(.invalidFrameType)
        }
        if front.verdict == .probe {
            intents.updateFirst { $0.verdict = .denied }
            return .drop(header.frameLength)
        }
        guard input.count >= header.prefixLength else { return .more(header.prefixLength - input.count) }
        // STAT answers with one response per statistic and an empty one at the end.
        let moreToCome = header.opcode == MemcacheOpcode.stat && header.status == 0 && header.keyLength > 0
        if !moreToCome { dequeue() }
        if let record = connectionLogsResponses(input, header) {
            connection.log(.response, record)
        }
        return .pass(header.frameLength)
    }

    private func connectionLogsResponses(_ input: InputView, _ header: BinaryHeader) -> L7LogRecord? {
        input.withContiguousBytes(from: BinaryHeader.size + header.extrasLength, count: header.keyLength,
                                  scratch: &keyScratch) { key in
            Self.logRecord(opcode: header.opcode, key: key)
        }
    }

    /// Writes the denials due now into the client's inject buffer.
    private func injectDenials() -> ParserOp? {
        var written = 0
        while true {
            if pendingDenial == nil {
                guard let front = intents.first, front.verdict == .denied else { break }
                dequeue()
                pendingDenial = BinaryHeader.denial(opcode: front.opcode, opaque: front.opaque)
            }
            guard var denial = pendingDenial else { break }
            written += denial.write(to: connection)
            if !denial.isComplete {
                pendingDenial = denial
                break
            }
            pendingDenial = nil
        }
        if written > 0 { return .inject(written) }
        return pendingDenial == nil ? nil : .error(.invalidFrameLength)
    }
}

/// A binary request whose response is due.
struct BinaryIntent {
    let opcode: UInt8
    let opaque: UInt32
    let quiet: Bool
    var verdict: IntentVerdict
}
