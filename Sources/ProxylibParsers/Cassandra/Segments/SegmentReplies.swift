import ProxylibCore

/// Protocol v5 replies: segments are passed whole; their frames are read only while a PREPARE or a USE
/// waits for its answer.
extension CassandraParser {
    func onReplySegment(_ input: InputView) -> ParserOp {
        switch SegmentCodec.parseHeader(input, compressedFormat: framing.segmentsCompressed) {
        case .needMore(let count):
            return .more(count)
        case .corrupt:
            return .error(.invalidFrameType)
        case .header(let header):
            guard prepared.hasPending || keyspaces.hasPendingUses, header.isSelfContained else {
                return .pass(header.totalLength)
            }
            guard input.count >= header.totalLength else { return .more(header.totalLength - input.count) }
            var payload = payloadScratch
            payloadScratch = []
            defer { payloadScratch = payload }
            guard SegmentCodec.payloadIsIntact(input, header), readPayload(input, header, into: &payload) else {
                return .error(.invalidFrameType)
            }
            let intact = payload.withUnsafeBytes { payload in
                var offset = 0
                while offset < payload.count {
                    let rest = UnsafeRawBufferPointer(rebasing: payload[offset...])
                    guard let frameHeader = FrameHeader(rest), frameHeader.isResponse,
                          frameHeader.frameLength <= rest.count else {
                        return false
                    }
                    if isAwaited(frameHeader) {
                        inspectReply(frameHeader, frame: UnsafeRawBufferPointer(rebasing: rest[..<frameHeader.frameLength]))
                    }
                    offset += frameHeader.frameLength
                }
                return true
            }
            return intact ? .pass(header.totalLength) : .error(.invalidFrameType)
        }
    }
}
