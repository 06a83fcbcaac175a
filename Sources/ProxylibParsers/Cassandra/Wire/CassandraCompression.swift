/// Compression algorithms negotiated in STARTUP's COMPRESSION option (native protocol section 5). Once
/// negotiated, v3/v4 frames with flag 0x01 carry a compressed body; in v5 (only lz4) the segment layer switches
/// to its compressed header format and the frames inside are never flagged.
enum CassandraCompression: Sendable, Equatable {
    case lz4, snappy

    /// "lz4" / "snappy" (ASCII, case-insensitive); nil for anything else.
    init?(optionValue: UnsafeRawBufferPointer) {
        if Self.equalsIgnoringASCIICase(optionValue, "lz4") {
            self = .lz4
        } else if Self.equalsIgnoringASCIICase(optionValue, "snappy") {
            self = .snappy
        } else {
            return nil
        }
    }

    /// `name` is lower-case ASCII.
    private static func equalsIgnoringASCIICase(_ bytes: UnsafeRawBufferPointer, _ name: StaticString) -> Bool {
        guard bytes.count == name.utf8CodeUnitCount else { return false }
        let expected = UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
        for index in 0..<bytes.count {
            let byte = bytes[index]
            // Folding A-Z only: 0x20 would also map other bytes (e.g. '@' and '`') onto each other.
            let lowered = byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
            if lowered != expected[index] { return false }
        }
        return true
    }
}
