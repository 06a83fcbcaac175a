extension CassandraParser {
    /// Reads a whole reply frame that answers a PREPARE or a USE the parser waits for; false when the frame
    /// does not hold what its header says.
    func inspectReply(_ header: FrameHeader, frame: UnsafeRawBufferPointer) -> Bool {
        let body = UnsafeRawBufferPointer(rebasing: frame[FrameHeader.length...])
        guard header.isCompressed else { return inspectReplyBody(header, body) }
        guard header.version < 5, let compression = framing.compression else { return false }
        var decompressed = bodyScratch
        bodyScratch = []
        defer { bodyScratch = CassandraParser.keptScratch(decompressed) }
        guard CassandraDecompressor.decompressFrameBody(body, algorithm: compression, limit: FrameHeader.maxBodyLength,
                                                        into: &decompressed) else {
            return false
        }
        return decompressed.withUnsafeBytes { inspectReplyBody(header, $0) }
    }

    private func inspectReplyBody(_ header: FrameHeader, _ body: UnsafeRawBufferPointer) -> Bool {
        var reader = BodyReader(body)
        // Response flags put a tracing id, then warnings, then a custom payload before the message.
        if header.flags & FrameHeader.Flags.tracing != 0 && !reader.skip(16) { return false }
        if header.flags & FrameHeader.Flags.warning != 0 && !reader.skipStringList() { return false }
        if header.flags & FrameHeader.Flags.customPayload != 0 && !reader.skipBytesMap() { return false }
        var preparedID: UnsafeRawBufferPointer?
        var keyspace: UnsafeRawBufferPointer?
        if header.opcode == Opcode.result {
            guard let kind = reader.int() else { return false }
            switch kind {
            case ResultKind.prepared:
                guard let id = reader.shortBytes() else { return false }
                preparedID = id
            case ResultKind.setKeyspace:
                guard let name = reader.string() else { return false }
                keyspace = name
            default:
                break
            }
        }
        // An error or another result kind means the PREPARE or USE did not take effect. (A client never has two
        // requests in flight on one stream: a request reusing an awaited stream closes the connection.)
        if prepared.isPending(stream: header.stream) { prepared.resolvePrepare(stream: header.stream, id: preparedID) }
        if keyspaces.isUsePending(stream: header.stream) {
            let answer: KeyspaceTracker.Answer
            if let keyspace { answer = .switched(keyspace) } else if header.opcode == Opcode.error { answer = .refused } else { answer = .unexpected }
            keyspaces.resolveUse(stream: header.stream, answer)
        }
        return true
    }
}

/// RESULT kinds (native_protocol_v4.spec section 4.2.5).
enum ResultKind {
    static let void: Int32 = 1
    static let rows: Int32 = 2
    static let setKeyspace: Int32 = 3
    static let prepared: Int32 = 4
    static let schemaChange: Int32 = 5
}
