/// A bounds-checked cursor over a frame body, for the notation of the specification (section 3): every read
/// returns nil instead of reading past the body, so a length that points outside the frame is a protocol
/// error, never a trap.
struct BodyReader {
    let body: UnsafeRawBufferPointer
    private(set) var offset: Int

    init(_ body: UnsafeRawBufferPointer, offset: Int = 0) {
        self.body = body
        self.offset = offset
    }

    var remaining: Int { body.count - offset }

    mutating func byte() -> UInt8? {
        guard remaining >= 1 else { return nil }
        defer { offset += 1 }
        return body[offset]
    }

    /// [short]: an unsigned 16-bit integer.
    mutating func short() -> Int? {
        guard remaining >= 2 else { return nil }
        defer { offset += 2 }
        return Int(body[offset]) << 8 | Int(body[offset + 1])
    }

    /// [int]: a signed 32-bit integer.
    mutating func int() -> Int32? {
        guard remaining >= 4 else { return nil }
        defer { offset += 4 }
        let value = UInt32(body[offset]) << 24 | UInt32(body[offset + 1]) << 16 | UInt32(body[offset + 2]) << 8
            | UInt32(body[offset + 3])
        return Int32(bitPattern: value)
    }

    mutating func bytes(_ count: Int) -> UnsafeRawBufferPointer? {
        guard count >= 0, remaining >= count else { return nil }
        defer { offset += count }
        return UnsafeRawBufferPointer(rebasing: body[offset..<(offset + count)])
    }

    mutating func skip(_ count: Int) -> Bool {
        guard count >= 0, remaining >= count else { return false }
        offset += count
        return true
    }

    /// [string]: a [short] length and that many bytes.
    mutating func string() -> UnsafeRawBufferPointer? {
        guard let count = short() else { return nil }
        return bytes(count)
    }

    /// [long string]: an [int] length (not negative) and that many bytes.
    mutating func longString() -> UnsafeRawBufferPointer? {
        guard let count = int(), count >= 0 else { return nil }
        return bytes(Int(count))
    }

    /// [short bytes]: a [short] length and that many bytes.
    mutating func shortBytes() -> UnsafeRawBufferPointer? { string() }

    /// [bytes] or [value]: an [int] length; negative lengths (null, and -2 "not set" for values) carry no bytes.
    mutating func skipValue() -> Bool {
        guard let count = int() else { return false }
        return count < 0 || skip(Int(count))
    }

    /// [bytes map]: the custom payload of a frame with the custom-payload flag.
    mutating func skipBytesMap() -> Bool {
        guard let count = short() else { return false }
        for _ in 0..<count {
            guard string() != nil, skipValue() else { return false }
        }
        return true
    }

    /// [string list]: the warnings of a response with the warning flag.
    mutating func skipStringList() -> Bool {
        guard let count = short() else { return false }
        for _ in 0..<count {
            guard string() != nil else { return false }
        }
        return true
    }

    /// [string map]: calls `body` with each key and value.
    mutating func stringMap(_ entry: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void) -> Bool {
        guard let count = short() else { return false }
        for _ in 0..<count {
            guard let key = string(), let value = string() else { return false }
            entry(key, value)
        }
        return true
    }
}
