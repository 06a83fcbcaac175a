import CProxylib
import Testing
@testable import ProxylibCore
import ProxylibParsers
import ProxylibTestSupport

/// Every test of upstream's kafka/parser_test.go, one OnData call per step, with the exact ops, the bytes
/// injected towards the client and the access-log counts.
///
/// Upstream's request is a Produce v3 with acks 0 — a request whose client reads no response — and upstream
/// answers its denial anyway (a response the client never asked for arrives ahead of later ones and breaks
/// the correlation order). Ours drops it silently; each denial vector is also run with acks 1, where the
/// injected response must be upstream's bytes exactly.
@Suite struct KafkaUpstreamVectorTests {
    struct Step: Sendable {
        var reply = false
        let segments: [[UInt8]]
        let ops: [ParserOp]
        var inject: [UInt8] = []
    }

    struct Vector: Sendable, CustomTestStringConvertible {
        let name: String
        var rules: [KafkaRuleConfig]?? = .some(nil)
        var policyName = "1.1.1.1"
        let steps: [Step]
        var logged: (requests: Int, denied: Int, responses: Int)
        var testDescription: String { name }
    }

    static let message1 = KF.hex("0000")
    /// Produce v3, correlation 65537, client "ABC", transactional id "D", acks as given, timeout's first bytes.
    static func message2(acks: String) -> [UInt8] { KF.hex("002a 0000 0003 00010001 0003414243 000144 \(acks) 000003") }
    static let message3 = KF.hex("E8 00000002 00024546 00000000 00024748 00000000")
    static let message3Fail = KF.hex("E8 20000002 00024546 00000000 00024748 00000000")
    static func produce(acks: String = "0000") -> [[UInt8]] { [message1, message2(acks: acks), message3] }

    /// Upstream's injected denial: Produce v3 response, 2 topics without partitions, throttle time 0.
    static let denial = KF.hex("0000001c 00010001 00000002 00024546 00000000 00024748 00000000 00000000")

