import ProxylibCore

/// memcached's tokenizer for command lines: tokens are separated by one or more spaces (only spaces: a tab
/// is part of a key, as the server reads it, so the policy checks the key the server will use).
struct TextTokens {
    private let line: UnsafeRawBufferPointer
    private var position = 0

    init(_ line: UnsafeRawBufferPointer) {
        self.line = line
    }

    /// The next token, or nil at the end of the line.
    mutating func next() -> UnsafeRawBufferPointer? {
        let space = UInt8(ascii: " ")
        while position < line.count && line[position] == space { position += 1 }
        guard position < line.count else { return nil }
        let start = position
        while position < line.count && line[position] != space { position += 1 }
        return UnsafeRawBufferPointer(rebasing: line[start..<position])
    }

    /// The rest of the line after the tokens read so far (the key list of `get a b c`).
    var rest: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: line[position...])
    }

    /// The number of tokens left and the last of them, without consuming them (one pass).
    func remainingSummary() -> (count: Int, last: UnsafeRawBufferPointer?) {
        var copy = self
        var count = 0
        var last: UnsafeRawBufferPointer?
        while let token = copy.next() {
            count += 1
            last = token
        }
        return (count, last)
    }
}

/// Small numeric and byte helpers for text command lines.
enum TextNumbers {
    /// A decimal number of at most `limit`, or nil (not a number, a sign, too large).
    static func decimal(_ token: UnsafeRawBufferPointer, limit: Int) -> Int? {
        guard !token.isEmpty, token.count <= 19 else { return nil }
        var value = 0
        for byte in token {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value <= limit ? value : nil
    }

    /// Whether `token` is memcached's integer argument (an optional minus sign, then digits).
    static func isInteger(_ token: UnsafeRawBufferPointer) -> Bool {
        guard let first = token.first else { return false }
        let digits = first == UInt8(ascii: "-") ? UnsafeRawBufferPointer(rebasing: token[1...]) : token
        return decimal(digits, limit: Int.max) != nil
    }

    static func equals(_ token: UnsafeRawBufferPointer, _ text: StaticString) -> Bool {
        token.count == text.utf8CodeUnitCount
            && ByteSearch.matches(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount),
                                  in: token, at: 0)
    }
}
