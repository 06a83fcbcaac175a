#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Substring search and comparison over contiguous bytes (memchr for the first byte, memcmp for the rest):
/// the one implementation behind `InputView`'s single-segment path, plain-text policy patterns and the
/// parsers' byte helpers.
public enum ByteSearch {
    /// The offset of the first occurrence of `needle` in `haystack` at or after `start`; nil for an empty
    /// needle or when there is none.
    public static func firstIndex(of needle: UnsafeRawBufferPointer, in haystack: UnsafeRawBufferPointer,
                                  from start: Int = 0) -> Int? {
        guard let first = needle.first, let base = haystack.baseAddress, start >= 0 else { return nil }
        let lastStart = haystack.count - needle.count
        var candidate = start
        while candidate <= lastStart, let hit = memchr(base + candidate, Int32(first), lastStart - candidate + 1) {
            let offset = UnsafeRawPointer(hit) - base
            if matches(needle, in: haystack, at: offset) { return offset }
            candidate = offset + 1
        }
        return nil
    }

    /// Whether `needle` occurs in `haystack` at `offset` (false when it does not fit there).
    public static func matches(_ needle: UnsafeRawBufferPointer, in haystack: UnsafeRawBufferPointer,
                               at offset: Int) -> Bool {
        guard offset >= 0, needle.count <= haystack.count - offset else { return false }
        guard let needleBase = needle.baseAddress, !needle.isEmpty else { return true }
        guard let base = haystack.baseAddress else { return false }
        return memcmp(base + offset, needleBase, needle.count) == 0
    }
}
