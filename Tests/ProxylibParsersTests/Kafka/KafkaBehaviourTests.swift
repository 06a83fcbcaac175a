import CProxylib
import Testing
@testable import ProxylibCore
@testable import ProxylibParsers
import ProxylibTestSupport

/// The parser's own behaviour beyond upstream's vectors: flexible versions, versions and keys we do not
/// read, frame limits, the policy's topic semantics and rule validation, the access log.
@Suite struct KafkaBehaviourTests {
    static let connectArgs = (source: UInt32(1000), destination: UInt32(2000))

    func connect(_ fixture: ParserFixture) -> TestConnection {
        fixture.connect("kafka", sourceID: 1000, destinationID: 2000)
    }

    /// Produce v9 (flexible): header v2, compact strings and arrays, tagged sections (one non-empty, which
    /// the reader must skip).
    static func produceV9(correlation: Int32, topics: [(String, [Int32])]) -> [UInt8] {
        var body = KF.compactString(nil) + KF.int16(1) + KF.int32(500) + KF.compactCount(topics.count)
        for (name, partitions) in topics {
            body += KF.compactString(name) + KF.compactCount(partitions.count)
            for partition in partitions { body += KF.int32(partition) + KF.uvarint(4) + [7, 7, 7] + [0] }
            body += [1, 5, 2, 0xAB, 0xCD]  // one tagged field: tag 5, two bytes
        }
        body += [0]
        return KF.request(key: 0, version: 9, correlation: correlation, flexible: true, body: body)
    }

    static func produceV9Denial(correlation: Int32, topics: [(String, [Int32])]) -> [UInt8] {
        var body = KF.compactCount(topics.count)
        for (name, partitions) in topics {
            body += KF.compactString(name) + KF.compactCount(partitions.count)
            for partition in partitions {
                body += KF.int32(partition) + KF.int16(29) + KF.int64(-1) + KF.int64(-1) + KF.int64(-1)
                body += KF.compactCount(0) + [0] + [0]  // record_errors empty, error_message null, tagged
            }
            body += [0]
        }
        body += KF.int32(0) + [0]
        return KF.response(correlation: correlation, flexible: true, body: body)
    }

    @Test func flexibleProduceIsReadAndDeniedInItsOwnEncoding() throws {
        let fixture = ParserFixture()
        try fixture.install([KF.policy([KF.rule(topic: "orders")])])
        let connection = connect(fixture)
        let allowed = Self.produceV9(correlation: 7, topics: [("orders", [0, 3])])
        #expect(connection.onData(segments: [allowed]).ops == [.pass(allowed.count)])
        let denied = Self.produceV9(correlation: 8, topics: [("orders", [0]), ("audit", [2])])
        let outcome = connection.onData(segments: [denied])
        #expect(outcome.ops == [.drop(denied.count)])
        // Owed: the response to 7, so the denial waits for it.
        #expect(outcome.replyInjected == [])
        let response = KF.response(correlation: 7, flexible: true, body: [1, 0, 0, 0, 0, 0])
        let reply = connection.onData(reply: true, segments: [response])
        let expected = Self.produceV9Denial(correlation: 8, topics: [("orders", [0]), ("audit", [2])])
        #expect(reply.ops == [.pass(response.count), .inject(expected.count)])
        #expect(Printable(reply.replyInjected) == Printable(expected))
    }

