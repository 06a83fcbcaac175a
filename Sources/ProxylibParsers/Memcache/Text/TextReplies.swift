// The reply side of the text and meta protocol: what is due, how a reply line advances it.

/// Where a multi-part text reply stands between calls.
enum TextReplyProgress {
    case idle
    /// Inside a retrieval reply, after at least one value.
    case values
    /// Inside a multi-line reply of this shape.
    case lines(TextReplyShape)
}

/// What one reply line means for framing.
enum TextReplyStep {
    case malformed
    /// The front request is quiet and this reply is not its: it succeeded silently.
    case silentQuietRequest
    /// The reply to a no-op sent in place of a denied request.
    case dropProbeReply
    case continues
    case complete
    /// A line announcing a data block of `length` bytes (then CRLF).
    case dataBlock(length: Int, completesReply: Bool)
}

/// A text request whose reply is due.
struct TextIntent: OrderedIntent {
    let command: MemcacheTextCommand
    let shape: TextReplyShape
    var verdict: IntentVerdict
    /// Meta `q`: the reply meaning success (or a miss) is left out.
    let quiet: Bool
    let opaque: InlineToken

    init(_ request: TextRequestLine, verdict: IntentVerdict) {
        command = request.command
        shape = request.shape
        self.verdict = verdict
        quiet = verdict == .allowed && (request.meta?.quiet ?? false)
        opaque = request.meta?.opaque ?? InlineToken()
    }

    /// Whether a reply starting with `code` can be this quiet request's: not the code quiet mode leaves out,
    /// one the command produces, and with the request's opaque when both carry one.
    func mayAnswer(code: UnsafeRawBufferPointer, line: UnsafeRawBufferPointer, isError: Bool) -> Bool {
        if isError { return true }
        guard Self.produces(command, code) else { return false }
        guard opaque.isPresent else { return true }
        var tokens = TextTokens(line)
        _ = tokens.next()
        while let token = tokens.next() {
            if token.first == UInt8(ascii: "O") {
                return InlineToken(UnsafeRawBufferPointer(rebasing: token[1...])) == opaque
            }
        }
        return true
    }
}

extension TextIntent {
    /// The reply codes a quiet meta command can still produce (quiet mode leaves out HD for ms/md/ma, EN for mg).
    static func produces(_ command: MemcacheTextCommand, _ code: UnsafeRawBufferPointer) -> Bool {
        func any(_ a: StaticString, _ b: StaticString, _ c: StaticString = "", _ d: StaticString = "") -> Bool {
            TextNumbers.equals(code, a) || TextNumbers.equals(code, b)
                || (c.utf8CodeUnitCount > 0 && TextNumbers.equals(code, c))
                || (d.utf8CodeUnitCount > 0 && TextNumbers.equals(code, d))
        }
        switch command {
        case .metaGet: return any("VA", "HD")
        case .metaSet: return any("NS", "EX", "NF")
        case .metaDelete: return any("NF", "EX")
        case .metaArithmetic: return any("VA", "NF", "NS", "EX")
        case .metaDebug: return any("ME", "EN")
        default: return false
        }
    }
}

/// Reply lines that matter for framing.
enum TextReplyCodes {
    static func isError(_ code: UnsafeRawBufferPointer) -> Bool {
        TextNumbers.equals(code, "ERROR") || TextNumbers.equals(code, "CLIENT_ERROR")
            || TextNumbers.equals(code, "SERVER_ERROR")
    }

    /// The one-line answers a multi-line command may give instead of its lines (`stats reset` → RESET,
    /// `stats detail on` → OK, an `lru_crawler` that is busy → BUSY …).
    static func isSingleLineAnswer(_ code: UnsafeRawBufferPointer, to shape: TextReplyShape) -> Bool {
        switch shape {
        case .statLines:
            return TextNumbers.equals(code, "RESET") || TextNumbers.equals(code, "OK")
        case .dumpLines, .metaDumpLines:
            return TextNumbers.equals(code, "OK") || TextNumbers.equals(code, "BUSY")
                || TextNumbers.equals(code, "BADCLASS")
        default:
            return false
        }
    }
}
