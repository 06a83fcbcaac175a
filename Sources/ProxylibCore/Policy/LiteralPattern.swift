/// A policy regular expression that is plain printable-ASCII text, optionally anchored: `^/public/`,
/// `\.png$`, `^GET$`, `admin`. Policies are full of these, and comparing bytes is several times cheaper than
/// a call into PCRE2. Anything else (classes, repeats, groups, alternation, flags, escapes other than
/// punctuation, non-ASCII text) is left to the regex engine.
///
/// Matching the raw subject bytes agrees with the engine, which reads invalid UTF-8 as U+FFFD: an ASCII
/// literal can neither match nor straddle a non-ASCII byte, and `^`/`$` are the subject's two ends either way
/// (`$` is end-of-text in RE2, not "before a final newline").
struct LiteralPattern: Sendable, Equatable {
    enum Anchoring: Sendable, Equatable {
        /// Anywhere in the subject.
        case none
        case start
        case end
        /// The whole subject.
        case both
    }

    let text: [UInt8]
    let anchoring: Anchoring

    init(text: [UInt8], anchoring: Anchoring) {
        self.text = text
        self.anchoring = anchoring
    }

    /// The literal form of `pattern`, or nil when it needs the regex engine.
    init?(_ pattern: String) {
        var bytes = Array(pattern.utf8)[...]
        let anchoredStart = bytes.first == UInt8(ascii: "^")
        if anchoredStart { bytes = bytes.dropFirst() }
        var text: [UInt8] = []
        var anchoredEnd = false
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            index += 1
            if byte == UInt8(ascii: "\\") {
                // `\` before ASCII punctuation is that character; before anything else it is special.
                guard index < bytes.endIndex, Self.isPunctuation(bytes[index]) else { return nil }
                text.append(bytes[index])
                index += 1
            } else if byte == UInt8(ascii: "$") && index == bytes.endIndex {
                anchoredEnd = true
            } else if Self.isPlainText(byte) {
                text.append(byte)
            } else {
                return nil
            }
        }
        self.text = text
        switch (anchoredStart, anchoredEnd) {
        case (false, false): anchoring = .none
        case (true, false): anchoring = .start
        case (false, true): anchoring = .end
        case (true, true): anchoring = .both
        }
    }

    private static func isPunctuation(_ byte: UInt8) -> Bool {
        (0x21...0x2F).contains(byte) || (0x3A...0x40).contains(byte) || (0x5B...0x60).contains(byte)
            || (0x7B...0x7E).contains(byte)
    }

    /// Printable ASCII that stands for itself in RE2 syntax.
    private static func isPlainText(_ byte: UInt8) -> Bool {
        guard (0x20...0x7E).contains(byte) else { return false }
        switch byte {
        case UInt8(ascii: "."), UInt8(ascii: "+"), UInt8(ascii: "*"), UInt8(ascii: "?"), UInt8(ascii: "("),
             UInt8(ascii: ")"), UInt8(ascii: "|"), UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: "{"),
             UInt8(ascii: "}"), UInt8(ascii: "^"), UInt8(ascii: "$"), UInt8(ascii: "\\"):
            return false
        default:
            return true
        }
    }

    func matches(_ subject: UnsafeRawBufferPointer) -> Bool {
        text.withUnsafeBytes { literal in
            switch anchoring {
            case .start: return ByteSearch.matches(literal, in: subject, at: 0)
            case .end: return ByteSearch.matches(literal, in: subject, at: subject.count - literal.count)
            case .both: return literal.count == subject.count && ByteSearch.matches(literal, in: subject, at: 0)
            case .none: return literal.isEmpty || ByteSearch.firstIndex(of: literal, in: subject) != nil
            }
        }
    }
}