    @Test func versionsAndKeysWeDoNotReadCloseTheConnection() throws {
        for (key, version) in [(Int16(0), Int16(14)), (0, -1), (999, 0), (-5, 0)] {
            let fixture = ParserFixture()
            try fixture.install([KF.policy([KF.rule()])])
            let connection = connect(fixture)
            let frame = KF.request(key: key, version: version, correlation: 3, body: [0, 0, 0, 0])
            #expect(connection.onData(segments: [frame]).ops == [.error(.invalidFrameType)], "key \(key) v\(version)")
            let entries = fixture.log.all
            #expect(entries.count == 1)
            #expect(entries.first?.entryType == .denied)
            #expect(entries.first?.l7 == .kafka(correlationID: 3, errorCode: 35, apiVersion: Int32(version),
                                                apiKey: Int32(key), topics: []))
        }
    }

    @Test func apiVersionsOfAnyVersionPassesOnItsHeader() throws {
        let fixture = ParserFixture()
        try fixture.install([KF.policy([KF.rule(keys: [18])])])
        let connection = connect(fixture)
        // A version no broker knows yet, with a body we do not read: the broker negotiates it down.
        let frame = KF.request(key: 18, version: 99, correlation: 1, flexible: true, body: [9, 9, 9])
        #expect(connection.onData(segments: [frame]).ops == [.pass(frame.count)])
    }

    @Test func framesBeyondTheLimitOrNegativeAreErrors() throws {
        for size in [Int32(100 << 20) + 1, -1, Int32.min, 7] {
            let fixture = ParserFixture()
            try fixture.install([KF.policy([KF.rule()])])
            let connection = connect(fixture)
            let frame = KF.int32(size) + KF.int16(0) + KF.int16(3) + KF.int32(1)
            #expect(connection.onData(segments: [frame]).ops == [.error(.invalidFrameLength)], "size \(size)")
        }
        // The limit itself is a frame we wait for.
        let fixture = ParserFixture()
        let connection = connect(fixture)
        let frame = KF.int32(100 << 20) + KF.int16(0) + KF.int16(3) + KF.int32(1)
        #expect(connection.onData(segments: [frame]).ops == [.more((100 << 20) + 4 - 12)])
    }

    @Test func hostileCountsAreMalformedNotSlow() throws {
        // Produce v3 whose topic array claims 2^31 - 1 elements in a 40-byte frame.
        var body = KF.string(nil) + KF.int16(1) + KF.int32(0) + KF.int32(.max)
        body += KF.string("a") + KF.int32(0)
        let frames = [
            KF.request(key: 0, version: 3, correlation: 1, body: body),
            // A compact count as a varint longer than five bytes.
            KF.request(key: 0, version: 9, correlation: 1, flexible: true,
                       body: [0] + KF.int16(1) + KF.int32(0) + [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]),
            // A string length past the frame.
            KF.request(key: 0, version: 3, correlation: 1, body: KF.int16(0x7FFF) + [0x41]),
        ]
        for frame in frames {
            let fixture = ParserFixture()
            let connection = connect(fixture)
            #expect(connection.onData(segments: [frame]).ops == [.error(.invalidFrameType)])
            #expect(fixture.log.all.first?.l7 == .kafka(correlationID: 1, errorCode: 2, apiVersion: frame[7] == 9 ? 9 : 3,
                                                        apiKey: 0, topics: []))
        }
    }

    @Test func topicsMustAllBeCoveredByTheRulesTogether() throws {
        let both = KF.produceV3(correlation: 1, topics: [("a", [0]), ("b", [0])])
        let cases: [([KafkaRuleConfig], Bool)] = [
            ([KF.rule(topic: "a"), KF.rule(topic: "b")], true),
            ([KF.rule(topic: "a")], false),
            ([KF.rule(topic: "a"), KF.rule(keys: [1], topic: "b")], false),
            ([KF.rule(topic: "a"), KF.rule(client: "client", topic: "b")], true),
            ([KF.rule(topic: "a"), KF.rule(client: "other", topic: "b")], false),
            ([KF.rule(keys: [0])], true),
            ([KF.rule(version: 3)], true),
            ([KF.rule(version: 4)], false),
        ]
        for (rules, allowed) in cases {
            let fixture = ParserFixture()
            try fixture.install([KF.policy(rules)])
            let ops = connect(fixture).onData(segments: [both]).ops
            #expect(ops == [allowed ? .pass(both.count) : .drop(both.count)], "\(rules)")
        }
    }

    @Test func topicRulesApplyToRequestsForAllTopicsNotToThoseNamingNone() throws {
        // Metadata v1 for all topics (a null list), v0 for all topics (an empty list, v0's spelling of "all"),
        // v1 for the brokers only (an empty list: how clients bootstrap), and a Produce naming no topic.
        let cases: [([UInt8], Bool)] = [
            (KF.request(key: 3, version: 1, correlation: 1, body: KF.int32(-1)), false),
            (KF.request(key: 3, version: 0, correlation: 1, body: KF.int32(0)), false),
            (KF.request(key: 3, version: 1, correlation: 1, body: KF.int32(0)), true),
            (KF.produceV3(correlation: 1, topics: []), true),
        ]
        for (frame, allowed) in cases {
            let fixture = ParserFixture()
            try fixture.install([KF.policy([KF.rule(topic: "a")])])
            let ops = connect(fixture).onData(segments: [frame]).ops
            #expect(ops == [allowed ? .pass(frame.count) : .drop(frame.count)], "\(frame)")
        }
        // With a rule about something else, a request naming no topic is still held to that rule.
        let fixture = ParserFixture()
        try fixture.install([KF.policy([KF.rule(keys: [0], topic: "a")])])
        let brokersOnly = KF.request(key: 3, version: 1, correlation: 1, body: KF.int32(0))
        #expect(connect(fixture).onData(segments: [brokersOnly]).ops == [.drop(brokersOnly.count)])
    }

    @Test func requestsWithoutTopicsMatchOnKeyVersionAndClient() throws {
        // ApiVersions v0: no topics, so a topic rule allows it when its other conditions hold.
        let apiVersions = KF.request(key: 18, version: 0, correlation: 4, body: [])
        for (rules, allowed) in [([KF.rule(topic: "a")], true), ([KF.rule(client: "nobody", topic: "a")], false),
                                 ([KF.rule(keys: [0], topic: "a")], false)] {
            let fixture = ParserFixture()
            try fixture.install([KF.policy(rules)])
            let ops = connect(fixture).onData(segments: [apiVersions]).ops
            #expect(ops.first == (allowed ? .pass(apiVersions.count) : .drop(apiVersions.count)), "\(rules)")
        }
    }

    @Test func kafkaRulesWithoutL7ProtoAreEnforced() throws {
        // Upstream picked no rule parser for kafka_rules without l7_proto and dropped everything on the port.
        let fixture = ParserFixture()
        try fixture.install([KF.policy([KF.rule(topic: "a")], l7Proto: "")])
        let connection = connect(fixture)
        let allowed = KF.produceV3(correlation: 1, topics: [("a", [0])])
        let denied = KF.produceV3(correlation: 2, topics: [("b", [0])])
        #expect(connection.onData(segments: [allowed]).ops == [.pass(allowed.count)])
        #expect(connection.onData(segments: [denied]).ops == [.drop(denied.count)])
    }

    @Test func genericRulesForKafkaAreRejected() {
        let fixture = ParserFixture()
        let port = PortNetworkPolicyConfig(port: 80, rules: [
            PortNetworkPolicyRuleConfig(l7Proto: "kafka", l7: .generic(allow: [["topic": "a"]], deny: []))])
        #expect(throws: PolicyError.self) {
            try fixture.install([NetworkPolicyConfig(endpointIPs: ["1.1.1.1"], ingress: [port])])
        }
    }

    @Test func kafkaRulesMixedWithAnotherParsersRulesOnOnePortAreRejected() {
        let fixture = ParserFixture()
        let port = PortNetworkPolicyConfig(port: 80, rules: [
            PortNetworkPolicyRuleConfig(remotePolicies: [1], l7Proto: "kafka", l7: .kafka([KF.rule(topic: "a")])),
            PortNetworkPolicyRuleConfig(remotePolicies: [2], l7Proto: "r2d2", l7: .generic(allow: [["cmd": "READ"]], deny: [])),
        ])
        #expect(throws: PolicyError.self) {
            try fixture.install([NetworkPolicyConfig(endpointIPs: ["1.1.1.1"], ingress: [port])])
        }
    }

    @Test func requestEntriesCarryTheRequestsCorrelationIDAndUniqueTopicsInOrder() throws {
        // Upstream logged the api key and version bytes as the correlation id.
        let fixture = ParserFixture()
        try fixture.install([KF.policy([KF.rule(topic: "b"), KF.rule(topic: "a")])])
        let connection = connect(fixture)
        let frame = KF.produceV3(correlation: 0x0102_0304, topics: [("b", [0]), ("a", [1]), ("b", [2])])
        _ = connection.onData(segments: [frame])
        #expect(fixture.log.all.map(\.l7) == [.kafka(correlationID: 0x0102_0304, errorCode: 0, apiVersion: 3, apiKey: 0,
                                                      topics: ["b", "a"])])
        _ = connection.onData(reply: true, segments: [KF.produceV3Response(correlation: 0x0102_0304, topics: [])])
        #expect(fixture.log.all.last?.entryType == .response)
        #expect(fixture.log.all.last?.l7 == .kafka(correlationID: 0x0102_0304, errorCode: 0, apiVersion: 3, apiKey: 0,
                                                   topics: []))
    }

    @Test func deniedEntriesCarryTheErrorCode() throws {
        let fixture = ParserFixture()
        try fixture.install([KF.policy([KF.rule(topic: "a")])])
        let frame = KF.produceV3(correlation: 5, topics: [("z", [0])])
        _ = connect(fixture).onData(segments: [frame])
        #expect(fixture.log.all.map(\.entryType) == [.denied])
        #expect(fixture.log.all.first?.l7 == .kafka(correlationID: 5, errorCode: 29, apiVersion: 3, apiKey: 0, topics: ["z"]))
    }
}

