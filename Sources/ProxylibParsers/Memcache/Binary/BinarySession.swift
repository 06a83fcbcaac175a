import ProxylibCore

/// The binary protocol of one connection: each request checked by opcode and key; replies matched to their
/// requests by opcode and opaque, quiet requests that stayed silent skipped, and each denial injected where
/// its reply belongs.
final class BinarySession {
    private let connection: Connection
    private var replies = ReplyOrder<BinaryIntent>()
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
        if allowed {
            replies.append(BinaryIntent(opcode: header.opcode, opaque: header.opaque,
                                        quiet: MemcacheOpcode.isQuiet(header.opcode), verdict: .allowed))
            return .pass(header.frameLength)
        }
        var probe = BinaryHeader.noopProbe(opaque: header.opaque)
        let probed = withUnsafeBytes(of: &probe) { bytes in
            replies.deny(BinaryIntent(opcode: header.opcode, opaque: header.opaque, quiet: false, verdict: .denied),
                         denial: BinaryHeader.denial(opcode: header.opcode, opaque: header.opaque),
                         probe: UnsafeRawBufferPointer(rebasing: bytes[..<BinaryHeader.size]), connection: connection)
        }
        if probed {
            pendingDrop = header.frameLength
            return .inject(BinaryHeader.size)
        }
        return .drop(header.frameLength)
    }

    private static func logRecord(opcode: UInt8, key: UnsafeRawBufferPointer) -> L7LogRecord {
        .generic(proto: "binarymemcached",
                 fields: L7Fields(("opcode", MemcacheLogText.decimal(opcode)), ("key", LogText(decoding: key))))
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
        while let front = replies.first, front.verdict != .denied, front.quiet,
              !(front.opcode == header.opcode && front.opaque == header.opaque) {
            replies.removeFirst()
        }
        if let op = injectDenials() { return op }
        guard let front = replies.first else {
            Diagnostics.debug("memcache: connection \(connection.id): binary response with no request outstanding")
            return .error(.invalidFrameType)
        }
        if front.verdict == .probe {
            replies.probeAnswered()
            return .drop(header.frameLength)
        }
        guard input.count >= header.prefixLength else { return .more(header.prefixLength - input.count) }
        // STAT answers with one response per statistic and an empty one at the end.
        let moreToCome = header.opcode == MemcacheOpcode.stat && header.status == 0 && header.keyLength > 0
        if !moreToCome { replies.removeFirst() }
        _ = input.withContiguousBytes(from: BinaryHeader.size + header.extrasLength, count: header.keyLength,
                                      scratch: &keyScratch) { key in
            // The record is built only when the instance logs (an autoclosure).
            connection.log(.response, Self.logRecord(opcode: header.opcode, key: key))
        }
        return .pass(header.frameLength)
    }

    private func injectDenials() -> ParserOp? {
        replies.injectDueDenials(into: connection) { BinaryHeader.denial(opcode: $0.opcode, opaque: $0.opaque) }
    }
}

/// A binary request whose response is due.
struct BinaryIntent: OrderedIntent {
    let opcode: UInt8
    let opaque: UInt32
    let quiet: Bool
    var verdict: IntentVerdict
}
