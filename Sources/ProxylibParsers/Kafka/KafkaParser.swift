import ProxylibCore

/// `kafka`: Kafka's binary protocol, every request version current clients send (flexible versions too).
///
/// Requests are read whole (size prefix, header, body walked by the compiled description of their api key and
/// version, `KafkaAPIs`), their topics checked against `kafka_rules`. An allowed request passes untouched; a
/// denied one is dropped and answered with its own response type carrying TOPIC_AUTHORIZATION_FAILED, written
/// in the client's response order (`KafkaPendingResponses`). Responses pass on their header; Metadata responses
/// that carry topic ids are read whole so the instance learns each id's name (`KafkaTopicIDs`), and ApiVersions
/// responses are capped at the versions we read (`KafkaApiVersionsCap`), so clients negotiate those.
///
///     l7proto: kafka
///     kafka_rules: [{topic: orders}, {api_keys: [18, 3], client_id: billing}]
public final class KafkaParser: ConnectionParser {
    public static let name = "kafka"

    /// The largest frame read: Kafka's own default request limit (socket.request.max.bytes).
    static let maxFrame = 100 << 20
    static let topicAuthorizationFailed: Int16 = 29
    static let unknownTopicID: Int16 = 100
    static let invalidMessage: Int16 = 2
    static let unsupportedVersion: Int16 = 35

    private let connection: Connection
    private let topicIDs: KafkaTopicIDs
    private var pending = KafkaPendingResponses()
    private var facts = KafkaFacts()
    private var writer = KafkaResponseWriter()
    /// A frame that spans input segments, joined; capacity reused (released after very large frames).
    private var scratch: [UInt8] = []
    private var topicNames: [UnsafeRawBufferPointer] = []
    private var covered: [Bool] = []
    /// A rewritten response being built (a masked Metadata response, a capped ApiVersions response).
    private var maskScratch: [UInt8] = []
    /// The topic list of the access-log entry being written (capacity reused).
    private var loggedTopicNames: [String] = []

    public init(connection: Connection) {
        self.connection = connection
        self.topicIDs = connection.instance.sharedState(KafkaTopicIDs.stateKey) { KafkaTopicIDs() }
    }

    public func onData(reply: Bool, endStream: Bool, input: InputView) -> ParserOp {
        reply ? onResponse(input) : onRequest(input)
    }

    // MARK: Requests

    private func onRequest(_ input: InputView) -> ParserOp {
        if input.isEmpty { return .nop }
        guard input.count >= 8, let size = input.readInteger(at: 0, as: Int32.self) else {
            return .more(8 - input.count)
        }
        guard size >= 8, Int(size) <= Self.maxFrame else {
            let correlation = input.readInteger(at: 4, as: Int32.self) ?? 0
            logRefused(correlationID: correlation, apiKey: -1, apiVersion: -1, errorCode: Self.invalidMessage)
            return .error(.invalidFrameLength)
        }
        let frameLength = 4 + Int(size)
        if input.count < frameLength { return .more(frameLength - input.count) }
        defer { releaseLargeScratch() }
        return input.withContiguousBytes(from: 0, count: frameLength, scratch: &scratch) { frame in
            decide(frame)
        } ?? .error(.invalidFrameLength)
    }

    private func decide(_ frame: UnsafeRawBufferPointer) -> ParserOp {
        guard var header = KafkaRequestHeader.peek(frame) else { return .error(.invalidFrameLength) }
        // The description of this key and version, when we have one.
        let api = KafkaAPIs.api(header.apiKey).flatMap { $0.supports(header.apiVersion) ? $0 : nil }
        var reader = KafkaReader(frame, at: KafkaRequestHeader.fixedEnd)
        guard api != nil || header.apiKey == KafkaAPIKey.apiVersions else {
            Diagnostics.debug("kafka: api key \(header.apiKey) version \(header.apiVersion) is not one we read; closing")
            logRefused(correlationID: header.correlationID, apiKey: header.apiKey, apiVersion: header.apiVersion,
                       errorCode: Self.unsupportedVersion)
            return .error(.invalidFrameType)
        }
        facts.reset()
        // ApiVersions of a version we do not know is read by its header alone: the broker answers it with the
        // versions it supports (that is how clients negotiate), and it names nothing a rule looks at.
        let walked = header.readRest(api: api, reader: &reader)
            && (api.map { KafkaWalker.walk($0.request(header.apiVersion), reader: &reader, facts: &facts) } ?? true)
        guard walked else {
            Diagnostics.debug("kafka: malformed request (api key \(header.apiKey) version \(header.apiVersion)); closing")
            logRefused(correlationID: header.correlationID, apiKey: header.apiKey, apiVersion: header.apiVersion,
                       errorCode: Self.invalidMessage)
            return .error(.invalidFrameType)
        }
        // The id map is loaded only for requests that name a topic by id (a load costs atomic operations).
        let snapshot = facts.topics.contains(where: { $0.name.isNull }) ? topicIDs.snapshot : nil
        return withExtendedLifetime(snapshot) {
            let verdict = check(header, api: api, frame: frame, snapshot: snapshot)
            return settle(verdict, header: header, api: api, frame: frame)
        }
    }

