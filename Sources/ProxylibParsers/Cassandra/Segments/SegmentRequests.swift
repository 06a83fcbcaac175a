import ProxylibCore

/// Protocol v5 requests: segments of frames (native_protocol_v5.spec section 2). A self-contained segment
/// holds whole frames, each decided like a v4 frame; when some are denied the segment is dropped and re-sent
/// without them (a new segment: the CRCs cover the whole payload). A frame larger than a segment spans
/// several segments, which are decided together once all have arrived.
extension CassandraParser {
    func onRequestSegment(_ input: InputView) -> ParserOp {
        switch SegmentCodec.parseHeader(input, compressedFormat: framing.segmentsCompressed) {
        case .needMore(let count):
            return .more(count)
        case .corrupt:
            return .error(.invalidFrameType)
        case .header(let header):
            guard input.count >= header.totalLength else { return .more(header.totalLength - input.count) }
            guard SegmentCodec.payloadIsIntact(input, header) else { return .error(.invalidFrameType) }
            guard header.isSelfContained else { return onRequestSpanningFrame(input) }
            var payload = payloadScratch
            payloadScratch = []
            defer { payloadScratch = payload }
            guard Self.readPayload(input, at: 0, header, into: &payload) else { return .error(.invalidFrameType) }
            return payload.withUnsafeBytes { decideSegment($0, segmentLength: header.totalLength) }
        }
    }

    /// Decides each frame of a self-contained segment.
    private func decideSegment(_ payload: UnsafeRawBufferPointer, segmentLength: Int) -> ParserOp {
        keptScratch.removeAll(keepingCapacity: true)
        var denied = 0
        var offset = 0
        while offset < payload.count {
            let rest = UnsafeRawBufferPointer(rebasing: payload[offset...])
            guard let header = FrameHeader(rest), !header.isResponse, header.version >= 5,
                  header.frameLength <= rest.count else {
                return .error(.invalidFrameType)
            }
            let frame = UnsafeRawBufferPointer(rebasing: rest[..<header.frameLength])
            switch inspectRequest(header, frame: frame, inSegment: true) {
            case .pass: keptScratch.append(contentsOf: frame)
            case .denied: denied += 1
            case .malformed(let reason): return .error(reason)
            }
            offset += header.frameLength
        }
        guard denied > 0 else { return .pass(segmentLength) }
        if !keptScratch.isEmpty {
            segmentScratch.removeAll(keepingCapacity: true)
            keptScratch.withUnsafeBytes { kept in
                SegmentCodec.appendSegment(payload: kept, compressedFormat: framing.segmentsCompressed, to: &segmentScratch)
            }
            guard segmentScratch.withUnsafeBytes({ toServer.append($0) }) else { return .error(.invalidFrameType) }
        }
        return .drop(segmentLength)
    }

    /// A frame spread over several segments that are not self-contained: waits for all of them, joins their
    /// payloads and decides the frame; the segments are passed or dropped together.
    private func onRequestSpanningFrame(_ input: InputView) -> ParserOp {
        var joined = spanScratch
        spanScratch = []
        defer { spanScratch = joined }
        joined.removeAll(keepingCapacity: true)
        var payload = payloadScratch
        payloadScratch = []
        defer { payloadScratch = payload }
        var offset = 0
        var frameLength: Int?
        while frameLength.map({ joined.count < $0 }) ?? true {
            switch SegmentCodec.parseHeader(input.dropFirst(offset), compressedFormat: framing.segmentsCompressed) {
            case .needMore(let count):
                return .more(count)
            case .corrupt:
                return .error(.invalidFrameType)
            case .header(let header):
                guard input.count - offset >= header.totalLength else {
                    return .more(header.totalLength - (input.count - offset))
                }
                let segment = input.dropFirst(offset)
                guard !header.isSelfContained, SegmentCodec.payloadIsIntact(segment, header),
                      Self.readPayload(segment, at: 0, header, into: &payload) else {
                    return .error(.invalidFrameType)
                }
                joined.append(contentsOf: payload)
                offset += header.totalLength
                if frameLength == nil, joined.count >= FrameHeader.length {
                    guard let frameHeader = joined.withUnsafeBytes({ FrameHeader($0) }),
                          frameHeader.bodyLength <= FrameHeader.maxBodyLength else {
                        return .error(.invalidFrameLength)
                    }
                    frameLength = frameHeader.frameLength
                }
            }
        }
        guard let frameLength, joined.count == frameLength else { return .error(.invalidFrameType) }
        let verdict: RequestVerdict = joined.withUnsafeBytes { frame in
            guard let header = FrameHeader(frame), !header.isResponse, header.version >= 5 else {
                return .malformed(.invalidFrameType)
            }
            return inspectRequest(header, frame: frame, inSegment: true)
        }
        switch verdict {
        case .pass: return .pass(offset)
        case .denied: return .drop(offset)
        case .malformed(let reason): return .error(reason)
        }
    }

    /// The segment's payload, decompressed when it is compressed.
    static func readPayload(_ input: InputView, at offset: Int, _ header: SegmentHeader, into payload: inout [UInt8]) -> Bool {
        guard header.uncompressedLength > 0 else {
            return input.copyBytes(from: offset + header.headerLength, count: header.payloadLength, into: &payload)
        }
        var compressed: [UInt8] = []
        guard input.copyBytes(from: offset + header.headerLength, count: header.payloadLength, into: &compressed) else {
            return false
        }
        return compressed.withUnsafeBytes {
            CassandraDecompressor.decompressLZ4Block($0, uncompressedLength: header.uncompressedLength, into: &payload)
        }
    }
}
