#if canImport(Glibc)
import Glibc
#endif
import ProxylibCore

/// cassandra: follows each connection write by write with its own reading of the native protocol (frames of
/// v3–v5 with their 9-byte header, v1/v2 negotiation frames, v5 segments, LZ4/Snappy bodies) and of CQL
/// (`OracleCQL`), written from the specification without any parser code, and checks:
///
/// - what reached the server is whole client frames, in order (PASS never cuts a frame; a v5 segment is
///   re-sent only with whole frames of the client's);
/// - no frame the policy forbids reaches the server (below);
/// - every frame that did not reach the server, unless the connection failed, is answered in its place: an
///   ERROR frame `0x80|version`, flags 0, the request's stream, opcode 0, body `[int] 0x2100 [string]`
///   (Unauthorized), or for an EXECUTE/BATCH naming a prepared id the proxy never saw `[int] 0x2500 [string]
///   [short bytes] id` (Unprepared) — in v5 segment mode each inside a segment of its own; the answers are
///   checked byte by byte in order against what the library wrote into the reply inject buffer;
/// - what reached the client is the server's frames, whole and in order, with those answers between them;
/// - a connection fails (parser ERROR) only on a write holding a malformed frame: a request with the response
///   bit or a response without it, a length over 256 MiB (which must be refused at its header, not waited
///   for), an opcode that is not a request, a body shorter than its fields, a version other than 3–5 that is
///   not OPTIONS/STARTUP, any compressed frame, anything after the switch to v5 segments.
///
/// Policy (endpoint 1.1.1.1, port 80):
///   allow: {select, ^ks\.pub}, {insert, ^ks\.orders$}; deny: {query_table: secret}; remote 7: {} (anything);
///   remote 9: deny everything.
/// So a request reaches the server from remote 1 or 2 only if it is a control message (STARTUP, OPTIONS,
/// REGISTER, AUTH_RESPONSE), a USE, or statements the oracle reads as a SELECT from `ks.pub…` or an INSERT
/// into `ks.orders` — for every keyspace an unqualified name may resolve to (the one the server last
/// confirmed with RESULT Set_keyspace, and those of USEs not yet answered) — none of whose tables contains
/// `secret`. From remote 7 anything goes but a statement the oracle is sure of whose table contains `secret`
/// (the deny rule). Nothing from remote 9 (protocol-version negotiation aside: an OPTIONS or STARTUP of a
/// version the parser does not read goes to the server, whose answer names its versions). An EXECUTE or a
/// batch entry is judged by what its PREPARE said, learnt from the server's RESULT Prepared on the PREPARE's
/// stream; an unknown id never passes. A compressed frame the oracle cannot decompress with what STARTUP
/// negotiated cannot be executed by the server either, and is not held against the parser.
struct CassandraOracle: RequestOracle {
    var rules: (allow: [L7KeyValueRule], deny: [L7KeyValueRule], allowSeven: [L7KeyValueRule]) {
        ([["query_action": "select", "query_table": "^ks\\.pub"], ["query_action": "insert", "query_table": "^ks\\.orders$"]],
         [["query_table": "secret"]],
         [[:]])
    }

    /// Parser divergences the oracle can let through while they are being fixed, each off by default (both
    /// below are fixed; the regression inputs under Tests/Fuzz/regressions/datapath-cassandra/ check them).
    struct Tolerances {
        /// Requests that consult no rule — USE (QUERY, PREPARE, EXECUTE of a prepared USE) and a batch of no
        /// statements — passed even when the policy denies the remote everything (remote 9).
        var ruleFreeRequestsFromDeniedRemote = false
        /// The first RESULT or ERROR on a stream taken as the answer to every USE and PREPARE in flight there,
        /// and the last Set_keyspace answer as the connection's keyspace. When on, the oracle stops following
        /// a connection at the first request that makes this possible.
        var concurrentKeyspaceChanges = false
    }

    var tolerances = Tolerances()

    func checkForwarded(_ stream: [UInt8], written: [UInt8], remote: UInt32) throws(FuzzViolation) {
        let event = DatapathEvent(source: .client, input: written, endStream: false, toServer: stream, toClient: [],
                                  injectedToClient: [], injectedToServer: [], failed: false)
        try checkConnection(ConnectionRecord(events: [event], forwarded: stream, written: written), remote: remote)
    }

    func checkConnection(_ connection: ConnectionRecord, remote: UInt32) throws(FuzzViolation) {
        var replay = CassandraReplay(remote: remote, tolerances: tolerances)
        for event in connection.events where !replay.lost {
            try replay.apply(event)
        }
        try replay.finish()
    }
}

/// The oracle's model of one connection, advanced write by write.
struct CassandraReplay {
    typealias Head = CQLWire.Head

    let remote: UInt32
    let tolerances: CassandraOracle.Tolerances
    /// Set when the oracle can no longer follow the conversation (a reply it cannot read that the parser did
    /// not refuse either, a segment layout it does not model): the remaining checks are skipped.
    private(set) var lost = false

    /// A malformed frame was seen and the connection did not fail at once: a later failure may be its.
    private var malformedSeen = false
    /// Streams where a PREPARE reached the server and no RESULT or ERROR has come back since: another PREPARE
    /// there must not pass (which answer is whose could not be told; the parser closes the connection).
    private var unansweredPrepares: Set<Int16> = []
    /// Streams where a PREPARE may have reached the server (a failed write's passes are not seen): another
    /// PREPARE there may be refused.
    private var preparedStreams: Set<Int16> = []

    // Requests: the client's bytes and what reached the server.
    private var client: [UInt8] = []
    private var clientAt = 0
    private var forwarded: [UInt8] = []
    private var forwardedAt = 0
    /// The rest of a passed v1/v2 frame, forwarded as it arrives.
    private var requestPassThrough = 0
    private var requestSegments = false
    /// Payload of the non-self-contained client segments of one frame so far, and where they started.
    private var spanPayload: [UInt8] = []
    /// Frames decoded from the segments that reached the server, not yet matched to the client's.
    private var forwardedFrames: [[UInt8]] = []
    private var forwardedSpan: [UInt8] = []

