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
            guard readPayload(input, header, into: &payload) else { return .error(.invalidFrameType) }
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

    /// A frame spread over several segments that are not self-contained: waits for all of them (reading only
    /// their headers, and the first payload for the frame's length), then joins their payloads and decides the
    /// frame; the segments are passed or dropped together.
    private func onRequestSpanningFrame(_ input: InputView) -> ParserOp {
        var payload = payloadScratch
        payloadScratch = []
        defer { payloadScratch = payload }
        // Where the frame's segments end, once all are in.
        var end = 0
        var frameLength = 0
        var carried = 0
        repeat {
            let segment = input.dropFirst(end)
            switch SegmentCodec.parseHeader(segment, compressedFormat: framing.segmentsCompressed) {
            case .needMore(let count):
                return .more(count)
            case .corrupt:
                return .error(.invalidFrameType)
            case .header(let header):
                guard !header.isSelfContained else { return .error(.invalidFrameType) }
                guard segment.count >= header.totalLength else { return .more(header.totalLength - segment.count) }
                if end == 0 {
                    guard SegmentCodec.payloadIsIntact(segment, header), readPayload(segment, header, into: &payload),
                          let frameHeader = payload.withUnsafeBytes({ FrameHeader($0) }),
                          frameHeader.bodyLength <= FrameHeader.maxBodyLength else {
                        return .error(.invalidFrameType)
                    }
                    frameLength = frameHeader.frameLength
                }
                carried += header.uncompressedLength > 0 ? header.uncompressedLength : header.payloadLength
                end += header.totalLength
            }
        } while carried < frameLength
        guard carried == frameLength else { return .error(.invalidFrameType) }

        var joined = spanScratch
        spanScratch = []
        defer { spanScratch = Self.keptScratch(joined) }
        joined.removeAll(keepingCapacity: true)
        var offset = 0
        while offset < end {
            let segment = input.dropFirst(offset)
            guard case .header(let header) = SegmentCodec.parseHeader(segment, compressedFormat: framing.segmentsCompressed),
                  SegmentCodec.payloadIsIntact(segment, header), readPayload(segment, header, into: &payload) else {
                return .error(.invalidFrameType)
            }
            joined.append(contentsOf: payload)
            offset += header.totalLength
        }
        guard joined.count == frameLength else { return .error(.invalidFrameType) }
        let verdict: RequestVerdict = joined.withUnsafeBytes { frame in
            guard let header = FrameHeader(frame), !header.isResponse, header.version >= 5 else {
                return .malformed(.invalidFrameType)
            }
            return inspectRequest(header, frame: frame, inSegment: true)
        }
        switch verdict {
        case .pass: return .pass(end)
        case .denied: return .drop(end)
        case .malformed(let reason): return .error(reason)
        }
    }

    /// The segment's payload (at the front of `input`), decompressed when it is compressed. A compressed
    /// payload is read in place when it lies in one input slice, else from a reused copy.
    func readPayload(_ input: InputView, _ header: SegmentHeader, into payload: inout [UInt8]) -> Bool {
        guard header.uncompressedLength > 0 else {
            return input.copyBytes(from: header.headerLength, count: header.payloadLength, into: &payload)
        }
        return input.withContiguousBytes(from: header.headerLength, count: header.payloadLength,
                                         scratch: &compressedScratch) { compressed in
            CassandraDecompressor.decompressLZ4Block(compressed, uncompressedLength: header.uncompressedLength, into: &payload)
        } ?? false
    }
}
