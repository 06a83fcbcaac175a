#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Byte-string helpers over borrowed memory (no copies). Comparisons are memcmp/memchr: the generic
/// `elementsEqual` walks two iterators a byte at a time, and these run for every request.
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
        prefix.count <= bytes.count && same(bytes, at: 0, prefix)
    }

    static func hasSuffix(_ bytes: UnsafeRawBufferPointer, _ suffix: [UInt8]) -> Bool {
        suffix.count <= bytes.count && same(bytes, at: bytes.count - suffix.count, suffix)
    }

    static func contains(_ bytes: UnsafeRawBufferPointer, _ needle: [UInt8]) -> Bool {
        guard needle.count <= bytes.count else { return false }
        guard let first = needle.first else { return true }
        guard let base = bytes.baseAddress else { return false }
        var start = 0
        let lastStart = bytes.count - needle.count
        while start <= lastStart {
            guard let hit = memchr(base + start, Int32(first), lastStart - start + 1) else { return false }
            let offset = UnsafeRawPointer(hit) - base
            if same(bytes, at: offset, needle) { return true }
            start = offset + 1
        }
        return false
    }

    /// The offset of the first `byte` in `bytes`.
    static func firstIndex(of byte: UInt8, in bytes: UnsafeRawBufferPointer) -> Int? {
        guard let base = bytes.baseAddress, let hit = memchr(base, Int32(byte), bytes.count) else { return nil }
        return UnsafeRawPointer(hit) - base
    }

    static func equals(_ bytes: UnsafeRawBufferPointer, _ other: [UInt8]) -> Bool {
        bytes.count == other.count && same(bytes, at: 0, other)
    }

    /// Whether `other` occurs in `bytes` at `offset`; the caller has checked that it fits.
    private static func same(_ bytes: UnsafeRawBufferPointer, at offset: Int, _ other: [UInt8]) -> Bool {
        guard !other.isEmpty else { return true }
        guard let base = bytes.baseAddress else { return false }
        return other.withUnsafeBytes { otherBytes in
            guard let otherBase = otherBytes.baseAddress else { return false }
            return memcmp(base + offset, otherBase, otherBytes.count) == 0
        }
    }
}