    // Replies.
    private var server: [UInt8] = []
    private var serverAt = 0
    private var replyPassThrough = 0
    /// Where segments start in the server's stream (after the READY/AUTHENTICATE that switched to v5 framing).
    private var replySegmentsFrom: Int?
    /// The server's stream cut into what the parser passes whole: frames, or segments.
    private var serverUnits: [Range<Int>] = []
    private var toClient: [UInt8] = []

    // What the server knows.
    /// The keyspaces the connection may be in once every USE answered so far took effect: one when the answers
    /// came one at a time, more when USEs overlapped (the server runs a connection's requests concurrently, and
    /// a client may reuse a stream id while its request is in flight, so which answer is whose is not known).
    private var settledKeyspaces: [[UInt8]] = []
    /// USEs sent and not answered yet, oldest first; `exact` is false once another overlapped it.
    private var uses: [(stream: Int16, keyspace: [UInt8], exact: Bool)] = []
    /// PREPAREs sent and not answered yet, by stream: what each prepared, and how many answers are due.
    private var prepares: [Int16: (contents: [Prepared], due: Int)] = [:]
    /// Requests that reached the server and are not answered yet, by stream.
    private var inFlight: [Int16: Int] = [:]
    /// Payload of the non-self-contained server segments of one frame so far.
    private var replySpan: [UInt8] = []
    private var prepared: [[UInt8]: Prepared] = [:]
    private var compression: CQLWire.Compression?
    private var startupVersion: UInt8?

    // Answers to dropped requests.
    private var expected: [Expected] = []
    /// Answers that may follow after a failed write (its frames may have been dropped before the failure).
    private var optional: [Expected] = []
    private var injected: [UInt8] = []

    init(remote: UInt32, tolerances: CassandraOracle.Tolerances) {
        self.remote = remote
        self.tolerances = tolerances
    }

    /// What a PREPARE prepared, its tables resolved when it was prepared.
    indirect enum Prepared {
        case use([UInt8])
        case statements([Resolved])
        case uncertain
        /// One of these: the answer came on a stream that carried several PREPAREs at once.
        case oneOf([Prepared])
    }

    /// A statement with the `keyspace.table` strings (the keyspace alone for keyspace actions) it may act on.
    struct Resolved {
        var action: OracleCQL.Action
        var tables: [[UInt8]]
        /// An unqualified name while the connection can be in no keyspace: the server refuses it, so it is
        /// harmless whatever it is called.
        var refusedByServer = false
    }

    enum Answer: Equatable, CustomStringConvertible {
        case unauthorized
        case unprepared([UInt8])
        /// Unauthorized, or Unprepared for one of these ids (the server answered their PREPARE, but on a stream
        /// where the proxy may have taken the answer for another request's).
        case unauthorizedOrUnprepared([[UInt8]])
        /// Either of the two, any id.
        case anyError

        var description: String {
            switch self {
            case .unauthorized: return "Unauthorized"
            case .unprepared(let id): return "Unprepared \(ByteText.show(id[...]))"
            case .unauthorizedOrUnprepared(let ids): return "Unauthorized or Unprepared \(ids.map { ByteText.show($0[...]) })"
            case .anyError: return "Unauthorized or Unprepared"
            }
        }
    }

    struct Expected {
        var version: UInt8
        var stream: Int16
        /// nil: the oracle does not know what the answer is (answers are not checked from here on).
        var answer: Answer?
        var segmented: Bool
        var compressedFormat: Bool
    }

    // MARK: Events

    mutating func apply(_ event: DatapathEvent) throws(FuzzViolation) {
        injected += event.injectedToClient
        toClient += event.toClient
        switch event.source {
        case .client: try clientWrote(event)
        case .server: try serverWrote(event)
        case .flush: break
        }
    }

    mutating func finish() throws(FuzzViolation) {
        guard !lost else { return }
        guard let answers = try checkAnswers() else { return }
        try checkToClient(answers: answers)
    }

    private func fail(_ text: String) -> FuzzViolation {
        FuzzViolation("cassandra (remote \(remote)): \(text)")
    }

    // MARK: Requests

    /// What one request unit is and what the parser may do with it.
    struct Judgement {
        var mustNotPass = false
        var why = ""
        var errorAllowed = false
        var answer: Answer? = .unauthorized
        var onPass: Effect = .none
        var onDecide: Effect = .none
        /// The request consults no rule (a USE, a batch of no statements).
        var ruleFree = false
    }

    enum Effect {
        case none
        /// USEs now in flight on a stream (several: the request may be any one of them).
        case use(Int16, [[UInt8]])
        case prepare(Int16, Prepared)
        case startup(UInt8, CQLWire.Compression?)
    }