    static let vectors: [Vector] = {
        let ef = KF.rule(topic: "EF")
        let gh = KF.rule(topic: "GH")
        var vectors: [Vector] = [
            Vector(name: "OnDataNoHeader", rules: nil, policyName: "no-policy", steps: [
                Step(segments: [[]], ops: []),
                Step(segments: [KF.hex("00")], ops: [.more(7)]),
                Step(segments: [KF.hex("0000")], ops: [.more(6)]),
                Step(segments: [KF.hex("000001")], ops: [.more(5)]),
                Step(segments: [KF.hex("00000100")], ops: [.more(4)]),
                Step(segments: [KF.hex("00010000010203")], ops: [.more(1)]),
                Step(segments: [KF.hex("000100000102030405060708")], ops: [.more(65536 - 8)]),
            ], logged: (0, 0, 0)),
            Vector(name: "OnDataSimpleHeaderMinimalPolicy", rules: .some(nil),
                   steps: [Step(segments: produce(), ops: [.pass(46)])], logged: (1, 0, 0)),
            Vector(name: "OnDataInvalidMessage", rules: .some(nil),
                   steps: [Step(segments: [message1, message2(acks: "0000"), message3Fail],
                                ops: [.error(.invalidFrameType)])], logged: (0, 1, 0)),
            Vector(name: "OnDataSimpleHeaderSimplePolicy", rules: .some(nil),
                   steps: [Step(segments: produce(), ops: [.pass(46)])], logged: (1, 0, 0)),
            Vector(name: "OnDataSimpleHeaderWithPolicyAllow", rules: [ef, gh],
                   steps: [Step(segments: produce(), ops: [.pass(46)])], logged: (1, 0, 0)),
            Vector(name: "OnDataSimpleHeaderWithClientIDAllow", rules: [KF.rule(client: "ABC", topic: "EF"), gh],
                   steps: [Step(segments: produce(), ops: [.pass(46)])], logged: (1, 0, 0)),
            Vector(name: "OnDataSimpleHeaderWithClientID", rules: [KF.rule(client: "ABC")],
                   steps: [Step(segments: produce(), ops: [.pass(46)])], logged: (1, 0, 0)),
            Vector(name: "OnDataSimpleHeaderWithApiKeys", rules: [KF.rule(keys: [0], client: "ABC")],
                   steps: [Step(segments: produce(), ops: [.pass(46)])], logged: (1, 0, 0)),
            Vector(name: "OnDataSimpleHeaderWithApiVersion", rules: [KF.rule(version: 3, client: "ABC")],
                   steps: [Step(segments: produce(), ops: [.pass(46)])], logged: (1, 0, 0)),
        ]
        // The denials: upstream's ops and bytes with acks 1; dropped without an answer with acks 0.
        let denials: [(String, [KafkaRuleConfig], [UInt8], [ParserOp])] = [
            ("OnDataSimpleHeaderWithPolicyDrop", [ef], KF.hex("0000"), [.more(6)]),
            ("OnDataSimpleHeaderWithApiKeysMismatch", [KF.rule(keys: [1], client: "ABC")], [], []),
            ("OnDataSimpleHeaderWithApiVersionMismatch", [KF.rule(version: 0, client: "ABC")], [], []),
            ("OnDataSimpleHeaderWithClientIDDeny", [KF.rule(client: "ABCD", topic: "EF"), gh], [], []),
        ]
        for (name, rules, trailing, trailingOps) in denials {
            let tail = trailing.isEmpty ? [] : [trailing]
            vectors.append(Vector(name: name + " (acks 0)", rules: .some(rules), steps: [
                Step(segments: produce() + tail, ops: [.drop(46)] + trailingOps),
            ], logged: (0, 1, 0)))
            vectors.append(Vector(name: name + " (acks 1)", rules: .some(rules), steps: [
                Step(segments: produce(acks: "0001") + tail, ops: [.drop(46)] + trailingOps, inject: denial),
            ], logged: (0, 1, 0)))
        }
        // Upstream passes a response no request awaits; so do we (the connection has no request in flight).
        vectors.append(Vector(name: "OnDataResponse", rules: nil, policyName: "", steps: [
            Step(reply: true, segments: [KF.hex("0000001c"), KF.hex("00010001"), KF.hex("00000002"),
                                         KF.hex("00024546 00000000"), KF.hex("00024748 00000000"), KF.hex("00000000")],
                 ops: [.pass(4 + 28)]),
        ], logged: (0, 0, 1)))
        return vectors
    }()

    @Test(arguments: vectors)
    func upstreamVector(_ vector: Vector) throws {
        let fixture = ParserFixture()
        if case .some(let rules) = vector.rules { try fixture.install([KF.policy(rules)]) }
        let connection = fixture.connect("kafka", sourceID: 1000, destinationID: 2000, policyName: vector.policyName)
        for (index, step) in vector.steps.enumerated() {
            let outcome = connection.onData(reply: step.reply, segments: step.segments)
            #expect(outcome.result == FILTER_OK, "step \(index)")
            #expect(outcome.ops == step.ops, "step \(index)")
            #expect(outcome.replyInjected == step.inject, "step \(index)")
        }
        #expect(fixture.log.count(.request) == vector.logged.requests)
        #expect(fixture.log.count(.denied) == vector.logged.denied)
        #expect(fixture.log.count(.response) == vector.logged.responses)
    }

    /// The request streams, replayed whole, byte by byte and randomly split: the same verdicts.
    @Test(arguments: vectors)
    func replays(_ vector: Vector) throws {
        guard vector.steps.count == 1, !vector.steps[0].reply else { return }
        let stream = vector.steps[0].segments.flatMap { $0 }
        var expected: ReplayVerifier.Transcript?
        for delivery in ReplayVerifier.Delivery.all {
            let fixture = ParserFixture()
            if case .some(let rules) = vector.rules { try fixture.install([KF.policy(rules)]) }
            let connection = fixture.connect("kafka", sourceID: 1000, destinationID: 2000, policyName: vector.policyName)
            let transcript = ReplayVerifier.replay(stream, into: connection, delivery: delivery)
            if let expected { #expect(transcript == expected, "delivery: \(delivery)") } else { expected = transcript }
        }
    }
}
