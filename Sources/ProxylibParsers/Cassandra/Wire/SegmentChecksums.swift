/// The two checksums of v5 segments, as Cassandra computes them (and the drivers copy):
/// - CRC24 over the header's length/flag bytes in wire order: polynomial 0x1974F0B (Koopman's, chosen for
///   Hamming distance 8 on short messages), initial value 0x875060, most significant bit first, not reflected,
///   no final xor.
/// - CRC32 over the payload: the ordinary reflected CRC-32 (zlib's, polynomial 0xEDB88320) of the four bytes
///   FA 2D 55 CA followed by the payload, so that an all-zero segment does not checksum to zero.
extension SegmentCodec {
    static func crc24(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc: UInt32 = crc24Initial
        for byte in bytes { crc = crc24Step(crc, byte) }
        return crc
    }

    static func crc32(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        ~crc32Update(crc32Seed, bytes)
    }

    // MARK: CRC24

    private static let crc24Initial: UInt32 = 0x87_5060
    private static let crc24Polynomial: UInt32 = 0x197_4F0B

    /// The CRC24 of the low `byteCount` bytes of `fields`, least significant first (their order on the wire).
    static func crc24(fields: UInt64, byteCount: Int) -> UInt32 {
        var crc = crc24Initial
        for index in 0..<byteCount {
            crc = crc24Step(crc, UInt8(truncatingIfNeeded: fields >> (8 * index)))
        }
        return crc
    }

    @inline(__always)
    private static func crc24Step(_ crc: UInt32, _ byte: UInt8) -> UInt32 {
        var crc = crc ^ UInt32(byte) << 16
        for _ in 0..<8 {
            crc <<= 1
            if crc & 0x100_0000 != 0 { crc ^= crc24Polynomial }
        }
        return crc
    }

    // MARK: CRC32

    /// The running (not yet inverted) CRC-32 state after the initial bytes FA 2D 55 CA: what zlib's
    /// `crc32(0xFA2D55CA bytes)` leaves before its final inversion. The tests recompute it.
    static let crc32Seed: UInt32 = 0xBB88_812C

    /// Feeds `bytes` into a running CRC-32 state (initial 0xFFFFFFFF, inverted at the end by the caller).
    /// Slicing-by-8: eight table lookups per 8 bytes, since every payload byte of a v5 connection passes here.
    static func crc32Update(_ state: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress else { return state }
        var crc = state
        return crc32Tables.withUnsafeBufferPointer { table in
            // Every index below is a byte value plus a multiple of 256 under 2048: always inside the table.
            var offset = 0
            let count = bytes.count
            while count - offset >= 8 {
                let word = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
                let low = crc ^ UInt32(truncatingIfNeeded: word)
                let high = UInt32(truncatingIfNeeded: word >> 32)
                crc = table[7 * 256 + Int(low & 0xFF)] ^ table[6 * 256 + Int((low >> 8) & 0xFF)]
                    ^ table[5 * 256 + Int((low >> 16) & 0xFF)] ^ table[4 * 256 + Int(low >> 24)]
                    ^ table[3 * 256 + Int(high & 0xFF)] ^ table[2 * 256 + Int((high >> 8) & 0xFF)]
                    ^ table[256 + Int((high >> 16) & 0xFF)] ^ table[Int(high >> 24)]
                offset += 8
            }
            while offset < count {
                let byte = base.load(fromByteOffset: offset, as: UInt8.self)
                crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8)
                offset += 1
            }
            return crc
        }
    }

    /// Table k maps a byte to its CRC contribution k bytes further back; table 0 is the classic byte table.
    private static let crc32Tables: [UInt32] = {
        var tables = [UInt32](repeating: 0, count: 8 * 256)
        for byte in 0..<256 {
            var crc = UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
            tables[byte] = crc
        }
        for slice in 1..<8 {
            for byte in 0..<256 {
                let previous = tables[(slice - 1) * 256 + byte]
                tables[slice * 256 + byte] = (previous >> 8) ^ tables[Int(previous & 0xFF)]
            }
        }
        return tables
    }()
}