    private mutating func clientWrote(_ event: DatapathEvent) throws(FuzzViolation) {
        client += event.input
        forwarded += event.toServer
        var errorSeen = requestSegments
        var refusedAtHeader = false
        while true {
            if requestPassThrough > 0 {
                let n = min(requestPassThrough, client.count - clientAt)
                guard n > 0 else { break }
                if forwarded.count - forwardedAt >= n,
                   forwarded[forwardedAt..<(forwardedAt + n)].elementsEqual(client[clientAt..<(clientAt + n)]) {
                    forwardedAt += n
                } else if !event.failed {
                    // (A failed write's output towards the server is taken back.)
                    throw fail("the rest of a passed v1/v2 frame did not reach the server: \(ByteText.show(client[clientAt...]))")
                }
                clientAt += n
                requestPassThrough -= n
                continue
            }
            if requestSegments {
                guard try nextClientSegment(event) else { break }
                errorSeen = true
                continue
            }
            guard let head = Head(client, at: clientAt) else { break }
            if head.isLegacy {
                // v1/v2: only OPTIONS and STARTUP, for version negotiation; passed at the header.
                let negotiation = !head.isResponse && head.length <= CQLWire.maxBody
                    && (head.opcode == CQLWire.opOptions || head.opcode == CQLWire.opStartup)
                errorSeen = errorSeen || !negotiation
                let available = min(head.total, client.count - clientAt)
                if forwarded.count - forwardedAt >= available,
                   forwarded[forwardedAt..<(forwardedAt + available)].elementsEqual(client[clientAt..<(clientAt + available)]) {
                    if !negotiation {
                        throw fail("a v\(head.version) frame other than OPTIONS/STARTUP (or a response, or over 256 MiB) reached the server: \(ByteText.show(client[clientAt..<(clientAt + available)]))")
                    }
                    forwardedAt += available
                    requestPassThrough = head.total - available
                } else if event.failed {
                    note(Expected(version: head.version, stream: head.stream, answer: nil, segmented: false, compressedFormat: false),
                         failed: true)
                    guard available == head.total else { break }
                } else {
                    // Not decided yet: the parser may ask for a 9-byte header before it sees an 8-byte one.
                    malformedSeen = malformedSeen || !negotiation
                    break
                }
                clientAt += available
                continue
            }
            if head.isResponse || head.length > CQLWire.maxBody {
                errorSeen = true
                // A body over the limit must be refused at once, not waited for.
                refusedAtHeader = head.length > CQLWire.maxBody
            }
            guard client.count - clientAt >= head.total else { break }
            let frame = Array(client[clientAt..<(clientAt + head.total)])
            clientAt += head.total
            let judgement = judge(head, frame: frame, inSegment: false)
            errorSeen = errorSeen || judgement.errorAllowed
            refusedAtHeader = false
            try decide(frame, head, judgement, event: event, segmented: false)
        }
        if !event.failed {
            if refusedAtHeader {
                throw fail("a request header declaring a body over 256 MiB was not refused: \(ByteText.show(client[clientAt..<(clientAt + 9)]))")
            }
            if requestSegments {
                try decodeForwardedSegments()
                if let leftover = forwardedFrames.first {
                    throw fail("a frame reached the server in a segment that is not one the client sent: \(ByteText.show(leftover[...]))")
                }
                if forwardedAt < forwarded.count || !forwardedSpan.isEmpty {
                    throw fail("part of a segment, or of a frame spread over segments, reached the server: \(ByteText.show(forwarded[forwardedAt...]))")
                }
            } else if forwardedAt < forwarded.count {
                throw fail("bytes reached the server that are not a whole request frame of the client's: \(ByteText.show(forwarded[forwardedAt...]))")
            }
        } else if !errorSeen && !malformedSeen {
            throw fail("the connection failed on a client write holding no malformed frame: \(ByteText.show(event.input[...]))")
        }
        if !event.failed && errorSeen { malformedSeen = true }
    }

    /// Whether `frame` reached the server (the next forwarded bytes, or in segment mode the next forwarded
    /// frame), and what follows from that.
    private mutating func decide(_ frame: [UInt8], _ head: Head, _ judgement: Judgement, event: DatapathEvent,
                                 segmented: Bool) throws(FuzzViolation) {
        let passed: Bool
        if segmented {
            try decodeForwardedSegments()
            passed = forwardedFrames.first == frame
            if passed { forwardedFrames.removeFirst() }
        } else {
            passed = forwarded.count - forwardedAt >= frame.count
                && forwarded[forwardedAt..<(forwardedAt + frame.count)].elementsEqual(frame)
            if passed { forwardedAt += frame.count }
        }
        apply(judgement.onDecide)
        if passed {
            if judgement.mustNotPass {
                throw fail("\(judgement.why) reached the server: \(ByteText.show(frame[...]))")
            }
            if tolerances.concurrentKeyspaceChanges {
                var changesState = false, isUse = false
                switch judgement.onPass {
                case .use: changesState = true; isUse = true
                case .prepare: changesState = true
                default: break
                }
                if (inFlight[head.stream, default: 0] > 0 && (changesState || isAwaited(head.stream))) || (isUse && !uses.isEmpty) {
                    lost = true
                }
            }
            apply(judgement.onPass)
            inFlight[head.stream, default: 0] += 1
            if head.opcode == CQLWire.opPrepare {
                unansweredPrepares.insert(head.stream)
                preparedStreams.insert(head.stream)
            }
        } else {
            if event.failed && head.opcode == CQLWire.opPrepare { preparedStreams.insert(head.stream) }
            note(Expected(version: head.version, stream: head.stream, answer: judgement.answer, segmented: segmented,
                          compressedFormat: compression == .lz4),
                 failed: event.failed)
        }
    }

    private mutating func note(_ answer: Expected, failed: Bool) {
        if failed { optional.append(answer) } else { expected.append(answer) }
    }

    private mutating func apply(_ effect: Effect) {
        switch effect {
        case .none:
            break
        case .use(let stream, let keyspaces):
            let exact = uses.isEmpty && keyspaces.count == 1
            if !exact { uses = uses.map { ($0.stream, $0.keyspace, false) } }
            uses += keyspaces.map { (stream, $0, exact) }
        case .prepare(let stream, let content):
            var entry = prepares[stream] ?? ([], 0)
            entry.contents.append(content)
            entry.due += 1
            prepares[stream] = entry
        case .startup(let version, let algorithm):
            startupVersion = version
            compression = algorithm
        }
    }

