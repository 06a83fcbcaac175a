import ProxylibCore

/// The text and meta protocol of one connection: requests checked against the policy one command line (and
/// data block) at a time; replies framed per the command they answer, so that a denial is injected exactly
/// where its reply would have been among pipelined replies.
final class TextSession {
    private let connection: Connection
    private var replies = ReplyOrder<TextIntent>()
    /// The DROP of a denied request whose no-op replacement was just injected.
    private var pendingDrop: Int?
    /// Where the reply being passed stands (replies are passed one complete element at a time).
    private var replyProgress = TextReplyProgress.idle
    /// After `watch`, the server streams log lines: each passes as it comes (as upstream).
    private var watching = false
    private var lineScratch: [UInt8] = []
    private var keyScratch: [UInt8] = []
    private var logScratch: [UInt8] = []

    /// A command line may be this long: large multi-key gets included.
    static let maxLineLength = 1 << 20
    static let denial: StaticString = "CLIENT_ERROR access denied\r\n"
    static let noopProbe: StaticString = "mn\r\n"

    init(connection: Connection) {
        self.connection = connection
        lineScratch.reserveCapacity(256)
        keyScratch.reserveCapacity(256)
        logScratch.reserveCapacity(256)
    }

    // MARK: Requests

    func onRequest(_ input: InputView) -> ParserOp {
        if let drop = pendingDrop {
            pendingDrop = nil
            return .drop(drop)
        }
        guard let newline = input.firstIndex(of: UInt8(ascii: "\n")) else {
            if input.count > Self.maxLineLength { return .error(.invalidFrameLength) }
            return .more(input[input.count - 1] == UInt8(ascii: "\r") ? 1 : 2)
        }
        guard newline <= Self.maxLineLength else { return .error(.invalidFrameLength) }
        let op = input.withContiguousBytes(from: 0, count: newline, scratch: &lineScratch) { line in
            onRequestLine(Self.droppingCR(line), lineEnd: newline + 1, input: input)
        }
        return op ?? .error(.invalidFrameLength)
    }

    private func onRequestLine(_ line: UnsafeRawBufferPointer, lineEnd: Int, input: InputView) -> ParserOp {
        guard let request = TextRequestLine.parse(line) else {
            Diagnostics.debug("memcache: connection \(connection.id): malformed or unknown text command")
            return .error(.invalidFrameType)
        }
        var frameLength = lineEnd
        if let dataLength = request.dataLength {
            frameLength += dataLength + 2
            // A data block must end in CRLF; memcached would reject it and read on from there, so a mismatch
            // would let the server see commands the policy did not.
            if frameLength <= input.count && !input.matches("\r\n", at: frameLength - 2) {
                return .error(.invalidFrameLength)
            }
        }
        let decision: Bool?
        if request.keyIsBase64 {
            decision = decideBase64(request)
        } else {
            decision = decide(request, keys: request.keyIsList ? .tokens(request.keyBytes) : .single(request.keyBytes))
        }
        guard let allowed = decision else { return .error(.invalidFrameType) }

        if allowed {
            if request.command == .watch { watching = true }
            if !request.noreply && request.shape != .none {
                replies.append(TextIntent(request, verdict: .allowed))
            }
            return .pass(frameLength)
        }
        if request.noreply {
            // The client reads no reply, so none is injected (as upstream).
            return .drop(frameLength)
        }
        let probe = UnsafeRawBufferPointer(start: Self.noopProbe.utf8Start, count: Self.noopProbe.utf8CodeUnitCount)
        if replies.deny(TextIntent(request, verdict: .denied), denial: InjectedReply(Self.denial), probe: probe,
                        connection: connection) {
            pendingDrop = frameLength
            return .inject(probe.count)
        }
        return .drop(frameLength)
    }

    /// Checks a `b` (base64) meta key: decoded, then matched. Nil when the key is not valid base64.
    private func decideBase64(_ request: TextRequestLine) -> Bool? {
        guard Base64Key.decode(request.keyBytes, into: &keyScratch), !keyScratch.isEmpty,
              keyScratch.count <= TextRequestLine.maxKeyLength
        else { return nil }
        return keyScratch.withUnsafeBytes { decide(request, keys: .single($0)) }
    }

    /// The policy's verdict on a request, logged as Request or Denied.
    private func decide(_ request: TextRequestLine, keys: MemcacheKeys) -> Bool {
        let allowed = connection.matches(MemcacheRequest.text(request.command, equivalent: request.equivalent, keys: keys))
        connection.log(allowed ? .request : .denied,
                       .generic(proto: "textmemcached",
                                fields: L7Fields(("command", LogText(decoding: request.command.nameBytes)),
                                                 ("keys", MemcacheLogText.joined(keys, scratch: &logScratch)))))
        return allowed
    }

    // MARK: Replies

