import ProxylibCore
import Synchronization

/// kafka: follows each connection write by write with its own reading of Kafka (`KafkaWire`: size-prefixed
/// frames, request header v1/v2, Produce and Metadata requests and responses in every version, read with the
/// broker's Java rules), no parser code, and checks:
///
/// - what reached the server is whole client frames, in order;
/// - no request the policy forbids reaches the server — for the requests the oracle reads (Produce v0–v13,
///   Metadata v0–v13): every topic named must be allowed by a rule that applies (remote, api key, version,
///   client id); a request about every topic (Metadata with a null list, or v0's empty one) never is by a
///   topic rule; a request naming none (a Metadata request for the brokers only, an empty Produce) is judged
///   on api key, version and client id alone; a Metadata request passes when one of its topics is allowed,
///   and then its answer must reach the client masked: every entry of a denied topic it named says error 29,
///   with no partitions and a zero id; a topic named by id only (Produce v13, Metadata v10+ without a name)
///   counts as allowed only when some server of this process has sent that id right after an allowed name
///   (the only way a proxy can learn an id's name is from a Metadata response, where the id follows the name;
///   the scan is a superset of what any reading of those responses can learn); from remote 9 nothing passes;
/// - requests the oracle cannot read (other api keys and versions) or that the broker would refuse (malformed
///   by Java's rules) are not judged on their topics: the oracle cannot say what the broker would take them
///   for, and a frame the broker refuses does nothing;
/// - a frame whose size is below 8 or over 100 MiB is refused (the connection fails) once its first 8 bytes
///   are in, and never reaches the server;
/// - every denial the library writes towards the client is a well-formed response frame answering a request
///   that was dropped, in the order of those requests: for Produce and Metadata the response of the request's
///   version read to its end, every error code 29 (100 allowed where a topic is named by id), the request's
///   topics (names or ids) and partitions echoed; for other api keys the frame and its correlation id;
/// - the client sees the responses in the order of its requests: the server's responses (Metadata and
///   ApiVersions ones possibly as the library's rewritten copy, written in the response's place) and the
///   denials, each whole, correlation ids in request order (acks=0 Produce requests expect nothing and get
///   nothing); a server response while nothing is owed is passed as it is (the server's business);
/// - a connection fails on a client write only when that write holds a frame the oracle cannot read, reads as
///   malformed or with Java's `int` quirks, or a bad size.
///
/// Not checked: liveness (an allowed request may be dropped; a denial may wait for the next reply-side
/// write), the access log, failures on the reply side, and the topics of request types the oracle does not
/// read.
///
/// Policy (endpoint 1.1.1.1, port 80, both directions):
///   any remote: {topic: allowed}, {client_id: billing, topic: billing}, {api_keys: [3], topic: catalog},
///               {api_keys: [0], api_version: 3, topic: legacy}
///   remote 7:   {topic: seven}
///   remote 9:   deny everything
struct KafkaOracle: RequestOracle {
    var rules: (allow: [L7KeyValueRule], deny: [L7KeyValueRule], allowSeven: [L7KeyValueRule]) { ([], [], []) }

    struct Rule {
        var keys: [Int16] = []
        var version: Int16 = -1
        var client: String = ""
        var topic: String

        var config: KafkaRuleConfig {
            KafkaRuleConfig(apiVersion: Int32(version), apiKeys: keys.map(Int32.init), clientID: client, topic: topic)
        }

        func applies(to request: KafkaWire.Request) -> Bool {
            if !keys.isEmpty && !keys.contains(request.key) { return false }
            if version >= 0 && version != request.version { return false }
            if !client.isEmpty && request.client != Array(client.utf8) { return false }
            return true
        }
    }

    static let anyRemote: [Rule] = [
        Rule(topic: "allowed"),
        Rule(client: "billing", topic: "billing"),
        Rule(keys: [3], topic: "catalog"),
        Rule(keys: [0], version: 3, topic: "legacy"),
    ]
    static let remoteSeven: [Rule] = [Rule(topic: "seven")]
    /// Every name a rule allows (the names whose ids the oracle looks for in server bytes).
    static let ruleTopics: [[UInt8]] = (anyRemote + remoteSeven).map { Array($0.topic.utf8) }