    /// Reads the next whole client segment (or run of segments carrying one frame) and decides its frames;
    /// false when it is not all there.
    private mutating func nextClientSegment(_ event: DatapathEvent) throws(FuzzViolation) -> Bool {
        let compressed = compression == .lz4
        guard let segment = CQLWire.Segment(client, at: clientAt, compressedFormat: compressed),
              client.count - clientAt >= segment.total else {
            return false
        }
        let payload = segment.payload(client, at: clientAt)
        clientAt += segment.total
        // Not decompressible: the parser must refuse it (were it forwarded, its decoding would fail).
        guard let payload else { return true }
        var frames: [[UInt8]] = []
        if segment.selfContained {
            let (whole, complete) = CQLWire.framesPrefix(in: payload)
            guard spanPayload.isEmpty, complete else {
                // Malformed: the parser must refuse it (any frame of it reaching the server is caught as not
                // being one of the client's), having perhaps answered denied frames before the bad part.
                spanPayload = []
                for frame in whole {
                    guard let head = Head(frame, at: 0) else { continue }
                    var answer = judge(head, frame: frame, inSegment: true).answer
                    if answer == .unauthorized { answer = .anyError }
                    optional.append(Expected(version: head.version, stream: head.stream, answer: answer, segmented: true,
                                             compressedFormat: compressed))
                }
                return true
            }
            frames = whole
        } else {
            spanPayload += payload
            guard let head = Head(spanPayload, at: 0), !head.isLegacy else { return true }
            guard spanPayload.count >= head.total else { return true }
            guard spanPayload.count == head.total else {
                spanPayload = []
                return true
            }
            frames = [spanPayload]
            spanPayload = []
        }
        for frame in frames {
            guard let head = Head(frame, at: 0) else { continue }
            try decide(frame, head, judge(head, frame: frame, inSegment: true), event: event, segmented: true)
        }
        return true
    }

    /// Decodes the segments that reached the server into frames (`forwardedFrames`).
    private mutating func decodeForwardedSegments() throws(FuzzViolation) {
        while let segment = CQLWire.Segment(forwarded, at: forwardedAt, compressedFormat: compression == .lz4),
              forwarded.count - forwardedAt >= segment.total {
            guard let payload = segment.payload(forwarded, at: forwardedAt) else {
                throw fail("a segment that does not decompress reached the server: \(ByteText.show(forwarded[forwardedAt...]))")
            }
            forwardedAt += segment.total
            if segment.selfContained {
                guard let frames = CQLWire.frames(in: payload) else {
                    throw fail("a self-contained segment not made of whole frames reached the server: \(ByteText.show(payload[...]))")
                }
                forwardedFrames += frames
            } else {
                forwardedSpan += payload
                if let head = Head(forwardedSpan, at: 0), forwardedSpan.count >= head.total {
                    forwardedFrames.append(forwardedSpan)
                    forwardedSpan = []
                }
            }
        }
    }

    // MARK: Judging a request frame

    private func forbidden(_ why: String, error: Bool = false, answer: Answer? = .unauthorized) -> Judgement {
        Judgement(mustNotPass: true, why: why, errorAllowed: error, answer: answer)
    }

    /// Decides what may happen to one whole request frame, from its header and body.
    func judge(_ head: Head, frame: [UInt8], inSegment: Bool) -> Judgement {
        let requestOps: [UInt8] = [CQLWire.opStartup, CQLWire.opOptions, CQLWire.opQuery, CQLWire.opPrepare,
                                   CQLWire.opExecute, CQLWire.opRegister, CQLWire.opBatch, CQLWire.opAuthResponse]
        if head.isResponse { return forbidden("a response frame from the client", error: true, answer: .anyError) }
        if inSegment ? head.version < 5 : !(3...5).contains(head.version) {
            if !inSegment, head.opcode == CQLWire.opOptions || head.opcode == CQLWire.opStartup,
               head.flags & CQLWire.flagCompressed == 0 {
                return Judgement(answer: nil)   // version negotiation
            }
            return forbidden("a v\(head.version) request other than OPTIONS/STARTUP", error: true, answer: .anyError)
        }
        guard requestOps.contains(head.opcode) else {
            return forbidden("a frame with opcode \(head.opcode), not a request", error: true, answer: .anyError)
        }
        let body = Array(frame[head.size...])
        var judgement: Judgement
        switch head.opcode {
        case CQLWire.opStartup:
            var reader = CQLWire.Reader(body)
            guard head.flags & CQLWire.flagCompressed == 0, let options = reader.stringMap() else {
                return forbidden("a malformed or compressed STARTUP", error: true, answer: .anyError)
            }
            let value = options.last { $0.0.map(CQLWire.lower) == Array("compression".utf8) }?.1
            judgement = Judgement(onDecide: .startup(head.version, value.flatMap(CQLWire.compression(named:))))
        case CQLWire.opOptions, CQLWire.opRegister, CQLWire.opAuthResponse:
            judgement = Judgement()
        case CQLWire.opPrepare where unansweredPrepares.contains(head.stream):
            // Two PREPAREs in flight on one stream: which statement an answer's id belongs to could not be told;
            // the parser closes the connection.
            return forbidden("a PREPARE on a stream whose PREPARE awaits its answer", error: true, answer: .anyError)
        default:
            judgement = judgeStatement(head, body: body, inSegment: inSegment)
            if head.opcode == CQLWire.opPrepare && preparedStreams.contains(head.stream) { judgement.errorAllowed = true }
        }
        if remote == 9 && !judgement.mustNotPass {
            judgement.mustNotPass = !judgement.ruleFree || !tolerances.ruleFreeRequestsFromDeniedRemote
            judgement.why = "a request from remote 9 (denied everything)"
        }
        return judgement
    }

    private func judgeStatement(_ head: Head, body raw: [UInt8], inSegment: Bool) -> Judgement {
        guard head.flags & CQLWire.flagCompressed != 0 else { return judgeBody(head, raw) }
        // What the server reads is what the negotiated algorithm makes of the body; when that is nothing, the
        // server refuses the frame too. Either way the parser may refuse compressed frames.
        guard !inSegment, head.version < 5, let algorithm = compression,
              let decompressed = CQLWire.decompressBody(raw, algorithm) else {
            return Judgement(errorAllowed: true, answer: .anyError)
        }
        var judgement = judgeBody(head, decompressed)
        judgement.errorAllowed = true
        if judgement.answer == .unauthorized { judgement.answer = .anyError }
        return judgement
    }