    private enum Verdict {
        case allowed
        case denied(errorCode: Int16)
    }

    /// Resolves every topic's name (ids through the instance's map) and asks the policy.
    private func check(_ header: KafkaRequestHeader, api: KafkaCompiledAPI?, frame: UnsafeRawBufferPointer,
                       snapshot: KafkaTopicIDs.Snapshot?) -> Verdict {
        topicNames.clearKeepingCapacity()
        var unknownID = false
        for topic in facts.topics {
            if !topic.name.isNull {
                topicNames.append(topic.name.bytes(in: frame))
            } else if let id = topic.id, let name = snapshot?.names[id] {
                // The snapshot is immutable and kept alive for the whole check (`decide`), so its name's
                // storage outlives this view.
                topicNames.append(name.withUnsafeBytes { $0 })
            } else {
                unknownID = true
                topicNames.append(UnsafeRawBufferPointer(start: nil, count: 0))
            }
        }
        if unknownID { return .denied(errorCode: Self.unknownTopicID) }
        covered.clearKeepingCapacity()
        for _ in 0..<topicNames.count { covered.append(false) }
        let allowed = topicNames.withUnsafeBufferPointer { names in
            covered.withUnsafeMutableBufferPointer { coverage in
                connection.matches(KafkaRequest(
                    apiKey: header.apiKey, apiVersion: header.apiVersion,
                    clientID: header.clientID.isNull ? nil : header.clientID.bytes(in: frame),
                    namesTopics: namesTopics(api, header),
                    topics: names, covered: coverage))
            }
        }
        return allowed ? .allowed : .denied(errorCode: Self.topicAuthorizationFailed)
    }

    /// Whether a topic rule applies: the request names topics, or asks about all of them (a null topic list;
    /// in Metadata v0, an empty one). A request of a topic type that names none — a Metadata request for the
    /// brokers only, which clients bootstrap with; an incremental Fetch with nothing to change; a config
    /// request about a broker — reveals no topic and is matched like a request without topics.
    private func namesTopics(_ api: KafkaCompiledAPI?, _ header: KafkaRequestHeader) -> Bool {
        guard let api, api.namesTopics(header.apiVersion) else { return false }
        if !facts.topics.isEmpty || facts.namesAllTopics { return true }
        return header.apiKey == KafkaAPIKey.metadata && header.apiVersion == 0
    }

    private func settle(_ verdict: Verdict, header: KafkaRequestHeader, api: KafkaCompiledAPI?,
                        frame: UnsafeRawBufferPointer) -> ParserOp {
        let expectsResponse = !(header.apiKey == KafkaAPIKey.produce && facts.acks == 0)
        switch verdict {
        case .allowed:
            log(.request, header, errorCode: 0, frame: frame)
            if expectsResponse {
                guard pending.awaitResponse(correlationID: header.correlationID, apiKey: header.apiKey,
                                            apiVersion: header.apiVersion) else { return .error(.invalidFrameLength) }
            }
            return .pass(frame.count)
        case .denied(let errorCode):
            if header.apiKey == KafkaAPIKey.metadata, errorCode == Self.topicAuthorizationFailed,
               !facts.namesAllTopics, covered.contains(true) {
                return passMasked(header, frame: frame)
            }
            log(.denied, header, errorCode: errorCode, frame: frame)
            guard expectsResponse else { return .drop(frame.count) }
            // ApiVersions is answered in version 0 whatever was asked: clients read an ApiVersions error that
            // way (it is how brokers refuse a version), and it is the one we can write for any version.
            let isApiVersions = header.apiKey == KafkaAPIKey.apiVersions
            guard let encoder = isApiVersions ? KafkaAPIs.api(header.apiKey) : api else {
                return .error(.invalidFrameType)
            }
            writer.write(api: encoder, version: isApiVersions ? 0 : header.apiVersion,
                         correlationID: header.correlationID, errorCode: errorCode, facts: facts, frame: frame)
            guard pending.queueDenial(writer.bytes, correlationID: header.correlationID, apiKey: header.apiKey,
                                      apiVersion: header.apiVersion) else { return .error(.invalidFrameLength) }
            // Nothing owed before it: the datapath writes it to the client at the next response boundary.
            _ = pending.writeDueDenials { connection.inject(reply: true, $0) }
            return .drop(frame.count)
        }
    }