    /// Parser divergences the oracle lets through while they are being fixed.
    struct Tolerances {
        /// The parser does not read Metadata yet (its description lands later): it may fail on any Metadata
        /// request.
        var metadataUnread = false
    }

    var tolerances = Tolerances()

    func policy(for parser: String) -> [NetworkPolicyConfig] {
        let rules = [
            PortNetworkPolicyRuleConfig(l7Proto: parser, l7: .kafka(Self.anyRemote.map(\.config))),
            PortNetworkPolicyRuleConfig(remotePolicies: [7], l7Proto: parser, l7: .kafka(Self.remoteSeven.map(\.config))),
            PortNetworkPolicyRuleConfig(deny: true, remotePolicies: [9]),
        ]
        let port = PortNetworkPolicyConfig(port: FuzzPolicies.port, rules: rules)
        return [NetworkPolicyConfig(endpointIPs: [FuzzPolicies.endpoint], endpointID: 42, ingress: [port], egress: [port])]
    }

    func checkForwarded(_ stream: [UInt8], written: [UInt8], remote: UInt32) throws(FuzzViolation) {
        let event = DatapathEvent(source: .client, input: written, endStream: false, toServer: stream, toClient: [],
                                  injectedToClient: [], injectedToServer: [], failed: false)
        try checkConnection(ConnectionRecord(events: [event], forwarded: stream, written: written), remote: remote)
    }

    func checkConnection(_ connection: ConnectionRecord, remote: UInt32) throws(FuzzViolation) {
        var replay = KafkaReplay(remote: remote, tolerances: tolerances)
        for event in connection.events {
            try replay.apply(event)
        }
        try replay.finish()
    }

    /// Whether a topic named in `request` is allowed by a rule that applies to it (by id: some name a server
    /// taught for that id is).
    static func allows(_ topic: KafkaWire.Topic, in request: KafkaWire.Request, remote: UInt32) -> Bool {
        let applicable = (anyRemote + (remote == 7 ? remoteSeven : [])).filter { $0.applies(to: request) }
        let names: Set<[UInt8]>
        if let name = topic.name {
            names = [name]
        } else if let id = topic.id {
            names = KafkaLearntIDs.names(for: id)
        } else {
            names = []
        }
        return names.contains { name in applicable.contains { Array($0.topic.utf8) == name } }
    }

    /// Whether the policy may let `request` from `remote` reach the server: every topic it names allowed by a
    /// rule that applies; a request about every topic never (every rule here has a topic); a request that
    /// names none (a Metadata request for the brokers, an empty Produce) when some rule applies to its api key,
    /// version and client id; a Metadata request when one of its topics is allowed (its answer is then masked).
    static func mayAllow(_ request: KafkaWire.Request, remote: UInt32) -> Bool {
        if remote == 9 || request.allTopics { return false }
        if request.topics.isEmpty {
            return (anyRemote + (remote == 7 ? remoteSeven : [])).contains { $0.applies(to: request) }
        }
        if request.key == KafkaWire.metadata {
            return request.topics.contains { allows($0, in: request, remote: remote) }
        }
        return request.topics.allSatisfy { allows($0, in: request, remote: remote) }
    }

    /// The names a Metadata request asks about that the policy denies: their entries in the answer must be
    /// masked.
    static func deniedNames(_ request: KafkaWire.Request, remote: UInt32) -> [[UInt8]] {
        guard request.key == KafkaWire.metadata else { return [] }
        return request.topics.compactMap { topic in
            guard let name = topic.name, !allows(topic, in: request, remote: remote) else { return nil }
            return name
        }
    }
}