/// Metadata requests naming allowed and denied topics reach the broker; the denied topics' entries of the
/// response are masked as a broker masks topics a client may not describe.
@Suite struct KafkaMetadataMaskTests {
    static func metadataV1(correlation: Int32, topics: [String]) -> [UInt8] {
        var body = KF.int32(Int32(topics.count))
        for topic in topics { body += KF.string(topic) }
        return KF.request(key: 3, version: 1, correlation: correlation, body: body)
    }

    /// One broker; each topic with its error code and (unless masked) one partition led by broker 1.
    static func metadataV1Response(correlation: Int32, topics: [(String, Int16, Bool)]) -> [UInt8] {
        var body = KF.int32(1) + KF.int32(1) + KF.string("broker") + KF.int32(9092) + KF.string(nil) + KF.int32(1)
        body += KF.int32(Int32(topics.count))
        for (name, error, withPartitions) in topics {
            body += KF.int16(error) + KF.string(name) + [0]
            if withPartitions {
                body += KF.int32(1) + KF.int16(0) + KF.int32(0) + KF.int32(1) + KF.int32(1) + KF.int32(1)
                body += KF.int32(1) + KF.int32(1)
            } else {
                body += KF.int32(0)
            }
        }
        return KF.response(correlation: correlation, body: body)
    }

