/// One token of a CQL statement: a byte range of the query text.
struct CQLToken: Equatable {
    enum Kind: Equatable {
        /// An unquoted identifier or keyword (case-insensitive).
        case word
        /// A double-quoted identifier (case-sensitive; `""` stands for one quote).
        case quotedIdentifier
        /// A string literal: `'…'` (`''` stands for one quote) or `$$…$$`.
        case string
        /// A numeric literal, a UUID, a blob (`0x…`): anything starting with a digit.
        case number
        /// Any other single byte outside the above (`.`, `,`, `;`, `(`, `*`, `=`, …).
        case symbol
    }

    var kind: Kind
    var start: Int
    var end: Int
}

/// Splits CQL text into tokens the way Cassandra's grammar does for everything that decides which statement
/// it is and which table it names: string literals, quoted identifiers and comments (`--` and `//` to the end
/// of the line, `/* … */`) are single units or skipped, so a keyword inside them is never seen; punctuation
/// needs no spaces around it (`SELECT*FROM ks.t`). An unterminated literal, identifier or comment makes the
/// text unreadable (`failed`): such a query is never classified.
struct CQLLexer {
    private let text: UnsafeRawBufferPointer
    private var position = 0
    private(set) var failed = false

    init(_ text: UnsafeRawBufferPointer) {
        self.text = text
    }

    mutating func next() -> CQLToken? {
        guard !failed, skipSpaceAndComments() else { return nil }
        guard position < text.count, let base = text.baseAddress else { return nil }
        let count = text.count
        let start = position
        let byte = base.load(fromByteOffset: start, as: UInt8.self)
        var end = start + 1
        if Self.isLetter(byte) {
            while end < count, Self.isWordByte(base.load(fromByteOffset: end, as: UInt8.self)) { end += 1 }
            position = end
            return CQLToken(kind: .word, start: start, end: end)
        }
        switch byte {
        case UInt8(ascii: "'"):
            return quoted(UInt8(ascii: "'"), kind: .string, from: start)
        case UInt8(ascii: "\""):
            return quoted(UInt8(ascii: "\""), kind: .quotedIdentifier, from: start)
        case UInt8(ascii: "$") where peek(1) == UInt8(ascii: "$"):
            return dollarString(from: start)
        case _ where Self.isDigit(byte):
            // Numbers, UUIDs and blobs: letters, digits, '.', '-' and '+' (exponents) run together; they only
            // ever stand where a value goes, so their exact extent does not decide anything.
            while end < count, Self.isNumberByte(base.load(fromByteOffset: end, as: UInt8.self)) { end += 1 }
            position = end
            return CQLToken(kind: .number, start: start, end: end)
        default:
            position = end
            return CQLToken(kind: .symbol, start: start, end: end)
        }
    }

    /// The bytes of `token`.
    func bytes(of token: CQLToken) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: text[token.start..<token.end])
    }

    /// Whether `token` is the unquoted word `keyword` (given in lower case).
    func isKeyword(_ token: CQLToken?, _ keyword: StaticString) -> Bool {
        guard let token, token.kind == .word, token.end - token.start == keyword.utf8CodeUnitCount else { return false }
        let expected = UnsafeRawBufferPointer(start: keyword.utf8Start, count: keyword.utf8CodeUnitCount)
        for index in 0..<expected.count where Self.lowercased(text[token.start + index]) != expected[index] {
            return false
        }
        return true
    }

    func isSymbol(_ token: CQLToken?, _ symbol: UInt8) -> Bool {
        guard let token, token.kind == .symbol else { return false }
        return text[token.start] == symbol
    }

    // MARK: Scanning

    private func peek(_ offset: Int) -> UInt8? {
        position + offset < text.count ? text[position + offset] : nil
    }

    /// Skips white space and comments; false when a block comment never ends.
    private mutating func skipSpaceAndComments() -> Bool {
        while position < text.count {
            let byte = text[position]
            if byte == 0x20 {
                position += 1
            } else if byte == 0x09 || byte == 0x0A || byte == 0x0D || byte == 0x0C {
                position += 1
            } else if byte > UInt8(ascii: "/") {
                return true
            } else if (byte == UInt8(ascii: "-") && peek(1) == UInt8(ascii: "-"))
                        || (byte == UInt8(ascii: "/") && peek(1) == UInt8(ascii: "/")) {
                while position < text.count && text[position] != 0x0A { position += 1 }
            } else if byte == UInt8(ascii: "/") && peek(1) == UInt8(ascii: "*") {
                position += 2
                while true {
                    guard position + 1 < text.count else {
                        failed = true
                        return false
                    }
                    if text[position] == UInt8(ascii: "*") && text[position + 1] == UInt8(ascii: "/") {
                        position += 2
                        break
                    }
                    position += 1
                }
            } else {
                return true
            }
        }
        return true
    }

    /// A `'…'` string or `"…"` identifier, where a doubled quote stands for one.
    private mutating func quoted(_ quote: UInt8, kind: CQLToken.Kind, from start: Int) -> CQLToken? {
        position += 1
        while position < text.count {
            if text[position] == quote {
                if peek(1) == quote {
                    position += 2
                    continue
                }
                position += 1
                return CQLToken(kind: kind, start: start, end: position)
            }
            position += 1
        }
        failed = true
        return nil
    }

    private mutating func dollarString(from start: Int) -> CQLToken? {
        position += 2
        while position + 1 < text.count {
            if text[position] == UInt8(ascii: "$") && text[position + 1] == UInt8(ascii: "$") {
                position += 2
                return CQLToken(kind: .string, start: start, end: position)
            }
            position += 1
        }
        failed = true
        return nil
    }

    // MARK: Character classes

    static func isLetter(_ byte: UInt8) -> Bool {
        (byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "z")
    }

    static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    static func isWordByte(_ byte: UInt8) -> Bool {
        isLetter(byte) || isDigit(byte) || byte == UInt8(ascii: "_")
    }

    private static func isNumberByte(_ byte: UInt8) -> Bool {
        isWordByte(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "+")
    }

    static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
    }
}
