/// Byte-string helpers over borrowed memory (no copies).
enum ASCII {
    /// Go's `bytes.TrimSpace` for the ASCII white space set (tab, LF, VT, FF, CR, space).
    static func trimmingWhitespace(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        var start = 0, end = bytes.count
        while start < end && isSpace(bytes[start]) { start += 1 }
        while end > start && isSpace(bytes[end - 1]) { end -= 1 }
        return UnsafeRawBufferPointer(rebasing: bytes[start..<end])
    }

    static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || (byte >= 0x09 && byte <= 0x0D)
    }

    static func hasPrefix(_ bytes: UnsafeRawBufferPointer, _ prefix: [UInt8]) -> Bool {
        prefix.count <= bytes.count && bytes.prefix(prefix.count).elementsEqual(prefix)
    }

    static func hasSuffix(_ bytes: UnsafeRawBufferPointer, _ suffix: [UInt8]) -> Bool {
        suffix.count <= bytes.count && bytes.suffix(suffix.count).elementsEqual(suffix)
    }

    static func contains(_ bytes: UnsafeRawBufferPointer, _ needle: [UInt8]) -> Bool {
        guard needle.count <= bytes.count else { return false }
        if needle.isEmpty { return true }
        for start in 0...(bytes.count - needle.count)
        where bytes[start] == needle[0] && bytes[start..<(start + needle.count)].elementsEqual(needle) {
            return true
        }
        return false
    }

    static func equals(_ bytes: UnsafeRawBufferPointer, _ other: [UInt8]) -> Bool {
        bytes.count == other.count && bytes.elementsEqual(other)
    }

    /// The bytes as a String (invalid UTF-8 repaired), for access-log fields.
    static func string(_ bytes: UnsafeRawBufferPointer) -> String {
        String(decoding: bytes, as: UTF8.self)
    }
}
