#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import ProxylibCore

/// Byte-string helpers over borrowed memory (no copies), on `ByteSearch` (memchr/memcmp): the generic
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
        prefix.withUnsafeBytes { ByteSearch.matches($0, in: bytes, at: 0) }
    }

    static func hasSuffix(_ bytes: UnsafeRawBufferPointer, _ suffix: [UInt8]) -> Bool {
        suffix.withUnsafeBytes { ByteSearch.matches($0, in: bytes, at: bytes.count - suffix.count) }
    }

    static func contains(_ bytes: UnsafeRawBufferPointer, _ needle: [UInt8]) -> Bool {
        needle.isEmpty || needle.withUnsafeBytes { ByteSearch.firstIndex(of: $0, in: bytes) != nil }
    }

    /// The offset of the first `byte` in `bytes`.
    static func firstIndex(of byte: UInt8, in bytes: UnsafeRawBufferPointer) -> Int? {
        guard let base = bytes.baseAddress, let hit = memchr(base, Int32(byte), bytes.count) else { return nil }
        return UnsafeRawPointer(hit) - base
    }

    static func equals(_ bytes: UnsafeRawBufferPointer, _ other: [UInt8]) -> Bool {
        bytes.count == other.count && other.withUnsafeBytes { ByteSearch.matches($0, in: bytes, at: 0) }
    }
}
