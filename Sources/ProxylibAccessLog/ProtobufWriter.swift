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

    static func varintSize(_ value: UInt64) -> Int {
        var size = 1
        var rest = value >> 7
        while rest != 0 {
            rest >>= 7
            size += 1
        }
        return size
    }

    static func tagSize(_ field: UInt64) -> Int { varintSize(field << 3) }

    /// A length-delimited field of `length` bytes: tag, length, payload.
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
    mutating func varintField(_ field: UInt64, _ value: UInt64) {
        guard value != 0 else { return }
        tag(field, .varint)
        varint(value)
    }

    /// The header of a length-delimited field whose `length` payload bytes follow.
    mutating func lengthDelimitedHeader(_ field: UInt64, _ length: Int) {
        tag(field, .lengthDelimited)
        varint(UInt64(length))
    }

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

    /// A string field; `always` writes an empty one too (repeated fields), otherwise it is left out (proto3).
    mutating func stringField(_ field: UInt64, _ source: UnsafeRawPointer, _ length: Int, always: Bool = false) {
        guard length > 0 || always else { return }
        lengthDelimitedHeader(field, length)
        bytes(source, length)
    }
}