    private func judgeBody(_ head: Head, _ body: [UInt8]) -> Judgement {
        var reader = CQLWire.Reader(body)
        let malformed = forbidden("a request whose body does not hold its fields", error: true, answer: .anyError)
        if head.flags & CQLWire.flagPayload != 0 && !reader.skipBytesMap() { return malformed }
        switch head.opcode {
        case CQLWire.opQuery, CQLWire.opPrepare:
            guard let text = reader.longString() else { return malformed }
            var keyspace: [UInt8]?
            if head.version >= 5 {
                guard let parsed = head.opcode == CQLWire.opQuery ? Self.queryKeyspace(&reader) : Self.prepareKeyspace(&reader) else {
                    return malformed
                }
                keyspace = parsed
            }
            let meaning = OracleCQL.meaning(of: text)
            let what = head.opcode == CQLWire.opQuery ? "QUERY" : "PREPARE"
            let shown = "\(what) \(ByteText.show(text[...]))"
            switch meaning {
            case .use(let name):
                var judgement = Judgement()
                judgement.ruleFree = true
                judgement.onPass = head.opcode == CQLWire.opQuery ? .use(head.stream, [name]) : .prepare(head.stream, .use(name))
                return judgement
            case .statements(let statements):
                let resolved = statements.map { resolve($0, keyspace: keyspace) }
                var judgement = verdict(resolved, uncertain: false, what: shown)
                judgement.ruleFree = statements.isEmpty
                if head.opcode == CQLWire.opPrepare { judgement.onPass = .prepare(head.stream, .statements(resolved)) }
                return judgement
            case .uncertain:
                var judgement = verdict([], uncertain: true, what: shown)
                if head.opcode == CQLWire.opPrepare { judgement.onPass = .prepare(head.stream, .uncertain) }
                return judgement
            }
        case CQLWire.opExecute:
            guard let id = reader.string() else { return malformed }
            guard let content = prepared[id] else {
                return forbidden("an EXECUTE of an id never prepared on this connection", answer: .unprepared(id))
            }
            let candidates: [Prepared]
            if case .oneOf(let list) = content { candidates = list } else { candidates = [content] }
            var resolved: [Resolved] = []
            var keyspaces: [[UInt8]] = []
            var uncertain = false
            for candidate in candidates {
                switch candidate {
                case .use(let keyspace): keyspaces.append(keyspace)
                case .statements(let statements): resolved += statements
                case .uncertain, .oneOf: uncertain = true
                }
            }
            var judgement = keyspaces.count == candidates.count
                ? Judgement() : verdict(resolved, uncertain: uncertain, what: "EXECUTE of a prepared statement")
            judgement.ruleFree = keyspaces.count == candidates.count
            if !keyspaces.isEmpty { judgement.onPass = .use(head.stream, keyspaces) }
            if judgement.answer == .unauthorized { judgement.answer = .unauthorizedOrUnprepared([id]) }
            return judgement
        default:
            return judgeBatch(head, &reader)
        }
    }

    /// BATCH: `<type><n><entry>…<consistency><flags>[…]`, each entry a query string or a prepared id with its
    /// values.
    private func judgeBatch(_ head: Head, _ reader: inout CQLWire.Reader) -> Judgement {
        let malformed = forbidden("a BATCH whose body does not hold its fields", error: true, answer: .anyError)
        guard reader.byte() != nil, let count = reader.short() else { return malformed }
        enum Entry { case query([UInt8]), id([UInt8]) }
        var entries: [Entry] = []
        for _ in 0..<count {
            guard let kind = reader.byte() else { return malformed }
            switch kind {
            case 0:
                guard let text = reader.longString() else { return malformed }
                entries.append(.query(text))
            case 1:
                guard let id = reader.string() else { return malformed }
                entries.append(.id(id))
            default:
                return malformed
            }
            guard let values = reader.short() else { return malformed }
            for _ in 0..<values where !reader.skipValue() { return malformed }
        }
        guard reader.short() != nil else { return malformed }
        var keyspace: [UInt8]?
        if head.version >= 5 {
            guard let flags = reader.int() else { return malformed }
            if flags & 0x10 != 0 && reader.short() == nil { return malformed }
            if flags & 0x20 != 0 && !reader.skip(8) { return malformed }
            if flags & 0x80 != 0 {
                guard let name = reader.string() else { return malformed }
                keyspace = name
            }
        } else {
            guard reader.byte() != nil else { return malformed }
        }
        for case .id(let id) in entries where prepared[id] == nil {
            return forbidden("a BATCH naming an id never prepared on this connection", answer: .unprepared(id))
        }
        let ids = entries.compactMap { entry -> [UInt8]? in if case .id(let id) = entry { return id } else { return nil } }
        var resolved: [Resolved] = []
        var uncertain = false
        for entry in entries {
            switch entry {
            case .query(let text):
                if case .statements(let statements) = OracleCQL.meaning(of: text) {
                    resolved += statements.map { resolve($0, keyspace: keyspace) }
                } else {
                    uncertain = true
                }
            case .id(let id):
                let content = prepared[id]
                var candidates: [Prepared] = content.map { [$0] } ?? []
                if case .oneOf(let list)? = content { candidates = list }
                for candidate in candidates {
                    if case .statements(let statements) = candidate { resolved += statements } else { uncertain = true }
                }
            }
        }
        var judgement = verdict(resolved, uncertain: uncertain, what: "BATCH of \(count) entries")
        judgement.ruleFree = entries.isEmpty
        if !ids.isEmpty && judgement.answer == .unauthorized { judgement.answer = .unauthorizedOrUnprepared(ids) }
        return judgement
    }

    /// v5 QUERY parameters up to the keyspace: `<consistency><flags>[values][page size][paging state]
    /// [serial consistency][timestamp][keyspace]`; nil when the body ends early. `.some(nil)`: no keyspace.
    static func queryKeyspace(_ reader: inout CQLWire.Reader) -> [UInt8]?? {
        guard reader.short() != nil, let flags = reader.int() else { return nil }
        if flags & 0x01 != 0 {
            guard let count = reader.short() else { return nil }
            for _ in 0..<count {
                if flags & 0x40 != 0 && reader.string() == nil { return nil }
                guard reader.skipValue() else { return nil }
            }
        }
        if flags & 0x04 != 0 && reader.int() == nil { return nil }
        if flags & 0x08 != 0 && !reader.skipValue() { return nil }
        if flags & 0x10 != 0 && reader.short() == nil { return nil }
        if flags & 0x20 != 0 && !reader.skip(8) { return nil }
        guard flags & 0x80 != 0 else { return .some(nil) }
        guard let keyspace = reader.string() else { return nil }
        return .some(keyspace)
    }

