#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Preallocated storage for the NUL-terminated strings of one entry being encoded (protobuf-c reads `char *`).
///
/// `append` copies a Swift string in with a byte limit, cutting it on a UTF-8 boundary and ending it with
/// `…[truncated N bytes]` when it does not fit. NUL bytes, which a `char *` cannot carry, are written as
/// U+FFFD. Nothing here allocates; `reset()` makes the storage reusable for the next entry.
struct CStringArena: ~Copyable {
    private let storage: UnsafeMutablePointer<UInt8>
    let capacity: Int
    private(set) var used = 0

    init(capacity: Int) {
        self.capacity = capacity
        storage = .allocate(capacity: capacity)
    }

    deinit {
        storage.deallocate()
    }

    mutating func reset() {
        used = 0
    }

    /// Where the next string will start; `rewind(to:)` returns there, forgetting what followed.
    var mark: Int { used }

    mutating func rewind(to mark: Int) {
        used = mark
    }

    /// A string of at most `limit` UTF-8 bytes (not counting its NUL), or nil when `value` had to be cut
    /// and `limit` leaves no room for the marker, or the storage is full.
    mutating func append(_ value: String, limit: Int) -> CStringRef? {
        if let result = value.utf8.withContiguousStorageIfAvailable({ append(bytes: $0, limit: limit) }) {
            return result
        }
        var contiguous = value
        return contiguous.withUTF8 { append(bytes: $0, limit: limit) }
    }

    /// `append` for text the encoder composes itself (markers): `prefix`, a decimal number, `suffix`.
    mutating func append(_ prefix: StaticString, _ number: Int, _ suffix: StaticString) -> CStringRef? {
        let start = used
        let needed = prefix.utf8CodeUnitCount + Self.decimalDigits(number) + suffix.utf8CodeUnitCount
        guard needed + 1 <= capacity - used else { return nil }
        write(prefix)
        writeDecimal(number)
        write(suffix)
        storage[used] = 0
        used += 1
        return CStringRef(pointer: pointer(at: start), length: needed)
    }

    // MARK: Copying with a limit

    private static let replacementCharacter: (UInt8, UInt8, UInt8) = (0xEF, 0xBF, 0xBD)
    private static let markerPrefix: StaticString = "…[truncated "
    private static let markerSuffix: StaticString = " bytes]"

    /// The length of the truncation marker for `dropped` bytes.
    static func markerLength(dropped: Int) -> Int {
        markerPrefix.utf8CodeUnitCount + decimalDigits(dropped) + markerSuffix.utf8CodeUnitCount
    }

    private mutating func append(bytes source: UnsafeBufferPointer<UInt8>, limit: Int) -> CStringRef? {
        let start = used
        let room = capacity - used - 1  // keep one byte for the NUL
        guard limit >= 0, room >= 0 else { return nil }
        let limit = min(limit, room)
        let total = source.count

        // Fast path: the common short value without NUL bytes.
        if total <= limit, Self.hasNoNUL(source) {
            if let base = source.baseAddress, total > 0 {
                (storage + used).update(from: base, count: total)
            }
            used += total
            storage[used] = 0
            used += 1
            return CStringRef(pointer: pointer(at: start), length: total)
        }

        // Copy byte by byte while it fits (a NUL takes the three bytes of U+FFFD).
        var written = 0
        var index = 0
        while index < total {
            let width = source[index] == 0 ? 3 : 1
            if written + width > limit { break }
            writeSanitized(source[index])
            written += width
            index += 1
        }
        if index == total {
            storage[used] = 0
            used += 1
            return CStringRef(pointer: pointer(at: start), length: written)
        }

        // Cut: drop bytes until the marker fits (its length for `total` dropped bytes bounds every shorter
        // count) and the cut is on a character boundary (the first dropped byte is not a continuation byte).
        let markerReserve = Self.markerLength(dropped: total)
        guard limit >= markerReserve else {
            used = start
            return nil
        }
        while index > 0 && (written + markerReserve > limit || source[index] & 0xC0 == 0x80) {
            index -= 1
            let width = source[index] == 0 ? 3 : 1
            written -= width
            used -= width
        }
        write(Self.markerPrefix)
        writeDecimal(total - index)
        write(Self.markerSuffix)
        storage[used] = 0
        let length = used - start
        used += 1
        return CStringRef(pointer: pointer(at: start), length: length)
    }

    private static func hasNoNUL(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return true }
        return memchr(base, 0, bytes.count) == nil
    }

    // MARK: Writing (callers have checked the room)

    private mutating func writeSanitized(_ byte: UInt8) {
        if byte == 0 {
            storage[used] = Self.replacementCharacter.0
            storage[used + 1] = Self.replacementCharacter.1
            storage[used + 2] = Self.replacementCharacter.2
            used += 3
        } else {
            storage[used] = byte
            used += 1
        }
    }

    private mutating func write(_ text: StaticString) {
        let count = text.utf8CodeUnitCount
        (storage + used).update(from: text.utf8Start, count: count)
        used += count
    }

    private mutating func writeDecimal(_ number: Int) {
        let digits = Self.decimalDigits(number)
        var rest = number
        for position in stride(from: digits - 1, through: 0, by: -1) {
            storage[used + position] = UInt8(ascii: "0") + UInt8(rest % 10)
            rest /= 10
        }
        used += digits
    }

    static func decimalDigits(_ number: Int) -> Int {
        var digits = 1
        var rest = max(number, 0)
        while rest >= 10 {
            rest /= 10
            digits += 1
        }
        return digits
    }

    private func pointer(at offset: Int) -> UnsafeMutablePointer<CChar> {
        UnsafeMutableRawPointer(storage + offset).assumingMemoryBound(to: CChar.self)
    }
}

/// A string in a `CStringArena`: valid until the arena is reset.
struct CStringRef {
    let pointer: UnsafeMutablePointer<CChar>
    /// UTF-8 bytes, without the NUL.
    let length: Int
}