    @Test func deniedTopicsAreMaskedInTheBrokersAnswer() throws {
        let fixture = ParserFixture()
        try fixture.install([KF.policy([KF.rule(topic: "orders")])])
        let connection = fixture.connect("kafka", sourceID: 1000, destinationID: 2000)
        let request = Self.metadataV1(correlation: 5, topics: ["orders", "secret", "orders"])
        #expect(connection.onData(segments: [request]).ops == [.pass(request.count)])
        #expect(fixture.log.all.map(\.entryType) == [.request, .denied])
        #expect(fixture.log.all.map(\.l7) == [
            .kafka(correlationID: 5, errorCode: 0, apiVersion: 1, apiKey: 3, topics: ["orders"]),
            .kafka(correlationID: 5, errorCode: 29, apiVersion: 1, apiKey: 3, topics: ["secret"]),
        ])
        let answer = Self.metadataV1Response(correlation: 5, topics: [("orders", 0, true), ("secret", 0, true)])
        let masked = Self.metadataV1Response(correlation: 5, topics: [("orders", 0, true), ("secret", 29, false)])
        let outcome = connection.onData(reply: true, segments: [answer])
        #expect(outcome.ops == [.drop(answer.count), .inject(masked.count)])
        #expect(Printable(outcome.replyInjected) == Printable(masked))
    }

    @Test func aRequestForAllTopicsOrOnlyDeniedOnesIsDeniedWhole() throws {
        for request in [KF.request(key: 3, version: 1, correlation: 1, body: KF.int32(-1)),
                        Self.metadataV1(correlation: 1, topics: ["secret"])] {
            let fixture = ParserFixture()
            try fixture.install([KF.policy([KF.rule(topic: "orders")])])
            let outcome = fixture.connect("kafka", sourceID: 1000, destinationID: 2000).onData(segments: [request])
            #expect(outcome.ops == [.drop(request.count)])
            #expect(!outcome.replyInjected.isEmpty)
        }
    }
}

