/// The header of a protocol v5 segment (native_protocol_v5.spec section 2). Once STARTUP/READY have switched a
/// v5 connection to "modern" framing, every byte on it travels in segments; frames (the v4 envelope: 9-byte
/// header + body) ride inside their payloads:
///
///     uncompressed format:  3 bytes, little-endian: payload length (17 bits) | self-contained (1) | padding (6)
///                           3 bytes: CRC24 of those 3 bytes, little-endian
///     compressed format:    5 bytes, little-endian: compressed length (17) | uncompressed length (17)
///                           | self-contained (1) | padding (5)
///                           3 bytes: CRC24 of those 5 bytes, little-endian
///     then the payload (compressed length bytes; an uncompressed length of 0 means "sent uncompressed"),
///     then 4 bytes: CRC32 of the payload as sent, little-endian.
///
/// A self-contained segment holds one or more whole frames; a frame larger than a segment's payload (128 KiB - 1)
/// is cut across consecutive segments that are not self-contained and carry only that frame.
struct SegmentHeader: Equatable {
    /// Bytes of payload on the wire (the compressed length when compressed).
    var payloadLength: Int
    /// 0 = payload not compressed (only the compressed header format has the field).
    var uncompressedLength: Int
    var isSelfContained: Bool
    /// 6 (uncompressed format) or 8 (compressed format), its CRC24 included.
    var headerLength: Int

    /// The whole segment: header, payload and the CRC32 trailer.
    var totalLength: Int { headerLength &+ payloadLength &+ 4 }
}

enum SegmentParse: Equatable {
    /// The header is incomplete: at least this many more bytes are needed.
    case needMore(Int)
    case header(SegmentHeader)
    /// The header's CRC24 does not match: the stream cannot be resynchronised.
    case corrupt
}
