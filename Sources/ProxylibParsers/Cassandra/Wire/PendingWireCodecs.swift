// TEMPORARY: replaced by the wire codecs branch (cass-wire) before anything lands.
import ProxylibCore
enum CassandraCompression: Sendable, Equatable {
    case lz4, snappy
    init?(optionValue: UnsafeRawBufferPointer) { return nil }
}
enum CassandraDecompressor {
    static func decompressFrameBody(_ body: UnsafeRawBufferPointer, algorithm: CassandraCompression, limit: Int, into output: inout [UInt8]) -> Bool { false }
    static func decompressLZ4Block(_ block: UnsafeRawBufferPointer, uncompressedLength: Int, into output: inout [UInt8]) -> Bool { false }
}
struct SegmentHeader: Equatable {
    var payloadLength: Int
    var uncompressedLength: Int
    var isSelfContained: Bool
    var headerLength: Int
    var totalLength: Int { headerLength + payloadLength + 4 }
}
enum SegmentParse: Equatable { case needMore(Int), header(SegmentHeader), corrupt }
enum SegmentCodec {
    static func parseHeader(_ input: InputView, compressedFormat: Bool) -> SegmentParse { .corrupt }
    static func payloadIsIntact(_ input: InputView, _ header: SegmentHeader) -> Bool { false }
    static func appendSegment(payload: UnsafeRawBufferPointer, compressedFormat: Bool, to output: inout [UInt8]) {}
}