    /// v5 PREPARE: `<flags>[keyspace]`.
    static func prepareKeyspace(_ reader: inout CQLWire.Reader) -> [UInt8]?? {
        guard let flags = reader.int() else { return nil }
        guard flags & 0x01 != 0 else { return .some(nil) }
        guard let keyspace = reader.string() else { return nil }
        return .some(keyspace)
    }

    /// The `keyspace.table` strings a statement may act on: its own keyspace, the request's (v5), or each
    /// keyspace the connection may be in (none yet: the bare name).
    func resolve(_ statement: OracleCQL.Statement, keyspace: [UInt8]?) -> Resolved {
        if statement.action.onKeyspace { return Resolved(action: statement.action, tables: [statement.name]) }
        let dot = UInt8(ascii: ".")
        if let own = statement.keyspace { return Resolved(action: statement.action, tables: [own + [dot] + statement.name]) }
        // An empty keyspace name is no keyspace: the bare name.
        func qualified(_ keyspace: [UInt8]) -> [UInt8] { keyspace.isEmpty ? statement.name : keyspace + [dot] + statement.name }
        if let keyspace { return Resolved(action: statement.action, tables: [qualified(keyspace)]) }
        var candidates = settledKeyspaces
        for use in uses where !candidates.contains(use.keyspace) { candidates.append(use.keyspace) }
        guard !candidates.isEmpty else { return Resolved(action: statement.action, tables: [statement.name], refusedByServer: true) }
        return Resolved(action: statement.action, tables: candidates.map(qualified))
    }

    /// The policy over statements (all of a request's must be allowed); `uncertain`: some could not be read.
    func verdict(_ statements: [Resolved], uncertain: Bool, what: String) -> Judgement {
        let secret = Array("secret".utf8)
        func hasSecret(_ table: [UInt8]) -> Bool { OracleCQL.find(secret, in: table, from: 0) != nil }
        let statements = statements.filter { !$0.refusedByServer }
        let denied = statements.first { $0.tables.contains(where: hasSecret) }
        switch remote {
        case 7:
            if let denied {
                return forbidden("\(what), acting on \(ByteText.show(denied.tables.first(where: hasSecret)![...])) (deny rule)")
            }
            return Judgement()
        default:
            if uncertain { return forbidden("\(what), which the oracle cannot read as an allowed statement") }
            let pub = Array("ks.pub".utf8), orders = Array("ks.orders".utf8)
            for statement in statements {
                let allowed = !statement.tables.isEmpty && !statement.tables.contains(where: hasSecret)
                    && ((statement.action == .select && statement.tables.allSatisfy { $0.starts(with: pub) })
                        || (statement.action == .insert && statement.tables.allSatisfy { $0 == orders }))
                if !allowed {
                    let shown = statement.tables.map { ByteText.show($0[...]) }.joined(separator: " or ")
                    return forbidden("\(what), a \(statement.action) on \(shown)")
                }
            }
            return Judgement()
        }
    }

    // MARK: Replies

    private mutating func serverWrote(_ event: DatapathEvent) throws(FuzzViolation) {
        server += event.input
        var errorSeen = false
        while true {
            if replyPassThrough > 0 {
                let n = min(replyPassThrough, server.count - serverAt)
                guard n > 0 else { break }
                serverAt += n
                replyPassThrough -= n
                continue
            }
            if let from = replySegmentsFrom, serverAt >= from {
                errorSeen = true
                guard try nextServerSegment(event) else { break }
                continue
            }
            guard let head = Head(server, at: serverAt) else { break }
            if head.isLegacy || !head.isResponse || head.length > CQLWire.maxBody {
                errorSeen = errorSeen || !head.isResponse || head.length > CQLWire.maxBody
                passReply(head)
                continue
            }
            // The answer to a v5 STARTUP switches both directions to segments.
            if let version = startupVersion {
                if head.opcode == CQLWire.opReady || head.opcode == CQLWire.opAuthenticate {
                    startupVersion = nil
                    if version >= 5 && head.version >= 5 {
                        requestSegments = true
                        replySegmentsFrom = serverAt + head.total
                    }
                } else if head.opcode == CQLWire.opError {
                    startupVersion = nil
                }
            }
            let awaited = (head.opcode == CQLWire.opResult || head.opcode == CQLWire.opError)
                && isAwaited(head.stream)
            guard awaited else {
                if head.opcode != 0x0C { answered(head.stream) }
                passReply(head)
                continue
            }
            guard server.count - serverAt >= head.total else { break }
            let frame = Array(server[serverAt..<(serverAt + head.total)])
            serverUnits.append(serverAt..<(serverAt + head.total))
            serverAt += head.total
            switch readAnswer(head, frame) {
            case .read: break
            case .readCompressed: errorSeen = true
            case .unreadable: errorSeen = true
            }
        }
        if event.failed && !errorSeen && !malformedSeen {
            throw fail("the connection failed on a server write holding no malformed frame: \(ByteText.show(event.input[...]))")
        }
        if !event.failed && errorSeen { malformedSeen = true }
    }

    private mutating func passReply(_ head: Head) {
        serverUnits.append(serverAt..<(serverAt + head.total))
        let available = min(head.total, server.count - serverAt)
        serverAt += available
        replyPassThrough = head.total - available
    }

    enum AnswerRead { case read, readCompressed, unreadable }

