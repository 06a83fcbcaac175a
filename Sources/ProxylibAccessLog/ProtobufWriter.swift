/// Appends protobuf wire-format fields to a caller's buffer, bounds-checked: a write that does not fit sets
/// `overflowed` and writes nothing more, so a caller that mis-sized its buffer gets nil, never a trap.
struct ProtobufWriter {
    private let base: UnsafeMutableRawPointer?
    private let capacity: Int
    private(set) var count = 0
    private(set) var overflowed = false

    init(_ buffer: UnsafeMutableRawBufferPointer) {
        base = buffer.baseAddress
        capacity = buffer.baseAddress == nil ? 0 : buffer.count
    }

    enum WireType: UInt64 {
        case varint = 0
        case lengthDelimited = 2
    }

    // MARK: Sizes

    /// 7 bits a byte. Most values (tags, lengths) take one; the others are sized from their highest bit set
    /// rather than in a loop (a 64-bit timestamp would take nine rounds).
    @inline(__always)
    static func varintSize(_ value: UInt64) -> Int {
        if value < 0x80 { return 1 }
        return (64 - value.leadingZeroBitCount + 6) / 7
    }

    @inline(__always)
    static func tagSize(_ field: UInt64) -> Int { varintSize(field << 3) }

    /// A length-delimited field of `length` bytes: tag, length, payload.
    @inline(__always)
    static func lengthDelimitedSize(_ field: UInt64, _ length: Int) -> Int {
        tagSize(field) + varintSize(UInt64(length)) + length
    }

    // MARK: Writing

    @inline(__always)
    mutating func varint(_ value: UInt64) {
        // Most tags and lengths take one byte.
        if value < 0x80, !overflowed, let base, count < capacity {
            base.storeBytes(of: UInt8(truncatingIfNeeded: value), toByteOffset: count, as: UInt8.self)
            count += 1
            return
        }
        multiByteVarint(value)
    }

    private mutating func multiByteVarint(_ value: UInt64) {
        guard !overflowed, let base else { return overflow() }
        guard Self.varintSize(value) <= capacity - count else {
            overflowed = true
            return
        }
        var rest = value
        while rest >= 0x80 {
            base.storeBytes(of: UInt8(truncatingIfNeeded: rest) | 0x80, toByteOffset: count, as: UInt8.self)
            count += 1
            rest >>= 7
        }
        base.storeBytes(of: UInt8(truncatingIfNeeded: rest), toByteOffset: count, as: UInt8.self)
        count += 1
    }

    private mutating func overflow() {
        overflowed = true
    }

    @inline(__always)
    mutating func tag(_ field: UInt64, _ type: WireType) {
        varint(field << 3 | type.rawValue)
    }

    /// A varint field, left out when zero (proto3).
    @inline(__always)
    mutating func varintField(_ field: UInt64, _ value: UInt64) {
        guard value != 0 else { return }
        tag(field, .varint)
        varint(value)
    }

    /// The header of a length-delimited field whose `length` payload bytes follow.
    @inline(__always)
    mutating func lengthDelimitedHeader(_ field: UInt64, _ length: Int) {
        tag(field, .lengthDelimited)
        varint(UInt64(length))
    }

    @inline(__always)
    mutating func bytes(_ source: UnsafeRawPointer, _ length: Int) {
        guard length > 0 else { return }
        guard !overflowed, let base else { return overflow() }
        guard length <= capacity - count else {
            overflowed = true
            return
        }
        (base + count).copyMemory(from: source, byteCount: length)
        count += length
    }

    @inline(__always)
    mutating func byte(_ value: UInt8) {
        guard !overflowed, let base, count < capacity else { return overflow() }
        base.storeBytes(of: value, toByteOffset: count, as: UInt8.self)
        count += 1
    }

    @inline(__always)
    mutating func text(_ text: StaticString) {
        bytes(UnsafeRawPointer(text.utf8Start), text.utf8CodeUnitCount)
    }

    /// `number` (≥ 0) in decimal ASCII.
    mutating func decimal(_ number: Int) {
        let digits = LimitedString.decimalDigits(number)
        guard !overflowed, let base, digits <= capacity - count else { return overflow() }
        var rest = max(number, 0)
        for position in stride(from: digits - 1, through: 0, by: -1) {
            base.storeBytes(of: UInt8(ascii: "0") + UInt8(rest % 10), toByteOffset: count + position, as: UInt8.self)
            rest /= 10
        }
        count += digits
    }

    // MARK: Messages of unknown length

    /// Where a length-delimited field's length goes, before its content is written.
    struct LengthMark {
        fileprivate let offset: Int
        fileprivate let reserved: Int
    }

    /// Starts a length-delimited field whose length is known only once its content is written: reserves room
    /// for the length of a `maximumLength`-byte content.
    mutating func beginLengthDelimited(_ field: UInt64, maximumLength: Int) -> LengthMark {
        tag(field, .lengthDelimited)
        let mark = LengthMark(offset: count, reserved: Self.varintSize(UInt64(max(maximumLength, 0))))
        guard !overflowed, mark.reserved <= capacity - count else {
            overflow()
            return mark
        }
        count += mark.reserved
        return mark
    }

    /// Writes the length reserved by `mark` in its shortest form, moving the content back over the unused
    /// bytes: the result is the canonical encoding, as if the length had been known up front.
    mutating func endLengthDelimited(_ mark: LengthMark) {
        guard !overflowed, let base else { return overflow() }
        let contentStart = mark.offset + mark.reserved
        let length = count - contentStart
        let size = Self.varintSize(UInt64(length))
        guard size <= mark.reserved else { return overflow() }
        if size < mark.reserved {
            (base + mark.offset + size).copyMemory(from: base + contentStart, byteCount: length)
            count -= mark.reserved - size
        }
        var rest = UInt64(length)
        var offset = mark.offset
        while rest >= 0x80 {
            base.storeBytes(of: UInt8(truncatingIfNeeded: rest) | 0x80, toByteOffset: offset, as: UInt8.self)
            offset += 1
            rest >>= 7
        }
        base.storeBytes(of: UInt8(truncatingIfNeeded: rest), toByteOffset: offset, as: UInt8.self)
    }
}
