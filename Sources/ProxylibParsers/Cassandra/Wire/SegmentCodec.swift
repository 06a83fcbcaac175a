import ProxylibCore

/// Protocol v5 segment framing (layout in `SegmentHeader`): reading headers from the zero-copy input, checking
/// payloads, and writing segments for injected replies and re-emitted frames.
enum SegmentCodec {
    /// The largest payload one segment carries (17 bits).
    static let maxPayloadLength = 128 * 1024 - 1

    static let uncompressedHeaderLength = 6
    static let compressedHeaderLength = 8
    static let trailerLength = 4

    /// Reads a segment header at the front of `input`; `compressedFormat` = compression was negotiated.
    static func parseHeader(_ input: InputView, compressedFormat: Bool) -> SegmentParse {
        let headerLength = compressedFormat ? compressedHeaderLength : uncompressedHeaderLength
        guard input.count >= headerLength else { return .needMore(headerLength - input.count) }
        let fieldLength = headerLength - 3
        var fields: UInt64 = 0
        var storedCRC: UInt32 = 0
        for offset in 0..<headerLength {
            guard let byte = input[offset] else { return .needMore(headerLength - offset) }
            if offset < fieldLength {
                fields |= UInt64(byte) << (8 * offset)
            } else {
                storedCRC |= UInt32(byte) << (8 * (offset - fieldLength))
            }
        }
        guard crc24(fields: fields, byteCount: fieldLength) == storedCRC else { return .corrupt }
        let lengthMask: UInt64 = 0x1FFFF
        let payloadLength = Int(fields & lengthMask)
        var uncompressedLength = 0
        var flags = fields >> 17
        if compressedFormat {
            uncompressedLength = Int(flags & lengthMask)
            flags >>= 17
        }
        return .header(SegmentHeader(payloadLength: payloadLength, uncompressedLength: uncompressedLength,
                                     isSelfContained: flags & 1 == 1, headerLength: headerLength))
    }

    /// Whether the CRC32 trailer after the payload matches (payload at offset header.headerLength). False too
    /// when `input` does not hold the whole segment.
    static func payloadIsIntact(_ input: InputView, _ header: SegmentHeader) -> Bool {
        let start = header.headerLength
        let length = header.payloadLength
        guard start >= 0, length >= 0, length <= maxPayloadLength, start <= compressedHeaderLength,
              input.count - start - length >= trailerLength else { return false }
        var crc = crc32Seed
        var skip = start
        var remaining = length
        input.forEachSegment { segment in
            if skip >= segment.count {
                skip -= segment.count
                return true
            }
            let take = min(segment.count - skip, remaining)
            crc = crc32Update(crc, UnsafeRawBufferPointer(rebasing: segment[skip..<(skip + take)]))
            remaining -= take
            skip = 0
            return remaining > 0
        }
        guard remaining == 0 else { return false }
        var stored: UInt32 = 0
        for index in 0..<trailerLength {
            guard let byte = input[start + length + index] else { return false }
            stored |= UInt32(byte) << (8 * index)
        }
        return ~crc == stored
    }

    /// Appends one self-contained segment carrying `payload` uncompressed (in the compressed header format with
    /// uncompressed length 0 when `compressedFormat`), header CRC24 and payload CRC32 included. A payload longer
    /// than `maxPayloadLength` is cut, as the drivers and servers cut one large frame, into consecutive segments
    /// that are not self-contained.
    static func appendSegment(payload: UnsafeRawBufferPointer, compressedFormat: Bool, to output: inout [UInt8]) {
        let selfContained = payload.count <= maxPayloadLength
        var start = 0
        repeat {
            let end = min(start + maxPayloadLength, payload.count)
            let piece = UnsafeRawBufferPointer(rebasing: payload[start..<end])
            appendOne(piece, compressedFormat: compressedFormat, selfContained: selfContained, to: &output)
            start = end
        } while start < payload.count
    }

    private static func appendOne(_ payload: UnsafeRawBufferPointer, compressedFormat: Bool, selfContained: Bool,
                                  to output: inout [UInt8]) {
        // The flag sits above the length fields: bit 17, or bit 34 after the (zero) uncompressed length.
        var fields = UInt64(payload.count)
        if selfContained { fields |= 1 << (compressedFormat ? 34 : 17) }
        let fieldLength = (compressedFormat ? compressedHeaderLength : uncompressedHeaderLength) - 3
        appendLittleEndian(fields, byteCount: fieldLength, to: &output)
        appendLittleEndian(UInt64(crc24(fields: fields, byteCount: fieldLength)), byteCount: 3, to: &output)
        output.append(contentsOf: payload)
        appendLittleEndian(UInt64(crc32(payload)), byteCount: trailerLength, to: &output)
    }

    private static func appendLittleEndian(_ value: UInt64, byteCount: Int, to output: inout [UInt8]) {
        for index in 0..<byteCount {
            output.append(UInt8(truncatingIfNeeded: value >> (8 * index)))
        }
    }
}