/// Topic ids some server of this process sent right after a name the policy allows, process-wide (the
/// library's instance learns ids for all its connections, across fuzz inputs).
enum KafkaLearntIDs {
    private static let learnt = Mutex<[[UInt8]: Set<[UInt8]>]>([:])

    static func scan(_ stream: [UInt8]) {
        var found: [([UInt8], [UInt8])] = []
        for name in KafkaOracle.ruleTopics where stream.count >= name.count + 16 {
            for start in 0...(stream.count - name.count - 16)
            where stream[start..<(start + name.count)].elementsEqual(name) {
                found.append((Array(stream[(start + name.count)..<(start + name.count + 16)]), name))
            }
        }
        guard !found.isEmpty else { return }
        learnt.withLock { map in
            for (id, name) in found { map[id, default: []].insert(name) }
        }
    }

    static func names(for id: [UInt8]) -> Set<[UInt8]> {
        learnt.withLock { $0[id] ?? [] }
    }
}

/// The oracle's model of one connection, advanced write by write.
struct KafkaReplay {
    let remote: UInt32
    let tolerances: KafkaOracle.Tolerances

    private var client: [UInt8] = []
    private var clientAt = 0
    private var forwarded: [UInt8] = []
    private var forwardedAt = 0
    private var server: [UInt8] = []
    private var injected: [UInt8] = []

    /// What the client receives, and how far it has been read.
    private var toClient: [UInt8] = []
    private var toClientAt = 0
    private var serverSent = 0
    private var injectedSent = 0

    enum Source { case server, denial }

    /// A response the client is owed, oldest first. `optional`: the oracle does not know whether one is due
    /// (a request it cannot read that may be an acks=0 Produce).
    struct Owed {
        var correlation: Int32
        var source: Source
        var optional: Bool
        /// A response the library may rewrite (Metadata: masked; ApiVersions: capped): it reaches the client as
        /// a frame the library writes in its place.
        var rewritable = false
        /// Metadata: names whose entries must be masked (then the response must be rewritten).
        var masked: [[UInt8]] = []
    }

    private var owed: [Owed] = []
    /// The frame the client is reading: where its bytes come from (nil: the server, while nothing was owed)
    /// and how many are still to come.
    private var reading: (source: Source, remaining: Int)?

    /// The denials the library may write, in order.
    struct ExpectedDenial {
        var correlation: Int32
        var reading: KafkaWire.Reading
        var optional: Bool
        /// Not a denial: the rewritten response to a request that passed (always optional).
        var rewrite = false
    }

    private var denials: [ExpectedDenial] = []
    /// The server's responses the library rewrote, by where the rewrite starts in the injected stream.
    private var rewrittenFrom: [Int: [UInt8]] = [:]
    /// A frame the parser may refuse was seen and the connection did not fail at once.
    private var malformedSeen = false

    init(remote: UInt32, tolerances: KafkaOracle.Tolerances) {
        self.remote = remote
        self.tolerances = tolerances
    }

    private func fail(_ text: String) -> FuzzViolation {
        FuzzViolation("kafka (remote \(remote)): \(text)")
    }

    mutating func apply(_ event: DatapathEvent) throws(FuzzViolation) {
        injected += event.injectedToClient
        switch event.source {
        case .client: try clientWrote(event)
        case .server:
            server += event.input
            KafkaLearntIDs.scan(server)
        case .flush: break
        }
        toClient += event.toClient
        try readToClient()
    }

    mutating func finish() throws(FuzzViolation) {
        try checkDenials()
    }

    // MARK: Requests

    private func correlation(of reading: KafkaWire.Reading) -> Int32 {
        switch reading {
        case .request(let request): return request.correlation
        case .malformed(let request, _, _): return request.correlation
        case .unreadable(_, _, let correlation): return correlation
        }
    }

    private func key(of reading: KafkaWire.Reading) -> Int16? {
        switch reading {
        case .request(let request): return request.key
        case .malformed(let request, _, _): return request.key
        case .unreadable(let key, _, _): return key
        }
    }

