extension CassandraParser {
    /// Reads a whole reply frame that answers a PREPARE or a USE the parser waits for. An answer that does not
    /// hold what it should (a body it cannot read) is passed like any reply — the client is the one to refuse it —
    /// and settles the wait conservatively: the PREPARE learns no id, the USE's keyspace stays possible.
    func inspectReply(_ header: FrameHeader, frame: UnsafeRawBufferPointer) {
        let body = UnsafeRawBufferPointer(rebasing: frame[FrameHeader.length...])
        guard header.isCompressed else { return settle(header, answer: readAnswer(header, body)) }
        guard header.version < 5, let compression = framing.compression else { return settle(header, answer: .unreadable) }
        var decompressed = bodyScratch
        bodyScratch = []
        defer { bodyScratch = CassandraParser.keptScratch(decompressed) }
        guard CassandraDecompressor.decompressFrameBody(body, algorithm: compression, limit: FrameHeader.maxBodyLength,
                                                        into: &decompressed) else {
            return settle(header, answer: .unreadable)
        }
        decompressed.withUnsafeBytes { settle(header, answer: readAnswer(header, $0)) }
    }

    private enum Answer {
        case prepared(UnsafeRawBufferPointer)
        case setKeyspace(UnsafeRawBufferPointer)
        case error
        case otherResult
        case unreadable
    }

    private func readAnswer(_ header: FrameHeader, _ body: UnsafeRawBufferPointer) -> Answer {
        var reader = BodyReader(body)
        // Response flags put a tracing id, then warnings, then a custom payload before the message.
        if header.flags & FrameHeader.Flags.tracing != 0 && !reader.skip(16) { return .unreadable }
        if header.flags & FrameHeader.Flags.warning != 0 && !reader.skipStringList() { return .unreadable }
        if header.flags & FrameHeader.Flags.customPayload != 0 && !reader.skipBytesMap() { return .unreadable }
        guard header.opcode == Opcode.result else { return .error }
        guard let kind = reader.int() else { return .unreadable }
        switch kind {
        case ResultKind.prepared:
            guard let id = reader.shortBytes() else { return .unreadable }
            return .prepared(id)
        case ResultKind.setKeyspace:
            guard let name = reader.string() else { return .unreadable }
            return .setKeyspace(name)
        default:
            return .otherResult
        }
    }

    private func settle(_ header: FrameHeader, answer: Answer) {
        if prepared.isPending(stream: header.stream) {
            if case .prepared(let id) = answer {
                prepared.resolvePrepare(stream: header.stream, id: id)
            } else {
                prepared.resolvePrepare(stream: header.stream, id: nil)
            }
        }
        guard keyspaces.isUsePending(stream: header.stream) else { return }
        switch answer {
        case .setKeyspace(let name): keyspaces.resolveUse(stream: header.stream, .switched(name))
        case .error: keyspaces.resolveUse(stream: header.stream, .refused)
        case .prepared, .otherResult, .unreadable: keyspaces.resolveUse(stream: header.stream, .unexpected)
        }
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
