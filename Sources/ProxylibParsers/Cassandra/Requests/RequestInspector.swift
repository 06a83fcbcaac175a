import ProxylibCore

extension CassandraParser {
    /// Decides one whole request frame (`frame` holds its header and body, contiguous).
    func inspectRequest(_ header: FrameHeader, frame: UnsafeRawBufferPointer, inSegment: Bool) -> RequestVerdict {
        let body = UnsafeRawBufferPointer(rebasing: frame[FrameHeader.length...])
        switch header.opcode {
        case Opcode.startup:
            guard !header.isCompressed else { return .malformed(.invalidFrameType) }
            var reader = BodyReader(body)
            var compression: CassandraCompression?
            let wellFormed = reader.stringMap { key, value in
                if Self.equalsIgnoringCase(key, "compression") { compression = CassandraCompression(optionValue: value) }
            }
            guard wellFormed else { return .malformed(.invalidFrameType) }
            framing.noteStartup(version: header.version, compression: compression)
            return checkControl(header, inSegment: inSegment)
        case Opcode.options, Opcode.register, Opcode.authResponse:
            return checkControl(header, inSegment: inSegment)
        case Opcode.query, Opcode.prepare, Opcode.execute, Opcode.batch:
            // The answer to a PREPARE or USE is told by its stream. A client reusing that stream before the answer
            // came (the protocol forbids it; upstream's tests do it) makes the answers ambiguous once the request
            // reaches the server: an error on the stream then settles nothing.
            let awaitedPrepare = prepared.isPending(stream: header.stream)
            let awaitedUse = keyspaces.isUsePending(stream: header.stream)
            if awaitedPrepare && header.opcode == Opcode.prepare { return .malformed(.invalidFrameType) }
            let verdict = inspectStatementFrame(header, body: body, inSegment: inSegment)
            if verdict == .pass && (awaitedPrepare || awaitedUse) {
                prepared.markShared(stream: header.stream)
                keyspaces.markShared(stream: header.stream)
            }
            return verdict
        default:
            return .malformed(.invalidFrameType)
        }
    }

    /// QUERY, PREPARE, EXECUTE or BATCH, decompressed first when compressed.
    private func inspectStatementFrame(_ header: FrameHeader, body: UnsafeRawBufferPointer, inSegment: Bool) -> RequestVerdict {
        if !header.isCompressed {
            return inspectStatementRequest(header, body: body, inSegment: inSegment)
        }
        // In v5 compression belongs to segments; a frame flag there (or without negotiation) is an error.
        guard !inSegment, header.version < 5, let compression = framing.compression else {
            return .malformed(.invalidFrameType)
        }
        var decompressed = bodyScratch
        bodyScratch = []
        defer { bodyScratch = CassandraParser.keptScratch(decompressed) }
        guard CassandraDecompressor.decompressFrameBody(body, algorithm: compression, limit: FrameHeader.maxBodyLength,
                                                        into: &decompressed) else {
            return .malformed(.invalidFrameType)
        }
        return decompressed.withUnsafeBytes { inspectStatementRequest(header, body: $0, inSegment: inSegment) }
    }

    private func checkControl(_ header: FrameHeader, inSegment: Bool) -> RequestVerdict {
        if connection.matches(CassandraRequest.control) { return .pass }
        return deny(header, inSegment: inSegment)
    }

    private func inspectStatementRequest(_ header: FrameHeader, body: UnsafeRawBufferPointer, inSegment: Bool) -> RequestVerdict {
        var reader = BodyReader(body)
        if header.flags & FrameHeader.Flags.customPayload != 0 {
            guard reader.skipBytesMap() else { return .malformed(.invalidFrameType) }
        }
        switch header.opcode {
        case Opcode.query, Opcode.prepare:
            guard let text = reader.longString() else { return .malformed(.invalidFrameType) }
            let parameters = header.opcode == Opcode.query
                ? QueryParameters.queryKeyspace(&reader, version: header.version)
                : QueryParameters.prepareKeyspace(&reader, version: header.version)
            guard case .keyspace(let keyspace) = parameters else { return .malformed(.invalidFrameType) }
            return inspectQuery(header, text: text, keyspace: keyspace, inSegment: inSegment)
        case Opcode.execute:
            guard let id = reader.shortBytes() else { return .malformed(.invalidFrameType) }
            guard let statement = prepared.statement(for: id) else {
                return unprepared(header, id: id, inSegment: inSegment)
            }
            return inspectExecute(header, statement, inSegment: inSegment)
        default:
            return inspectBatch(header, body: body, from: reader.offset, inSegment: inSegment)
        }
    }

