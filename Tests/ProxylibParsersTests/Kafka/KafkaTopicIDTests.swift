import CProxylib
import Testing
@testable import ProxylibCore
@testable import ProxylibParsers
import ProxylibTestSupport

/// Topics named by id (KIP-516): learnt from Metadata responses v10+, checked by name, unknown ids denied
/// with UNKNOWN_TOPIC_ID so the client refreshes its metadata.
@Suite struct KafkaTopicIDTests {
    static let ordersID: [UInt8] = Array(0x10...0x1F)
    static let secretID: [UInt8] = Array(0x20...0x2F)

    /// Fetch v13 (flexible): one topic by id, one partition.
    static func fetchV13(correlation: Int32, topicID: [UInt8]) -> [UInt8] {
        var body = KF.int32(-1) + KF.int32(500) + KF.int32(1) + KF.int32(1 << 20) + [0] + KF.int32(0) + KF.int32(-1)
        body += KF.compactCount(1) + topicID + KF.compactCount(1)
        body += KF.int32(0) + KF.int32(-1) + KF.int64(0) + KF.int32(-1) + KF.int64(-1) + KF.int32(1 << 20) + [0]
        body += [0]  // topic's tagged fields
        body += KF.compactCount(0) + KF.compactString("") + [0]  // no forgotten topics, rack "", tagged
        return KF.request(key: 1, version: 13, correlation: correlation, flexible: true, body: body)
    }

    /// Metadata v12 request for topics by name.
    static func metadataV12(correlation: Int32, names: [String]) -> [UInt8] {
        var body = KF.compactCount(names.count)
        for name in names { body += [UInt8](repeating: 0, count: 16) + KF.compactString(name) + [0] }
        body += [1, 0, 0]  // allow auto creation, no authorized operations, tagged
        return KF.request(key: 3, version: 12, correlation: correlation, flexible: true, body: body)
    }

    /// Metadata v12 response: one broker, the topics given with their ids, one partition each.
    static func metadataV12Response(correlation: Int32, topics: [(String, [UInt8])]) -> [UInt8] {
        var body = KF.int32(0) + KF.compactCount(1) + KF.int32(1) + KF.compactString("broker") + KF.int32(9092)
        body += KF.compactString(nil) + [0] + KF.compactString("cluster") + KF.int32(1) + KF.compactCount(topics.count)
        for (name, id) in topics {
            body += KF.int16(0) + KF.compactString(name) + id + [0] + KF.compactCount(1)
            body += KF.int16(0) + KF.int32(0) + KF.int32(1) + KF.int32(0) + KF.compactCount(1) + KF.int32(1)
            body += KF.compactCount(1) + KF.int32(1) + KF.compactCount(0) + [0]
            body += KF.int32(0) + [0]
        }
        body += [0]
        return KF.response(correlation: correlation, flexible: true, body: body)
    }

    @Test func idsAreDeniedUntilMetadataNamesThemThenCheckedByName() throws {
        let fixture = ParserFixture()
        try fixture.install([KF.policy([KF.rule(topic: "orders")])])
        let connection = fixture.connect("kafka", sourceID: 1000, destinationID: 2000)

        let early = Self.fetchV13(correlation: 1, topicID: Self.ordersID)
        let denied = connection.onData(segments: [early])
        #expect(denied.ops == [.drop(early.count)])
        #expect(!denied.replyInjected.isEmpty)
        #expect(fixture.log.all.last?.l7 == .kafka(correlationID: 1, errorCode: 100, apiVersion: 13, apiKey: 1,
                                                   topics: ["EBESExQVFhcYGRobHB0eHw"]))

        let metadata = Self.metadataV12(correlation: 2, names: ["orders"])
        #expect(connection.onData(segments: [metadata]).ops == [.pass(metadata.count)])
        let answer = Self.metadataV12Response(correlation: 2, topics: [("orders", Self.ordersID), ("secret", Self.secretID)])
        // Read whole before it passes: the first bytes alone are not enough.
        #expect(connection.onData(reply: true, segments: [Array(answer.prefix(20))]).ops == [.more(answer.count - 20)])
        #expect(connection.onData(reply: true, segments: [answer]).ops == [.pass(answer.count)])

        let fetch = Self.fetchV13(correlation: 3, topicID: Self.ordersID)
        #expect(connection.onData(segments: [fetch]).ops == [.pass(fetch.count)])
        #expect(fixture.log.all.last?.l7 == .kafka(correlationID: 3, errorCode: 0, apiVersion: 13, apiKey: 1,
                                                   topics: ["orders"]))
        let secret = Self.fetchV13(correlation: 4, topicID: Self.secretID)
        #expect(connection.onData(segments: [secret]).ops == [.drop(secret.count)])
        #expect(fixture.log.all.last?.l7 == .kafka(correlationID: 4, errorCode: 29, apiVersion: 13, apiKey: 1,
                                                   topics: ["secret"]))
    }

    @Test func idsLearntOnOneConnectionServeTheInstancesOthers() throws {
        let fixture = ParserFixture()
        try fixture.install([KF.policy([KF.rule(topic: "orders")])])
        let first = fixture.connect("kafka", sourceID: 1000, destinationID: 2000)
        let metadata = Self.metadataV12(correlation: 1, names: ["orders"])
        _ = first.onData(segments: [metadata])
        let answer = Self.metadataV12Response(correlation: 1, topics: [("orders", Self.ordersID)])
        #expect(first.onData(reply: true, segments: [answer]).ops == [.pass(answer.count)])

        let second = fixture.connect("kafka", sourceID: 1000, destinationID: 2000)
        let fetch = Self.fetchV13(correlation: 9, topicID: Self.ordersID)
        #expect(second.onData(segments: [fetch]).ops == [.pass(fetch.count)])
        // Another instance learnt nothing.
        let other = ParserFixture()
        try other.install([KF.policy([KF.rule(topic: "orders")])])
        #expect(other.connect("kafka", sourceID: 1000, destinationID: 2000).onData(segments: [fetch]).ops == [.drop(fetch.count)])
    }

    @Test func theDenialOfAnUnknownIDEchoesTheIDWithErrorCode100() throws {
        let fixture = ParserFixture()
        try fixture.install([KF.policy([KF.rule(topic: "orders")])])
        let connection = fixture.connect("kafka", sourceID: 1000, destinationID: 2000)
        let fetch = Self.fetchV13(correlation: 77, topicID: Self.secretID)
        let injected = connection.onData(segments: [fetch]).replyInjected
        // Header v1: size, correlation id, empty tagged section; throttle 0; top-level error 0 (the per-partition
        // entry carries it); session id 0; one topic: the id, one partition 0 with error 100.
        var expectedPrefix = KF.int32(77) + [0] + KF.int32(0) + KF.int16(0) + KF.int32(0) + KF.compactCount(1) + Self.secretID
        expectedPrefix += KF.compactCount(1) + KF.int32(0) + KF.int16(100)
        #expect(Array(injected.dropFirst(4).prefix(expectedPrefix.count)) == expectedPrefix)
        #expect(KF.int32(Int32(injected.count - 4)) == Array(injected.prefix(4)))
    }
}