/// ApiVersions responses advertise at most the versions the parser reads, so clients of a newer broker
/// negotiate versions we check instead of being disconnected.
@Suite struct KafkaApiVersionsCapTests {
    /// An ApiVersions response (header v0) for request version `version`: (key, min, max) entries.
    static func response(correlation: Int32, version: Int16, error: Int16 = 0, keys: [(Int16, Int16, Int16)]) -> [UInt8] {
        let compact = error == 0 && version >= 3
        var body = KF.int16(error) + (compact ? KF.compactCount(keys.count) : KF.int32(Int32(keys.count)))
        for (key, low, high) in keys { body += KF.int16(key) + KF.int16(low) + KF.int16(high) + (compact ? [0] : []) }
        if version >= 1 && (error == 0) { body += KF.int32(0) }
        if compact { body += [0] }
        return KF.response(correlation: correlation, body: body)
    }

    @Test(arguments: [Int16(0), 2, 3, 4])
    func maxVersionsAboveOursAreLowered(version: Int16) throws {
        let fixture = ParserFixture()
        try fixture.install([KF.policy([KF.rule()])])
        let connection = fixture.connect("kafka", sourceID: 1000, destinationID: 2000)
        let request = KF.request(key: 18, version: version, correlation: 1, flexible: version >= 3,
                                 body: version >= 3 ? KF.compactString("c") + KF.compactString("1") + [0] : [])
        #expect(connection.onData(segments: [request]).ops == [.pass(request.count)])
        // Produce beyond ours (20), Fetch within (12), a key we do not describe (999).
        let answer = Self.response(correlation: 1, version: version, keys: [(0, 0, 20), (1, 4, 12), (999, 0, 7)])
        let capped = Self.response(correlation: 1, version: version, keys: [(0, 0, 13), (1, 4, 12), (999, 0, 7)])
        let outcome = connection.onData(reply: true, segments: [answer])
        #expect(outcome.ops == [.drop(answer.count), .inject(capped.count)])
        #expect(Printable(outcome.replyInjected) == Printable(capped))
    }

    @Test func responsesWithinOurVersionsAndRefusalsPassAsTheyAre() throws {
        let fixture = ParserFixture()
        try fixture.install([KF.policy([KF.rule()])])
        let connection = fixture.connect("kafka", sourceID: 1000, destinationID: 2000)
        let request = KF.request(key: 18, version: 9, correlation: 2, flexible: true, body: [0, 0, 0])
        _ = connection.onData(segments: [request])
        // The broker refuses version 9 in a version-0 body; its versions are within ours.
        let refusal = Self.response(correlation: 2, version: 9, error: 35, keys: [(0, 0, 11), (18, 0, 4)])
        #expect(connection.onData(reply: true, segments: [refusal]).ops == [.pass(refusal.count)])
    }
}
