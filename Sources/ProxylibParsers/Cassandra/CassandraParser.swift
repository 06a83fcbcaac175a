import ProxylibCore

/// `cassandra`: Cassandra's native protocol, versions 3 to 5.
///
/// Requests are read whole; QUERY, PREPARE, EXECUTE and BATCH are checked against the policy by action and
/// table (`CassandraRule`), the table found by lexing the CQL (`CQLClassifier`), EXECUTE by what its PREPARE
/// said (learnt from the server's answer), a batch only as a whole. A denied request is dropped and answered
/// with an Unauthorized error for its stream; an unknown prepared id with Unprepared. Compressed frames (LZ4,
/// Snappy) are decompressed to be read; in protocol v5 the segments after STARTUP are unpacked and denials go
/// back as segments. Replies are passed, read only where they answer a PREPARE or a USE.
///
///     l7proto: cassandra
///     l7: [{query_action: select, query_table: "^system\\."}, {query_table: "^shop\\.orders$"}]
public final class CassandraParser: ConnectionParser {
    public static let name = "cassandra"

    let connection: Connection
    var framing = Framing()
    var keyspaces = KeyspaceTracker()
    var prepared = PreparedStatements()
    /// Denials waiting for room in the client's inject buffer.
    var toClient = InjectionQueue()
    /// v5: segments re-emitted without their denied frames, waiting for room in the server's inject buffer.
    var toServer = InjectionQueue()

    // Scratch space, reused: a frame spanning input slices, a decompressed body, a table name, a denial.
    var frameScratch: [UInt8] = []
    var bodyScratch: [UInt8] = []
    var tableScratch: [UInt8] = []
    var denialScratch: [UInt8] = []
    var segmentScratch: [UInt8] = []
    var payloadScratch: [UInt8] = []
    var keptScratch: [UInt8] = []
    var spanScratch: [UInt8] = []
    var compressedScratch: [UInt8] = []

    public init(connection: Connection) {
        self.connection = connection
    }

    public func onData(reply: Bool, endStream: Bool, input: InputView) -> ParserOp {
        let op = reply ? onReply(input) : onRequest(input)
        if input.count > Self.largeInput { releaseLargeScratch() }
        return op
    }

    /// Scratch space is only ever as large as the input it was filled from.
    private static let largeInput = 1 << 20

    /// `scratch`, or a fresh one when a decompressed frame made it large (its size is not bounded by the input).
    static func keptScratch(_ scratch: [UInt8]) -> [UInt8] {
        scratch.capacity > largeInput ? [] : scratch
    }

    /// Scratch space grown for one large frame is not kept for the life of the connection.
    private func releaseLargeScratch() {
        let limit = Self.largeInput
        if frameScratch.capacity > limit { frameScratch = [] }
        if bodyScratch.capacity > limit { bodyScratch = [] }
        if payloadScratch.capacity > limit { payloadScratch = [] }
        if keptScratch.capacity > limit { keptScratch = [] }
        if spanScratch.capacity > limit { spanScratch = [] }
    }

    // MARK: Requests

    private func onRequest(_ input: InputView) -> ParserOp {
        if !toServer.isEmpty {
            let written = toServer.flush(reply: false, connection: connection)
            return written > 0 ? .inject(written) : .nop
        }
        if framing.requestsInSegments { return onRequestSegment(input) }
        guard let first = input[0] else { return .more(FrameHeader.length) }
        if first & 0x7F < 3 { return legacyFrame(input, response: false) }
        guard input.count >= FrameHeader.length, let header = FrameHeader(input) else {
            return .more(FrameHeader.length - input.count)
        }
        guard !header.isResponse else { return .error(.invalidFrameType) }
        guard header.bodyLength <= FrameHeader.maxBodyLength else { return .error(.invalidFrameLength) }
        guard input.count >= header.frameLength else { return .more(header.frameLength - input.count) }
        guard FrameHeader.supportedVersions.contains(header.version) else { return negotiation(header) }
        let verdict = input.withContiguousBytes(from: 0, count: header.frameLength, scratch: &frameScratch) { frame in
            inspectRequest(header, frame: frame, inSegment: false)
        } ?? .malformed(.invalidFrameLength)
        switch verdict {
        case .pass: return .pass(header.frameLength)
        case .denied: return .drop(header.frameLength)
        case .malformed(let reason): return .error(reason)
        }
    }

    /// A frame of a version this parser does not read: OPTIONS and STARTUP go to the server, whose error
    /// answer names the versions it speaks (that is how drivers negotiate); anything else closes the connection.
    private func negotiation(_ header: FrameHeader) -> ParserOp {
        guard (header.opcode == Opcode.options || header.opcode == Opcode.startup) && !header.isCompressed else {
            return .error(.invalidFrameType)
        }
        return .pass(header.frameLength)
    }

    /// Protocol v1 and v2 frames have an 8-byte header (a 1-byte stream id); only version negotiation passes.
    private func legacyFrame(_ input: InputView, response: Bool) -> ParserOp {
        guard input.count >= 8, let first = input[0], let opcode = input[3],
              let length = input.readInteger(at: 4, as: UInt32.self) else {
            return .more(8 - input.count)
        }
        guard (first & 0x80 != 0) == response, Int(length) <= FrameHeader.maxBodyLength else {
            return .error(.invalidFrameType)
        }
        if !response && opcode != Opcode.options && opcode != Opcode.startup { return .error(.invalidFrameType) }
        return .pass(8 + Int(length))
    }

    // MARK: Replies

    private func onReply(_ input: InputView) -> ParserOp {
        if !toClient.isEmpty {
            let written = toClient.flush(reply: true, connection: connection)
            return written > 0 ? .inject(written) : .nop
        }
        // Nothing to read: no MORE, so that the datapath calls again on the next reply-side wake-up, when
        // denials that did not fit in the inject buffer can be written.
        guard let first = input[0] else { return .nop }
        if framing.repliesInSegments { return onReplySegment(input) }
        if first & 0x7F < 3 { return legacyFrame(input, response: true) }
        guard input.count >= FrameHeader.length, let header = FrameHeader(input) else {
            return .more(FrameHeader.length - input.count)
        }
        guard header.isResponse else { return .error(.invalidFrameType) }
        guard header.bodyLength <= FrameHeader.maxBodyLength else { return .error(.invalidFrameLength) }
        framing.noteReply(header)
        guard isAwaited(header) else { return .pass(header.frameLength) }
        guard input.count >= header.frameLength else { return .more(header.frameLength - input.count) }
        _ = input.withContiguousBytes(from: 0, count: header.frameLength, scratch: &frameScratch) { frame in
            inspectReply(header, frame: frame)
        }
        return .pass(header.frameLength)
    }

    /// Whether `header` answers a PREPARE or a USE the parser waits for.
    func isAwaited(_ header: FrameHeader) -> Bool {
        guard header.opcode == Opcode.result || header.opcode == Opcode.error,
              prepared.hasPending || keyspaces.hasPendingUses else { return false }
        return prepared.isPending(stream: header.stream) || keyspaces.isUsePending(stream: header.stream)
    }
}

/// What the parser decided about one request frame.
enum RequestVerdict: Equatable {
    case pass
    /// Dropped; its answer has been queued towards the client.
    case denied
    case malformed(ParserOpError)
}