    /// A Metadata request naming topics some of which the policy allows: it goes to the broker, and the
    /// denied topics' entries of its response are masked (`KafkaMetadataMask`), as a broker answers topics a
    /// client may not describe. (Denied whole, a client could not learn the allowed topics' leaders either,
    /// and would be stuck once it has asked about a denied topic.)
    private func passMasked(_ header: KafkaRequestHeader, frame: UnsafeRawBufferPointer) -> ParserOp {
        log(.request, header, errorCode: 0, frame: frame, covered: true)
        log(.denied, header, errorCode: Self.topicAuthorizationFailed, frame: frame, covered: false)
        let denied = topicNames.indices.lazy.filter { !self.covered[$0] }.map { self.topicNames[$0] }
        guard pending.awaitMaskedResponse(correlationID: header.correlationID, apiKey: header.apiKey,
                                          apiVersion: header.apiVersion, names: denied) else {
            return .error(.invalidFrameLength)
        }
        return .pass(frame.count)
    }

    // MARK: Responses

    private func onResponse(_ input: InputView) -> ParserOp {
        let injected = pending.writeDueDenials { connection.inject(reply: true, $0) }
        if injected > 0 { return .inject(injected) }
        if pending.first?.denial != nil {
            // A denial is due but the inject buffer has no room: nothing may pass ahead of it.
            return connection.isInjectBufferFull(reply: true) ? .nop : .error(.invalidFrameLength)
        }
        if input.isEmpty { return .nop }
        guard input.count >= 8, let size = input.readInteger(at: 0, as: Int32.self),
              let correlation = input.readInteger(at: 4, as: Int32.self) else {
            return .more(8 - input.count)
        }
        guard size >= 4 else { return .error(.invalidFrameLength) }
        let frameLength = 4 + Int(size)
        guard let owed = pending.first else {
            // Nothing is owed, so nothing can be out of order: passed as upstream passes it.
            connection.log(.response, .kafka(correlationID: correlation, errorCode: 0, apiVersion: 0, apiKey: 0, topics: []))
            return .pass(frameLength)
        }
        guard owed.correlationID == correlation else {
            Diagnostics.debug("kafka: response with correlation id \(correlation) answers no request awaited; closing")
            return .error(.invalidFrameType)
        }
        if owed.masked != nil {
            guard Int(size) <= Self.maxFrame else { return .error(.invalidFrameLength) }
            if input.count < frameLength { return .more(frameLength - input.count) }
            defer { releaseLargeScratch() }
            let masked = input.withContiguousBytes(from: 0, count: frameLength, scratch: &scratch) { frame in
                mask(frame, owed: owed)
            } ?? false
            guard masked else { return .error(.invalidFrameType) }
            connection.log(.response, .kafka(correlationID: correlation, errorCode: 0, apiVersion: Int32(owed.apiVersion),
                                             apiKey: Int32(owed.apiKey), topics: []))
            // The masked copy is now the first thing owed: written by the next call, in the response's place.
            return .drop(frameLength)
        }
        if owed.apiKey == KafkaAPIKey.apiVersions {
            guard Int(size) <= Self.maxFrame else { return .error(.invalidFrameLength) }
            if input.count < frameLength { return .more(frameLength - input.count) }
            defer { releaseLargeScratch() }
            let capped = input.withContiguousBytes(from: 0, count: frameLength, scratch: &scratch) { frame in
                KafkaApiVersionsCap.rewrite(frame, version: owed.apiVersion, into: &maskScratch)
            } ?? false
            if capped {
                connection.log(.response, .kafka(correlationID: correlation, errorCode: 0,
                                                 apiVersion: Int32(owed.apiVersion), apiKey: Int32(owed.apiKey), topics: []))
                guard pending.replaceFirst(with: maskScratch) else { return .error(.invalidFrameLength) }
                return .drop(frameLength)
            }
        }
        // Metadata responses name topics by id and name from version 10 on.
        if owed.apiKey == KafkaAPIKey.metadata, owed.apiVersion >= 10, let api = KafkaAPIs.api(owed.apiKey),
           api.supports(owed.apiVersion) {
            guard Int(size) <= Self.maxFrame else { return .error(.invalidFrameLength) }
            if input.count < frameLength { return .more(frameLength - input.count) }
            defer { releaseLargeScratch() }
            _ = input.withContiguousBytes(from: 0, count: frameLength, scratch: &scratch) { frame in
                learnTopicIDs(from: frame, api: api, version: owed.apiVersion)
            }
        }
        connection.log(.response, .kafka(correlationID: correlation, errorCode: 0, apiVersion: Int32(owed.apiVersion),
                                         apiKey: Int32(owed.apiKey), topics: []))
        pending.removeFirst()
        return .pass(frameLength)
    }

