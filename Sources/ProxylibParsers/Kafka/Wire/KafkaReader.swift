/// A bounds-checked reader of Kafka's primitive types over one contiguous frame. Every read returns nil past
/// the end (or on a malformed varint) instead of trapping; the caller treats nil as a malformed frame.
struct KafkaReader {
    let bytes: UnsafeRawBufferPointer
    private(set) var position: Int

    init(_ bytes: UnsafeRawBufferPointer, at position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    var remaining: Int { bytes.count - position }

    mutating func skip(_ count: Int) -> Bool {
        guard count >= 0, count <= remaining else { return false }
        position += count
        return true
    }

    mutating func readUInt8() -> UInt8? {
        guard remaining >= 1 else { return nil }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func readInt16() -> Int16? {
        guard remaining >= 2 else { return nil }
        defer { position += 2 }
        return Int16(bitPattern: UInt16(bytes[position]) << 8 | UInt16(bytes[position + 1]))
    }

    mutating func readInt32() -> Int32? {
        guard remaining >= 4 else { return nil }
        defer { position += 4 }
        return Int32(bitPattern: Self.bigEndianUInt32(bytes, at: position))
    }

    /// The 16 bytes of a uuid as two big-endian halves.
    mutating func readUUID() -> KafkaUUID? {
        guard remaining >= 16 else { return nil }
        defer { position += 16 }
        let high = UInt64(Self.bigEndianUInt32(bytes, at: position)) << 32 | UInt64(Self.bigEndianUInt32(bytes, at: position + 4))
        let low = UInt64(Self.bigEndianUInt32(bytes, at: position + 8)) << 32 | UInt64(Self.bigEndianUInt32(bytes, at: position + 12))
        return KafkaUUID(high: high, low: low)
    }

    /// An unsigned varint of at most 32 bits (5 bytes); nil when longer or past the end.
    mutating func readUnsignedVarint() -> UInt32? {
        var value: UInt32 = 0
        var shift: UInt32 = 0
        while shift < 35 {
            guard let byte = readUInt8() else { return nil }
            if shift == 28 && byte & 0xF0 != 0 { return nil }
            value |= UInt32(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
        return nil
    }

    /// A length or count: int16 (strings) / int32 (bytes, arrays), or an unsigned varint holding n + 1 in
    /// compact (flexible) encodings. -1 is null; nil is malformed (below -1, or past what remains).
    mutating func readLength(compact: Bool, wide: Bool) -> Int? {
        let value: Int
        if compact {
            guard let raw = readUnsignedVarint() else { return nil }
            value = Int(raw) - 1
        } else if wide {
            guard let raw = readInt32() else { return nil }
            value = Int(raw)
        } else {
            guard let raw = readInt16() else { return nil }
            value = Int(raw)
        }
        guard value >= -1 else { return nil }
        return value
    }

    /// A string's or bytes' extent in the frame: nil when malformed, `.null` for a null value.
    mutating func readRange(compact: Bool, wide: Bool) -> KafkaRange? {
        guard let length = readLength(compact: compact, wide: wide) else { return nil }
        if length < 0 { return .null }
        let start = position
        guard skip(length) else { return nil }
        return KafkaRange(start: Int32(truncatingIfNeeded: start), count: Int32(truncatingIfNeeded: length))
    }

    /// Skips a tagged-field section (KIP-482): a count, then (tag, size, bytes) each.
    mutating func skipTaggedFields() -> Bool {
        guard let count = readUnsignedVarint(), Int(count) <= remaining else { return false }
        for _ in 0..<count {
            guard readUnsignedVarint() != nil, let size = readUnsignedVarint(), skip(Int(size)) else { return false }
        }
        return true
    }

    static func bigEndianUInt32(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt32 {
        UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8
            | UInt32(bytes[offset + 3])
    }
}

/// A topic id (KIP-516): 16 bytes, kept as two integers.
struct KafkaUUID: Hashable, Sendable {
    var high: UInt64
    var low: UInt64

    static let zero = KafkaUUID(high: 0, low: 0)

    /// Kafka's own spelling of an id: URL-safe base64 without padding (22 characters).
    var text: String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16)
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: high >> UInt64(shift))) }
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: low >> UInt64(shift))) }
        return Base64URL.encode(bytes)
    }
}

/// Where a string or bytes value lies in a frame; `count` -1 for null.
struct KafkaRange: Equatable {
    var start: Int32
    var count: Int32

    static let null = KafkaRange(start: 0, count: -1)
    var isNull: Bool { count < 0 }

    func bytes(in frame: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        guard count > 0 else { return UnsafeRawBufferPointer(start: frame.baseAddress, count: 0) }
        return UnsafeRawBufferPointer(rebasing: frame[Int(start)..<Int(start + count)])
    }
}

enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        var index = 0
        while index < bytes.count {
            let chunk = min(3, bytes.count - index)
            var value: UInt32 = 0
            for offset in 0..<3 { value = value << 8 | (offset < chunk ? UInt32(bytes[index + offset]) : 0) }
            for position in 0...chunk { out.append(alphabet[Int(value >> UInt32(18 - 6 * position)) & 63]) }
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}
