/// Reads a fuzzer's bytes as a stream of small decisions and byte strings (in the manner of LLVM's
/// FuzzedDataProvider). Every read succeeds: past the end it yields zeros and empty strings, so any input,
/// however short, is a complete script.
public struct FuzzInput {
    private let bytes: UnsafeRawBufferPointer
    private var offset = 0

    public init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    public var isAtEnd: Bool { offset >= bytes.count }
    public var remaining: Int { max(bytes.count - offset, 0) }

    public mutating func byte() -> UInt8 {
        guard offset < bytes.count else { return 0 }
        defer { offset += 1 }
        return bytes[offset]
    }

    public mutating func bool() -> Bool { byte() & 1 == 1 }

    public mutating func uint16() -> UInt16 { UInt16(byte()) << 8 | UInt16(byte()) }

    public mutating func uint32() -> UInt32 { UInt32(uint16()) << 16 | UInt32(uint16()) }

    /// A value in `0..<count` (0 when count is 0).
    public mutating func choose(_ count: Int) -> Int {
        guard count > 1 else { return 0 }
        return Int(byte()) % count
    }

    /// One of `options`.
    public mutating func pick<T>(_ options: [T]) -> T {
        options[choose(options.count)]
    }

    /// The next `count` bytes (fewer at the end), without copying.
    public mutating func take(_ count: Int) -> UnsafeRawBufferPointer {
        let n = min(max(count, 0), remaining)
        defer { offset += n }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + n])
    }

    /// A byte string whose length is the next byte (up to 255), bounded by what is left.
    public mutating func shortBytes() -> [UInt8] {
        Array(take(Int(byte())))
    }

    /// The next short byte string as text (invalid UTF-8 repaired, as the library repairs it).
    public mutating func shortString() -> String {
        String(decoding: shortBytes(), as: UTF8.self)
    }

    /// Everything that is left.
    public mutating func rest() -> UnsafeRawBufferPointer {
        take(remaining)
    }
}