    /// Masks the denied topics of a Metadata response into a copy that replaces it; false when the response
    /// cannot be read (the connection then closes: passing it would show the denied topics).
    private func mask(_ frame: UnsafeRawBufferPointer, owed: KafkaPendingResponses.Entry) -> Bool {
        guard let api = KafkaAPIs.api(owed.apiKey), api.supports(owed.apiVersion),
              readResponse(frame, api: api, version: owed.apiVersion) else { return false }
        learnTopicIDs(in: frame)
        KafkaMetadataMask.rewrite(frame, facts: facts, compact: api.isFlexible(owed.apiVersion),
                                  errorCode: Self.topicAuthorizationFailed, isDenied: { pending.firstMasks($0) },
                                  into: &maskScratch)
        return pending.replaceFirst(with: maskScratch)
    }

    /// Walks a response frame into `facts`; false when it does not follow its description.
    private func readResponse(_ frame: UnsafeRawBufferPointer, api: KafkaCompiledAPI, version: Int16) -> Bool {
        var reader = KafkaReader(frame, at: 8)
        if api.responseHeaderIsFlexible(version) && !reader.skipTaggedFields() { return false }
        facts.reset()
        return KafkaWalker.walk(api.response(version), reader: &reader, facts: &facts)
    }

    /// Reads a Metadata response's topics and teaches the instance each id's name. A response we cannot read
    /// teaches nothing (and still passes: it is the broker's answer).
    private func learnTopicIDs(from frame: UnsafeRawBufferPointer, api: KafkaCompiledAPI, version: Int16) {
        guard readResponse(frame, api: api, version: version) else {
            Diagnostics.debug("kafka: unreadable metadata response; no topic ids learnt")
            return
        }
        learnTopicIDs(in: frame)
    }

    /// Teaches the instance the (id, name) pairs of the response just read into `facts`.
    private func learnTopicIDs(in frame: UnsafeRawBufferPointer) {
        let pairs = facts.topics.lazy.compactMap { topic -> (KafkaUUID, UnsafeRawBufferPointer)? in
            guard let id = topic.id, id != .zero, !topic.name.isNull else { return nil }
            return (id, topic.name.bytes(in: frame))
        }
        topicIDs.learn(pairs)
    }

    // MARK: Access log

    /// `covered`: only the topics the policy allowed (true) or denied (false); nil: all of them.
    private func log(_ type: AccessLogEntryType, _ header: KafkaRequestHeader, errorCode: Int16,
                     frame: UnsafeRawBufferPointer, covered: Bool? = nil) {
        guard connection.logsAccess else { return }
        connection.log(type, .kafka(correlationID: header.correlationID, errorCode: Int32(errorCode),
                                    apiVersion: Int32(header.apiVersion), apiKey: Int32(header.apiKey),
                                    topics: loggedTopics(covered: covered)))
    }

    private func logRefused(correlationID: Int32, apiKey: Int16, apiVersion: Int16, errorCode: Int16) {
        connection.log(.denied, .kafka(correlationID: correlationID, errorCode: Int32(errorCode),
                                       apiVersion: Int32(apiVersion), apiKey: Int32(apiKey), topics: []))
    }

    /// The request's topics, each once, in request order; a topic named by an id we do not know is logged as
    /// that id.
    ///
    /// Built in `loggedTopicNames`, whose buffer is reused: the entry is encoded before `log` returns and lets
    /// go of it, so a logged request costs no allocation for its topic list (names up to 15 bytes are stored in
    /// their `String`s; longer ones still cost one each). `selection`: only the topics the policy allowed
    /// (true) or denied (false).
    private func loggedTopics(covered selection: Bool?) -> [String] {
        loggedTopicNames.clearKeepingCapacity()
        appendLoggedTopics(to: &loggedTopicNames, covered: selection)
        return loggedTopicNames
    }

    private func appendLoggedTopics(to result: inout [String], covered selection: Bool?) {
        for (index, name) in topicNames.enumerated() {
            if let selection, index < covered.count, covered[index] != selection { continue }
            let text: String
            if name.baseAddress == nil && name.isEmpty, index < facts.topics.count, let id = facts.topics[index].id,
               facts.topics[index].name.isNull {
                text = id.text
            } else {
                text = String(decoding: name, as: UTF8.self)
            }
            if result.count < 256 && result.contains(text) { continue }
            result.append(text)
        }
    }

    private func releaseLargeScratch() {
        if scratch.capacity > 1 << 20 { scratch = [] }
    }
}