    /// Reads a RESULT or ERROR answering a pending PREPARE or USE (the parser may refuse a compressed one). One
    /// that does not hold its fields settles nothing for sure: a USE may have taken effect, a PREPARE's id is
    /// not known (the client cannot read it either).
    private mutating func readAnswer(_ head: Head, _ frame: [UInt8]) -> AnswerRead {
        let compressed = head.flags & CQLWire.flagCompressed != 0
        guard let (id, keyspace) = Self.answerContent(head, frame, compression) else {
            resolve(stream: head.stream, preparedID: nil, keyspace: nil, isError: false)
            return .unreadable
        }
        resolve(stream: head.stream, preparedID: id, keyspace: keyspace, isError: head.opcode == CQLWire.opError)
        return compressed ? .readCompressed : .read
    }

    /// The prepared id of a RESULT Prepared, the keyspace of a RESULT Set_keyspace; nil when the body does not
    /// hold its fields.
    static func answerContent(_ head: Head, _ frame: [UInt8], _ compression: CQLWire.Compression?) -> ([UInt8]?, [UInt8]?)? {
        var body = Array(frame[head.size...])
        if head.flags & CQLWire.flagCompressed != 0 {
            guard head.version < 5, let compression, let decompressed = CQLWire.decompressBody(body, compression) else {
                return nil
            }
            body = decompressed
        }
        var reader = CQLWire.Reader(body)
        if head.flags & CQLWire.flagTracing != 0 && !reader.skip(16) { return nil }
        if head.flags & CQLWire.flagWarning != 0 && !reader.skipStringList() { return nil }
        if head.flags & CQLWire.flagPayload != 0 && !reader.skipBytesMap() { return nil }
        guard head.opcode == CQLWire.opResult else { return (nil, nil) }
        guard let kind = reader.int() else { return nil }
        switch kind {
        case 4:
            guard let id = reader.string() else { return nil }
            return (id, nil)
        case 3:
            guard let keyspace = reader.string() else { return nil }
            return (nil, keyspace)
        default:
            return (nil, nil)
        }
    }

    func isAwaited(_ stream: Int16) -> Bool { prepares[stream] != nil || uses.contains { $0.stream == stream } }

    /// An answer on `stream`: RESULT Prepared answers one of its PREPAREs, RESULT Set_keyspace one of its USEs;
    /// anything else (an ERROR, another result) the one request in flight there — with both kinds in flight it
    /// may be either, so the USE's keyspace stays possible.
    private mutating func resolve(stream: Int16, preparedID: [UInt8]?, keyspace: [UInt8]?, isError: Bool) {
        let useIndex = uses.firstIndex { $0.stream == stream }
        // With several requests in flight on the stream, which one this answers is not known.
        let ambiguous = inFlight[stream, default: 0] > 1
        answered(stream)
        unansweredPrepares.remove(stream)
        func settle(_ names: [[UInt8]], replacing: Bool) {
            // An empty name is no keyspace.
            let names = names.filter { !$0.isEmpty }
            if replacing { settledKeyspaces = [] }
            for name in names where !settledKeyspaces.contains(name) { settledKeyspaces.append(name) }
        }
        // (A Prepared answer where no PREPARE is in flight, or a Set_keyspace where no USE is, is taken as an
        // answer of some other kind: the server is off the protocol, and the parser may take it so.)
        if let id = preparedID, var entry = prepares[stream] {
            prepared[id] = entry.contents.count == 1 ? entry.contents[0] : .oneOf(entry.contents)
            entry.due -= 1
            prepares[stream] = entry.due > 0 ? entry : nil
        } else if let keyspace, let useIndex {
            let use = uses.remove(at: useIndex)
            if use.exact && uses.isEmpty && !ambiguous {
                settle([keyspace], replacing: true)
            } else {
                settle([keyspace, use.keyspace], replacing: false)
            }
        } else if let useIndex {
            // A failed USE; or (ambiguous) the answer to another request, or a result of another kind (off the
            // protocol): the USE may take effect.
            let use = uses.remove(at: useIndex)
            if !use.exact || ambiguous || !isError { settle([use.keyspace], replacing: false) }
        } else if !ambiguous, var entry = prepares[stream] {
            entry.due -= 1
            prepares[stream] = entry.due > 0 ? entry : nil
        }
    }

    /// One answer on `stream` came back.
    private mutating func answered(_ stream: Int16) {
        if let count = inFlight[stream] { inFlight[stream] = count > 1 ? count - 1 : nil }
    }

    /// A whole response frame read by the oracle (its header, and its body when something waits on its stream).
    private mutating func replyFrame(_ head: Head, _ frame: [UInt8], failed: Bool) -> AnswerRead {
        guard head.opcode != 0x0C else { return .read }   // EVENT: answers nothing
        guard (head.opcode == CQLWire.opResult || head.opcode == CQLWire.opError) && isAwaited(head.stream) else {
            answered(head.stream)
            return .read
        }
        return readAnswer(head, frame)
    }

    /// A whole server segment: answers inside a self-contained one are read while something waits.
    private mutating func nextServerSegment(_ event: DatapathEvent) throws(FuzzViolation) -> Bool {
        guard let segment = CQLWire.Segment(server, at: serverAt, compressedFormat: compression == .lz4),
              server.count - serverAt >= segment.total else {
            return false
        }
        // (The parser may pass a segment at its header; the oracle reads it once it is all there.)
        let start = serverAt
        serverUnits.append(start..<(start + segment.total))
        serverAt += segment.total
        guard let payload = segment.payload(server, at: start) else {
            if !event.failed { lost = true }
            return true
        }
        var frames: [[UInt8]] = []
        if segment.selfContained {
            guard replySpan.isEmpty, let whole = CQLWire.frames(in: payload) else {
                if !event.failed { lost = true }
                return true
            }
            frames = whole
        } else {
            replySpan += payload
            guard let head = Head(replySpan, at: 0), replySpan.count >= head.total else { return true }
            guard replySpan.count == head.total else {
                if !event.failed { lost = true }
                return true
            }
            frames = [replySpan]
            replySpan = []
        }
        for frame in frames {
            guard let head = Head(frame, at: 0), head.isResponse else {
                if !event.failed { lost = true }
                return true
            }
            _ = replyFrame(head, frame, failed: event.failed)
        }
        return true
    }

