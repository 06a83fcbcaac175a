import CCompressionShim

/// Decompression of Cassandra bodies into a caller-owned buffer whose capacity is reused, so that steady-state
/// decoding does not allocate. Every function is safe on arbitrary bytes (the fuzzing guarantee): malformed
/// input, a size mismatch or an oversized declaration is `false`, and the declared size is checked before any
/// memory is reserved or any byte decoded: against the caller's limit, and against the most the compressed bytes
/// could expand to, so that a few bytes declaring a huge body cannot make a connection's buffer grow.
enum CassandraDecompressor {
    /// An LZ4 block yields at most 255 bytes per input byte (each match-length extension byte adds 255).
    private static let lz4MaximumExpansion = 255
    /// A snappy tag yields at most 64 bytes from 3 bytes (a 2-byte-offset copy); literals never expand.
    private static let snappyMaximumExpansion = 22

    /// A v3/v4 frame body with the compression flag: lz4 = 4-byte big-endian uncompressed length + LZ4 block;
    /// snappy = a raw snappy block (its varint prefix declares the length). Writes the decompressed body into
    /// `output` (emptied first, capacity kept). False when malformed (an empty body included: both formats have
    /// a length prefix), when the block does not decode to exactly the declared size, or when that size exceeds
    /// `limit`.
    static func decompressFrameBody(
        _ body: UnsafeRawBufferPointer, algorithm: CassandraCompression, limit: Int, into output: inout [UInt8]
    ) -> Bool {
        output.removeAll(keepingCapacity: true)
        switch algorithm {
        case .lz4:
            guard body.count >= 4 else { return false }
            let declared = Int(body[0]) << 24 | Int(body[1]) << 16 | Int(body[2]) << 8 | Int(body[3])
            guard declared <= limit, couldExpand(body.count - 4, to: declared, by: lz4MaximumExpansion) else { return false }
            return decompressLZ4(UnsafeRawBufferPointer(rebasing: body[4...]), length: declared, into: &output)
        case .snappy:
            let declared = proxylib_snappy_uncompressed_length(body.baseAddress, body.count)
            guard declared >= 0, declared <= limit, couldExpand(body.count, to: declared, by: snappyMaximumExpansion) else {
                return false
            }
            return decode(length: declared, into: &output) { destination in
                proxylib_snappy_uncompress(body.baseAddress, body.count, destination.baseAddress, destination.count)
            }
        }
    }

    /// A v5 segment payload: a raw LZ4 block whose uncompressed length comes from the segment header (so at
    /// most `SegmentCodec.maxPayloadLength`; larger is refused as a header could not have declared it).
    static func decompressLZ4Block(
        _ block: UnsafeRawBufferPointer, uncompressedLength: Int, into output: inout [UInt8]
    ) -> Bool {
        output.removeAll(keepingCapacity: true)
        guard uncompressedLength <= SegmentCodec.maxPayloadLength,
              couldExpand(block.count, to: uncompressedLength, by: lz4MaximumExpansion) else { return false }
        return decompressLZ4(block, length: uncompressedLength, into: &output)
    }

    private static func decompressLZ4(_ block: UnsafeRawBufferPointer, length: Int, into output: inout [UInt8]) -> Bool {
        decode(length: length, into: &output) { destination in
            proxylib_lz4_decompress(block.baseAddress, block.count, destination.baseAddress, destination.count)
        }
    }

    private static func couldExpand(_ compressed: Int, to length: Int, by ratio: Int) -> Bool {
        let (most, overflow) = compressed.multipliedReportingOverflow(by: ratio)
        return overflow || length <= most
    }

    /// Appends `length` bytes produced by `decoder` (given exactly that much room; it answers the bytes written,
    /// or -1) to the empty `output`; true only when it wrote exactly `length` bytes, otherwise `output` stays
    /// empty. The room is uninitialized spare capacity: no zero-filling pass before the decoder's.
    private static func decode(
        length: Int, into output: inout [UInt8], _ decoder: (UnsafeMutableRawBufferPointer) -> Int
    ) -> Bool {
        guard length >= 0 else { return false }
        var succeeded = false
        output.append(addingCapacity: length) { span in
            span.withUnsafeMutableBufferPointer { buffer, initializedCount in
                let room = UnsafeMutableRawBufferPointer(UnsafeMutableBufferPointer(rebasing: buffer.prefix(length)))
                guard room.count == length else { return }
                if decoder(room) == length {
                    initializedCount = length
                    succeeded = true
                }
            }
        }
        return succeeded
    }
}