    /// Whether a response is due: true, false, or nil when the oracle cannot tell (a Produce it cannot read).
    private func expectsResponse(_ reading: KafkaWire.Reading) -> Bool? {
        switch reading {
        case .request(let request): return request.expectsResponse
        case .malformed(let request, let acksRead, _):
            return request.key != KafkaWire.produce ? true : (acksRead ? request.acks != 0 : nil)
        case .unreadable(let key, _, _): return key != KafkaWire.produce ? true : nil
        }
    }

    /// Why the parser may refuse the frame (nil: it may not).
    private func mayRefuse(_ reading: KafkaWire.Reading) -> String? {
        switch reading {
        case .request(let request):
            if request.quirky { return "read with Java's int quirks" }
            if request.key == KafkaWire.metadata && tolerances.metadataUnread { return "Metadata (not read by the parser yet)" }
            return nil
        case .malformed(_, _, let why): return "malformed: \(why)"
        case .unreadable(let key, let version, _): return "api key \(key) version \(version), not read by the oracle"
        }
    }

    /// Why the frame must not reach the server (nil: it may).
    private func forbidden(_ reading: KafkaWire.Reading) -> String? {
        if remote == 9 { return "remote 9 is denied everything" }
        guard case .request(let request) = reading else { return nil }
        if KafkaOracle.mayAllow(request, remote: remote) { return nil }
        let topics = request.topics.map { topic in
            topic.name.map { ByteText.show($0[...]) } ?? "id " + ByteText.show((topic.id ?? [])[...])
        }
        return "api key \(request.key) v\(request.version), client \(request.client.map { ByteText.show($0[...]) } ?? "null"), topics \(topics) are not all allowed"
    }

    private mutating func clientWrote(_ event: DatapathEvent) throws(FuzzViolation) {
        client += event.input
        forwarded += event.toServer
        var refusable: String?
        var badSize: Int32?
        while client.count - clientAt >= 8 {
            let size = KafkaWire.int32(client, at: clientAt)
            guard size >= 8, Int(size) <= KafkaWire.maxFrame else {
                badSize = size
                break
            }
            let total = 4 + Int(size)
            guard client.count - clientAt >= total else { break }
            let frame = Array(client[clientAt..<(clientAt + total)])
            clientAt += total
            let reading = KafkaWire.readRequest(frame)
            if let why = mayRefuse(reading) { refusable = refusable ?? why }
            let passed = forwarded.count - forwardedAt >= total
                && forwarded[forwardedAt..<(forwardedAt + total)].elementsEqual(frame)
            let expects = expectsResponse(reading)
            let correlation = correlation(of: reading)
            if passed {
                forwardedAt += total
                if let why = forbidden(reading) {
                    throw fail("a request the policy denies reached the server (\(why)): \(ByteText.show(frame[...]))")
                }
                if expects != false {
                    var entry = Owed(correlation: correlation, source: .server, optional: expects == nil)
                    if let key = key(of: reading), key == KafkaWire.metadata || key == 18 {
                        entry.rewritable = true
                        if case .request(let request) = reading { entry.masked = KafkaOracle.deniedNames(request, remote: remote) }
                        denials.append(ExpectedDenial(correlation: correlation, reading: reading, optional: true, rewrite: true))
                    }
                    owed.append(entry)
                }
            } else if event.failed {
                // Dropped before the failure, or not decided: its denial may be in the inject buffer.
                if expects != false { denials.append(ExpectedDenial(correlation: correlation, reading: reading, optional: true)) }
            } else if expects != false {
                owed.append(Owed(correlation: correlation, source: .denial, optional: expects == nil))
                denials.append(ExpectedDenial(correlation: correlation, reading: reading, optional: expects == nil))
            }
        }
        if event.failed {
            if refusable == nil && badSize == nil && !malformedSeen {
                throw fail("the connection failed on a client write holding no frame the parser may refuse: \(ByteText.show(event.input[...]))")
            }
            return
        }
        if let badSize {
            throw fail("a request frame of size \(badSize) was not refused at its header: \(ByteText.show(client[clientAt...]))")
        }
        if forwardedAt < forwarded.count {
            throw fail("bytes reached the server that are not a whole request frame of the client's: \(ByteText.show(forwarded[forwardedAt...]))")
        }
        if refusable != nil { malformedSeen = true }
    }