    // MARK: Answers and what reached the client

    /// The answer frames the library wrote towards the client, one by one against the expected answers; the
    /// byte ranges of the answer units (frames, or segments), or nil when the oracle stopped reading them.
    private func checkAnswers() throws(FuzzViolation) -> [Range<Int>]? {
        var units: [Range<Int>] = []
        var at = 0
        var optionalAt = 0
        var index = 0
        while at < injected.count {
            if index < expected.count {
                let expectation = expected[index]
                index += 1
                guard let unit = try check(expectation, at: at) else { return nil }
                units.append(unit)
                at = unit.upperBound
                continue
            }
            // After a failed write: answers to some of its frames, in order.
            var matched: Range<Int>??
            while optionalAt < optional.count, matched == nil {
                matched = try? check(optional[optionalAt], at: at)
                optionalAt += 1
            }
            guard let found = matched else {
                throw fail("the client got an answer no dropped request calls for: \(ByteText.show(injected[at...]))")
            }
            guard let unit = found else { return nil }
            units.append(unit)
            at = unit.upperBound
        }
        return units
    }

    /// Checks the answer unit at `at` against `expectation`: its byte range (reaching past the end when it is
    /// cut short there), or nil when the oracle does not know the answer.
    private func check(_ expectation: Expected, at: Int) throws(FuzzViolation) -> Range<Int>? {
        guard let answer = expectation.answer else { return nil }
        let available = injected.count - at
        let frame: [UInt8]
        let end: Int
        if expectation.segmented {
            guard let segment = CQLWire.Segment(injected, at: at, compressedFormat: expectation.compressedFormat) else {
                return at..<(injected.count + 1)
            }
            guard available >= segment.total else { return at..<(at + segment.total) }
            guard segment.selfContained, let payload = segment.payload(injected, at: at) else {
                throw fail("an answer segment that is not self-contained or does not decompress: \(ByteText.show(injected[at...]))")
            }
            frame = payload
            end = at + segment.total
        } else {
            let start = Self.errorHeader(expectation, length: nil)
            guard injected[at...].prefix(start.count).elementsEqual(start.prefix(min(start.count, available))) else {
                throw fail("the answer to the request on stream \(expectation.stream) (v\(expectation.version)) has the wrong header: \(ByteText.show(injected[at...]))")
            }
            guard let head = Head(injected, at: at) else { return at..<(injected.count + 1) }
            guard available >= head.total else { return at..<(at + head.total) }
            frame = Array(injected[at..<(at + head.total)])
            end = at + head.total
        }
        try checkErrorFrame(frame, expectation, answer)
        return at..<end
    }

    private static func errorHeader(_ expectation: Expected, length: Int?) -> [UInt8] {
        let stream = UInt16(bitPattern: expectation.stream)
        var bytes: [UInt8] = [0x80 | expectation.version, 0, UInt8(stream >> 8), UInt8(stream & 0xFF), CQLWire.opError]
        if let length { bytes += [UInt8(length >> 24 & 0xFF), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)] }
        return bytes
    }

    private func checkErrorFrame(_ frame: [UInt8], _ expectation: Expected, _ answer: Answer) throws(FuzzViolation) {
        let shown = ByteText.show(frame[...])
        guard frame.count >= 9, frame[0..<9].elementsEqual(Self.errorHeader(expectation, length: frame.count - 9)) else {
            throw fail("the answer to the request on stream \(expectation.stream) (v\(expectation.version)) has the wrong header: \(shown)")
        }
        var reader = CQLWire.Reader(frame, from: 9)
        let code = reader.int()
        let message = reader.string()
        let unauthorized = code == 0x2100 && message != nil && reader.left == 0
        var unpreparedID: [UInt8]?
        if code == 0x2500 {
            var withMessage = reader
            if message != nil, let id = withMessage.string(), withMessage.left == 0 { unpreparedID = id }
        }
        switch answer {
        case .unauthorized where unauthorized, .anyError where unauthorized || unpreparedID != nil:
            return
        case .unprepared(let id) where unpreparedID == id:
            return
        case .unauthorizedOrUnprepared(let ids) where unauthorized || ids.contains(where: { $0 == unpreparedID }):
            return
        default:
            throw fail("the answer to the request on stream \(expectation.stream) is not \(answer): \(shown)")
        }
    }

    /// What reached the client: the server's frames (or segments) whole and in order, with the answer units
    /// between them; the last of either may be cut short where the connection ended.
    private func checkToClient(answers: [Range<Int>]) throws(FuzzViolation) {
        var units = serverUnits
        if let last = units.last, last.upperBound < server.count { units.append(last.upperBound..<(server.count + 1)) }
        if units.isEmpty, !server.isEmpty { units.append(0..<(server.count + 1)) }
        func start(_ ranges: [Range<Int>], _ index: Int, _ total: Int) -> Int {
            index < ranges.count ? ranges[index].lowerBound : max(total, ranges.last?.upperBound ?? 0)
        }
        // Depth-first over (server units, answer units) taken so far.
        var visited = Set<Int>()
        var stack = [(0, 0)]
        let width = answers.count + 1
        while let (u, v) = stack.popLast() {
            guard visited.insert(u * width + v).inserted else { continue }
            let position = start(units, u, server.count) + start(answers, v, injected.count)
            if position >= toClient.count { return }
            let rest = toClient[position...]
            for fromServer in [false, true] {
                let ranges = fromServer ? units : answers
                let index = fromServer ? u : v
                guard index < ranges.count else { continue }
                let range = ranges[index]
                let source = fromServer ? server : injected
                let unit = source[range.lowerBound..<min(range.upperBound, source.count)]
                if rest.count >= range.count {
                    if unit.count == range.count, rest.prefix(unit.count).elementsEqual(unit) {
                        stack.append(fromServer ? (u + 1, v) : (u, v + 1))
                    }
                } else if unit.starts(with: rest) {
                    return
                }
            }
        }
        throw fail("what reached the client is not the server's frames with the answers between them: \(ByteText.show(toClient[...]))")
    }
}