    // MARK: QUERY and PREPARE

    private func inspectQuery(_ header: FrameHeader, text: UnsafeRawBufferPointer, keyspace: UnsafeRawBufferPointer?,
                              inSegment: Bool) -> RequestVerdict {
        let isPrepare = header.opcode == Opcode.prepare
        var allowed = true
        let kind = CQLClassifier.classify(text) { statement, lexer in
            if allowed && !isAllowed(statement, lexer, keyspace: keyspace) { allowed = false }
        }
        switch kind {
        case .use(let token):
            // Upstream never checks nor logs USE: the statements that follow are checked in its keyspace. It
            // passes where a control request would: not for a peer the policy denies everything.
            guard connection.matches(CassandraRequest.control) else { return deny(header, inSegment: inSegment) }
            tableScratch.removeAll(keepingCapacity: true)
            CQLLexer(text).appendIdentifier(token, to: &tableScratch)
            if isPrepare {
                return prepared.notePrepare(stream: header.stream, PreparedStatement(content: .use(keyspace: tableScratch)))
                    ? .pass : .malformed(.invalidFrameType)
            }
            let noted = tableScratch.withUnsafeBytes { keyspaces.noteUse(stream: header.stream, keyspace: $0) }
            return noted ? .pass : deny(header, inSegment: inSegment)
        case .statements(let count):
            // An empty `BEGIN BATCH APPLY BATCH` is judged like a control request.
            if count == 0 { allowed = connection.matches(CassandraRequest.control) }
            // A prepared statement keeps the keyspace of its PREPARE: with a USE in flight that is not known.
            if allowed && isPrepare && keyspace == nil && keyspaces.candidateCount > 1
                && hasUnqualifiedTable(text) {
                allowed = false
            }
            if connection.logsAccess {
                _ = CQLClassifier.classify(text) { statement, lexer in
                    logStatement(statement, lexer, keyspace: keyspace, allowed: allowed)
                }
            }
            guard allowed else { return deny(header, inSegment: inSegment) }
            if isPrepare && !rememberPrepare(header.stream, text: text, keyspace: keyspace) {
                return .malformed(.invalidFrameType)
            }
            return .pass
        case .unclassified:
            allowed = connection.matches(CassandraRequest(kind: .unclassified, action: .select, table: Self.empty))
            logUnclassified(text, allowed: allowed)
            guard allowed else { return deny(header, inSegment: inSegment) }
            if isPrepare {
                let noted = prepared.notePrepare(stream: header.stream,
                                                 PreparedStatement(content: .unclassified(leadingWord: Self.leadingWord(text))))
                return noted ? .pass : .malformed(.invalidFrameType)
            }
            return .pass
        }
    }

    private func hasUnqualifiedTable(_ text: UnsafeRawBufferPointer) -> Bool {
        var found = false
        _ = CQLClassifier.classify(text) { statement, _ in
            if let name = statement.name, !name.isQualified, statement.action.tableKind == .table { found = true }
        }
        return found
    }

    private func rememberPrepare(_ stream: Int16, text: UnsafeRawBufferPointer, keyspace: UnsafeRawBufferPointer?) -> Bool {
        var statements: [StoredStatement] = []
        _ = CQLClassifier.classify(text) { statement, lexer in
            withTableName(statement, lexer, keyspace: keyspace, candidate: keyspaces.candidateCount - 1) { table in
                statements.append(StoredStatement(action: statement.action, table: Array(table)))
            }
        }
        return prepared.notePrepare(stream: stream, PreparedStatement(content: .statements(statements)))
    }

    // MARK: EXECUTE

    private func inspectExecute(_ header: FrameHeader, _ statement: PreparedStatement, inSegment: Bool) -> RequestVerdict {
        switch statement.content {
        case .use(let keyspace):
            guard connection.matches(CassandraRequest.control) else { return deny(header, inSegment: inSegment) }
            let noted = keyspace.withUnsafeBytes { keyspaces.noteUse(stream: header.stream, keyspace: $0) }
            return noted ? .pass : deny(header, inSegment: inSegment)
        case .statements(let statements):
            let allowed = statements.allSatisfy(isAllowed)
            for stored in statements { logStored(stored, allowed: allowed) }
            return allowed ? .pass : deny(header, inSegment: inSegment)
        case .unclassified(let word):
            let allowed = connection.matches(CassandraRequest(kind: .unclassified, action: .select, table: Self.empty))
            word.withUnsafeBytes { logUnclassifiedWord($0, allowed: allowed) }
            return allowed ? .pass : deny(header, inSegment: inSegment)
        }
    }