    // MARK: What the client receives

    private mutating func readToClient() throws(FuzzViolation) {
        while true {
            if let current = reading {
                let n = min(current.remaining, toClient.count - toClientAt)
                guard n > 0 else { return }
                let part = toClient[toClientAt..<(toClientAt + n)]
                switch current.source {
                case .server:
                    guard server.count - serverSent >= n, server[serverSent..<(serverSent + n)].elementsEqual(part) else {
                        throw fail("the client got bytes that are not the server's next response: \(ByteText.show(part))")
                    }
                    serverSent += n
                case .denial:
                    guard injected.count - injectedSent >= n, injected[injectedSent..<(injectedSent + n)].elementsEqual(part) else {
                        throw fail("the client got bytes that are not the library's next denial: \(ByteText.show(part))")
                    }
                    injectedSent += n
                }
                toClientAt += n
                reading = current.remaining == n ? nil : (current.source, current.remaining - n)
                continue
            }
            guard toClient.count - toClientAt >= 8 else { return }
            let size = KafkaWire.int32(toClient, at: toClientAt)
            let correlation = KafkaWire.int32(toClient, at: toClientAt + 4)
            guard size >= 4 else {
                throw fail("a response frame of size \(size) reached the client: \(ByteText.show(toClient[toClientAt...]))")
            }
            while let head = owed.first, head.optional, head.correlation != correlation { owed.removeFirst() }
            var source = Source.server
            if let head = owed.first {
                guard head.correlation == correlation else {
                    throw fail("the client got a response with correlation id \(correlation) while the answer to \(head.correlation) was due (owed: \(owed.map(\.correlation)))")
                }
                source = head.source
                if head.rewritable && isRewrite(correlation) {
                    // The library read the server's response whole and wrote its own copy in its place.
                    guard server.count - serverSent >= 8 else {
                        throw fail("a rewritten response reached the client before the server's response: \(ByteText.show(toClient[toClientAt...]))")
                    }
                    let serverSize = KafkaWire.int32(server, at: serverSent)
                    guard serverSize >= 4, server.count - serverSent >= 4 + Int(serverSize) else {
                        throw fail("a rewritten response reached the client before the server's response was whole")
                    }
                    rewrittenFrom[injectedSent] = Array(server[serverSent..<(serverSent + 4 + Int(serverSize))])
                    serverSent += 4 + Int(serverSize)
                    source = .denial
                } else if !head.masked.isEmpty {
                    throw fail("a Metadata response reached the client unmasked, its request named denied topics \(head.masked.map { ByteText.show($0[...]) })")
                }
                owed.removeFirst()
            }
            reading = (source, 4 + Int(size))
        }
    }

    /// Whether the frame the client starts to read (correlation id `correlation`) is the library's rewrite
    /// rather than the server's response: the next frame the library wrote has that correlation id and the
    /// bytes the client got so far are its bytes.
    private func isRewrite(_ correlation: Int32) -> Bool {
        guard injected.count - injectedSent >= 8, KafkaWire.int32(injected, at: injectedSent + 4) == correlation else {
            return false
        }
        let n = min(toClient.count - toClientAt, injected.count - injectedSent)
        return injected[injectedSent..<(injectedSent + n)].elementsEqual(toClient[toClientAt..<(toClientAt + n)])
    }

    // MARK: Denials