    func onReply(_ input: InputView) -> ParserOp {
        if watching {
            guard !input.isEmpty else { return .nop }
            guard let newline = input.firstIndex(of: UInt8(ascii: "\n")) else { return moreForLine(input) }
            return .pass(newline + 1)
        }
        if case .idle = replyProgress, let op = injectDenials() { return op }
        guard !input.isEmpty else { return .nop }

        var consumed = 0
        while true {
            guard let newline = input.firstIndex(of: UInt8(ascii: "\n"), from: consumed) else {
                return consumed > 0 ? .pass(consumed) : moreForLine(input)
            }
            let step = input.withContiguousBytes(from: consumed, count: newline - consumed, scratch: &lineScratch) { line in
                replyStep(Self.droppingCR(line))
            } ?? .malformed
            let lineEnd = newline + 1
            switch step {
            case .malformed:
                Diagnostics.debug("memcache: connection \(connection.id): unexpected text reply")
                return .error(.invalidFrameType)
            case .silentQuietRequest:
                // Only at a reply boundary (nothing consumed yet in this call).
                replies.removeFirst()
                if let op = injectDenials() { return op }
                continue
            case .dropProbeReply:
                replies.probeAnswered()
                return .drop(lineEnd)
            case .continues:
                consumed = lineEnd
            case .complete:
                completeReply()
                return .pass(lineEnd)
            case .dataBlock(let length, let completesReply):
                let blockEnd = lineEnd + length + 2
                if completesReply {
                    completeReply()
                    return .pass(blockEnd)
                }
                replyProgress = .values
                guard blockEnd <= input.count else { return .pass(blockEnd) }
                consumed = blockEnd
            }
        }
    }

    /// A line without the CR of its CRLF (memcached accepts LF alone).
    private static func droppingCR(_ line: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        guard let last = line.last, last == UInt8(ascii: "\r") else { return line }
        return UnsafeRawBufferPointer(rebasing: line[..<(line.count - 1)])
    }

    private func moreForLine(_ input: InputView) -> ParserOp {
        if input.count > Self.maxLineLength { return .error(.invalidFrameLength) }
        return .more(!input.isEmpty && input[input.count - 1] == UInt8(ascii: "\r") ? 1 : 2)
    }

    private func completeReply() {
        if let intent = replies.first {
            connection.log(.response, .generic(proto: "textmemcached",
                                               fields: L7Fields(("command", LogText(decoding: intent.command.nameBytes)))))
        }
        replies.removeFirst()
        replyProgress = .idle
    }

    private func injectDenials() -> ParserOp? {
        replies.injectDueDenials(into: connection) { _ in InjectedReply(Self.denial) }
    }

    private func replyStep(_ line: UnsafeRawBufferPointer) -> TextReplyStep {
        var tokens = TextTokens(line)
        let code = tokens.next() ?? UnsafeRawBufferPointer(start: nil, count: 0)
        let isError = TextReplyCodes.isError(code)
        switch replyProgress {
        case .values:
            if isError || TextNumbers.equals(code, "END") { return .complete }
            return valueBlock(code, &tokens, completesReply: false)
        case .lines(let shape):
            return endsLines(shape, code, isError: isError) ? .complete : .continues
        case .idle:
            break
        }
        guard let front = replies.first else { return .malformed }
        if front.quiet && !front.mayAnswer(code: code, line: line, isError: isError) {
            return .silentQuietRequest
        }
        if front.verdict == .probe { return .dropProbeReply }
        if isError { return .complete }
        switch front.shape {
        case .line, .none:
            return .complete
        case .values:
            if TextNumbers.equals(code, "END") { return .complete }
            return valueBlock(code, &tokens, completesReply: false)
        case .metaValue:
            if TextNumbers.equals(code, "VA") {
                guard let size = tokens.next(), let length = TextNumbers.decimal(size, limit: TextRequestLine.maxDataLength)
                else { return .malformed }
                return .dataBlock(length: length, completesReply: true)
            }
            return .complete
        case .statLines, .dumpLines, .metaDumpLines:
            if endsLines(front.shape, code, isError: false) || TextReplyCodes.isSingleLineAnswer(code, to: front.shape) {
                return .complete
            }
            replyProgress = .lines(front.shape)
            return .continues
        }
    }

    /// `VALUE <key> <flags> <bytes> [<cas>]`: a value of a retrieval reply.
    private func valueBlock(_ code: UnsafeRawBufferPointer, _ tokens: inout TextTokens, completesReply: Bool) -> TextReplyStep {
        guard TextNumbers.equals(code, "VALUE"), tokens.next() != nil, tokens.next() != nil,
              let size = tokens.next(), let length = TextNumbers.decimal(size, limit: TextRequestLine.maxDataLength)
        else { return .malformed }
        return .dataBlock(length: length, completesReply: completesReply)
    }

    private func endsLines(_ shape: TextReplyShape, _ code: UnsafeRawBufferPointer, isError: Bool) -> Bool {
        if isError { return true }
        switch shape {
        case .metaDumpLines: return TextNumbers.equals(code, "EN")
        default: return TextNumbers.equals(code, "END")
        }
    }
}