    // MARK: BATCH

    private func inspectBatch(_ header: FrameHeader, body: UnsafeRawBufferPointer, from offset: Int,
                              inSegment: Bool) -> RequestVerdict {
        // The keyspace (v5) follows the statements: one walk to find it, one to decide, one to log.
        guard case .keyspace(let keyspace) = BatchBody.walk(body, from: offset, version: header.version, { _ in true }) else {
            return .malformed(.invalidFrameType)
        }
        // An empty batch is judged like a control request (nothing else decides it).
        var allowed = true
        var statements = 0
        var unknownID: UnsafeRawBufferPointer?
        _ = BatchBody.walk(body, from: offset, version: header.version) { entry in
            statements += 1
            switch entry {
            case .query(let text):
                allowed = allowed && isAllowedInBatch(text, keyspace: keyspace)
            case .prepared(let id):
                guard let statement = prepared.statement(for: id) else {
                    unknownID = id
                    return false
                }
                if case .statements(let statements) = statement.content {
                    allowed = allowed && statements.allSatisfy(isAllowed)
                } else {
                    allowed = false
                }
            }
            return true
        }
        if let unknownID { return unprepared(header, id: unknownID, inSegment: inSegment) }
        if statements == 0 { allowed = connection.matches(CassandraRequest.control) }
        guard connection.logsAccess else { return allowed ? .pass : deny(header, inSegment: inSegment) }
        _ = BatchBody.walk(body, from: offset, version: header.version) { entry in
            switch entry {
            case .query(let text):
                let kind = CQLClassifier.classify(text) { statement, lexer in
                    logStatement(statement, lexer, keyspace: keyspace, allowed: allowed)
                }
                if kind == .unclassified { logUnclassified(text, allowed: allowed) }
            case .prepared(let id):
                if case .statements(let statements)? = prepared.statement(for: id)?.content {
                    for stored in statements { logStored(stored, allowed: allowed) }
                }
            }
            return true
        }
        return allowed ? .pass : deny(header, inSegment: inSegment)
    }

    /// A batch holds INSERT, UPDATE and DELETE statements only; anything else in one is denied.
    private func isAllowedInBatch(_ text: UnsafeRawBufferPointer, keyspace: UnsafeRawBufferPointer?) -> Bool {
        var allowed = true
        let kind = CQLClassifier.classify(text) { statement, lexer in
            if allowed && !isAllowed(statement, lexer, keyspace: keyspace) { allowed = false }
        }
        guard case .statements = kind else { return false }
        return allowed
    }

    // MARK: Answers

    func deny(_ header: FrameHeader, inSegment: Bool) -> RequestVerdict {
        denialScratch.removeAll(keepingCapacity: true)
        ErrorFrames.appendUnauthorized(version: header.version, stream: header.stream, to: &denialScratch)
        return sendToClient(inSegment: inSegment) ? .denied : .malformed(.invalidFrameType)
    }

    private func unprepared(_ header: FrameHeader, id: UnsafeRawBufferPointer, inSegment: Bool) -> RequestVerdict {
        connection.log(.denied, .generic(proto: Self.name, fields: L7Fields(("error", LogText("unknown prepared query id")))))
        denialScratch.removeAll(keepingCapacity: true)
        ErrorFrames.appendUnprepared(version: header.version, stream: header.stream, id: id, to: &denialScratch)
        return sendToClient(inSegment: inSegment) ? .denied : .malformed(.invalidFrameType)
    }

    /// Queues the frame in `denialScratch` towards the client, as a segment when the replies are segments.
    private func sendToClient(inSegment: Bool) -> Bool {
        guard framing.repliesInSegments else {
            return denialScratch.withUnsafeBytes { toClient.enqueue($0, reply: true, connection: connection) }
        }
        segmentScratch.removeAll(keepingCapacity: true)
        denialScratch.withUnsafeBytes { frame in
            SegmentCodec.appendSegment(payload: frame, compressedFormat: framing.segmentsCompressed, to: &segmentScratch)
        }
        return segmentScratch.withUnsafeBytes { toClient.enqueue($0, reply: true, connection: connection) }
    }

    static var empty: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: nil, count: 0) }

    static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool {
        guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
        let expected = UnsafeRawBufferPointer(start: lowercase.utf8Start, count: lowercase.utf8CodeUnitCount)
        for index in 0..<bytes.count where CQLLexer.lowercased(bytes[index]) != expected[index] { return false }
        return true
    }
}