    /// Every frame the library wrote towards the client answers a dropped request, in order, and is well formed.
    private mutating func checkDenials() throws(FuzzViolation) {
        var at = 0
        var next = 0
        while injected.count - at >= 8 {
            let size = KafkaWire.int32(injected, at: at)
            let correlation = KafkaWire.int32(injected, at: at + 4)
            guard size >= 4 else { throw fail("a denial frame of size \(size): \(ByteText.show(injected[at...]))") }
            while next < denials.count, denials[next].optional, denials[next].correlation != correlation { next += 1 }
            guard next < denials.count else {
                throw fail("a denial with correlation id \(correlation) answers no dropped request (dropped: \(denials.map(\.correlation)))")
            }
            let expected = denials[next]
            guard expected.correlation == correlation else {
                throw fail("a denial with correlation id \(correlation) while the denial of \(expected.correlation) was due")
            }
            next += 1
            let total = 4 + Int(size)
            guard injected.count - at >= total else { return }  // the rest was not written yet
            if expected.rewrite {
                try checkRewrite(Array(injected[at..<(at + total)]), of: rewrittenFrom[at], for: expected.reading)
            } else {
                try checkDenial(Array(injected[at..<(at + total)]), for: expected.reading)
            }
            at += total
        }
    }

    /// A rewritten Metadata response reads as one of the request's version (unless the server's did not
    /// either: a client cannot read it, whatever it holds), and every entry of a topic the request named and
    /// the policy denies says error 29, with no partitions and a zero id.
    private func checkRewrite(_ frame: [UInt8], of original: [UInt8]?, for reading: KafkaWire.Reading) throws(FuzzViolation) {
        guard case .request(let request) = reading, request.key == KafkaWire.metadata else { return }
        let denied = KafkaOracle.deniedNames(request, remote: remote)
        let answer: KafkaWire.Denial
        do throws(KafkaJavaReader.Malformed) {
            answer = try KafkaWire.readResponse(frame, key: request.key, version: request.version)
        } catch {
            let originalReads = original.map { (try? KafkaWire.readResponse($0, key: request.key, version: request.version)) != nil }
            if originalReads != true { return }
            throw fail("the masked Metadata v\(request.version) response does not read as one (\(error.why)), the server's did: \(ByteText.show(frame[...]))")
        }
        for (topic, code) in zip(answer.topics, answer.topicErrors) {
            guard let name = topic.name, denied.contains(name) else { continue }
            let zeroID = topic.id.map { $0.allSatisfy { $0 == 0 } } ?? true
            guard code == 29, topic.partitions.isEmpty, zeroID else {
                throw fail("the masked Metadata response shows denied topic \(ByteText.show(name[...])) (error \(code), \(topic.partitions.count) partitions): \(ByteText.show(frame[...]))")
            }
        }
    }

    private func checkDenial(_ frame: [UInt8], for reading: KafkaWire.Reading) throws(FuzzViolation) {
        guard case .request(let request) = reading else { return }
        let denial: KafkaWire.Denial
        do throws(KafkaJavaReader.Malformed) {
            denial = try KafkaWire.readResponse(frame, key: request.key, version: request.version)
        } catch {
            throw fail("the denial of api key \(request.key) v\(request.version) does not read as its response (\(error.why)): \(ByteText.show(frame[...]))")
        }
        let byID = request.topics.contains { $0.name == nil }
        for code in denial.errorCodes where code != 29 && !(byID && code == 100) {
            throw fail("the denial of api key \(request.key) v\(request.version) carries error code \(code): \(ByteText.show(frame[...]))")
        }
        guard denial.topics.count == request.topics.count else {
            throw fail("the denial echoes \(denial.topics.count) topics of the request's \(request.topics.count): \(ByteText.show(frame[...]))")
        }
        for (echo, topic) in zip(denial.topics, request.topics) {
            if request.key == KafkaWire.produce {
                guard echo == topic else {
                    throw fail("the Produce denial echoes \(echo) for \(topic): \(ByteText.show(frame[...]))")
                }
            } else if let name = topic.name, echo.name != name {
                throw fail("the Metadata denial echoes name \(echo.name.map { ByteText.show($0[...]) } ?? "null") for \(ByteText.show(name[...]))")
            }
        }
    }
}
