import CProxylib
import Testing
@testable import ProxylibCore
import ProxylibParsers
import ProxylibTestSupport

/// Client and broker exchanges through the C datapath (cilium-envoy's onIo), every write delivered whole,
/// byte by byte and randomly cut: what reaches the broker, and the responses the client reads, in order.
@Suite struct KafkaConversationTests {
    typealias Event = ConversationEvent

    struct Scenario: Sendable, CustomTestStringConvertible {
        let name: String
        let rules: [KafkaRuleConfig]
        var injectSize = 1024
        let events: [Event]
        var testDescription: String { name }
    }

    static let orders: [(String, [Int32])] = [("orders", [0, 1])]
    static let secret: [(String, [Int32])] = [("secret", [0])]
    static let allowOrders = [KF.rule(topic: "orders")]

    static func produce(_ id: Int32, _ topics: [(String, [Int32])], acks: Int16 = 1) -> [UInt8] {
        KF.produceV3(correlation: id, acks: acks, topics: topics)
    }
    static func answer(_ id: Int32, _ topics: [(String, [Int32])]) -> [UInt8] {
        KF.produceV3Response(correlation: id, topics: topics)
    }
    static func denial(_ id: Int32, _ topics: [(String, [Int32])]) -> [UInt8] {
        KF.produceV3Denial(correlation: id, topics: topics)
    }

    /// A 20 KiB response (its body is never read: responses pass on their header).
    static func large(_ id: Int32) -> [UInt8] {
        KF.response(correlation: id, body: [UInt8](repeating: 0x5A, count: 20 << 10))
    }

    /// 120 partitions: a denial of about 2.6 KiB, more than the 1 KiB inject buffer.
    static let wide: [(String, [Int32])] = [("secret", Array(0..<120))]

    static let scenarios: [Scenario] = [
        Scenario(name: "a denial with nothing owed is answered at once", rules: allowOrders, events: [
            .client(produce(1, secret)),
            .expect(server: [], client: denial(1, secret)),
            .client(produce(2, orders)),
            .expect(server: produce(2, orders), client: []),
            .server(answer(2, orders)),
            .expect(server: [], client: answer(2, orders)),
        ]),
        Scenario(name: "a denial waits for the responses owed before it", rules: allowOrders, events: [
            .client(produce(1, orders) + produce(2, secret) + produce(3, orders)),
            .expect(server: produce(1, orders) + produce(3, orders), client: []),
            .server(answer(1, orders)),
            .expect(server: [], client: answer(1, orders) + denial(2, secret)),
            .server(answer(3, orders)),
            .expect(server: [], client: answer(3, orders)),
        ]),
        Scenario(name: "denials in a row behind one response", rules: allowOrders, events: [
            .client(produce(1, orders) + produce(2, secret) + produce(3, secret)),
            .expect(server: produce(1, orders), client: []),
            .server(answer(1, orders)),
            .expect(server: [], client: answer(1, orders) + denial(2, secret) + denial(3, secret)),
        ]),
        Scenario(name: "acks 0: never waited for, and denied without an answer", rules: allowOrders, events: [
            .client(produce(1, orders, acks: 0) + produce(2, secret, acks: 0) + produce(3, secret)),
            .expect(server: produce(1, orders, acks: 0), client: denial(3, secret)),
        ]),
        Scenario(name: "a denial larger than the inject buffer, nothing owed", rules: allowOrders, events: [
            .client(produce(1, wide)),
            .expect(server: [], client: denial(1, wide)),
            .client(produce(2, orders)),
            .server(answer(2, orders)),
            .expect(server: produce(2, orders), client: answer(2, orders)),
        ]),
        Scenario(name: "a denial larger than the inject buffer behind a response", rules: allowOrders, events: [
            .client(produce(1, orders) + produce(2, wide) + produce(3, orders)),
            .expect(server: produce(1, orders) + produce(3, orders), client: []),
            .server(answer(1, orders) + answer(3, orders)),
            .expect(server: [], client: answer(1, orders) + denial(2, wide) + answer(3, orders)),
        ]),
        Scenario(name: "a denial waits for a large response passed as it streams", rules: allowOrders, events: [
            .client(produce(1, orders) + produce(2, secret)),
            .expect(server: produce(1, orders), client: []),
            .server(large(1)),
            .expect(server: [], client: large(1) + denial(2, secret)),
        ]),
        Scenario(name: "a response that answers no awaited request closes the connection", rules: allowOrders, events: [
            .client(produce(1, orders)),
            .expect(server: produce(1, orders), client: []),
            .server(answer(9, orders)),
            .expectParserError,
        ]),
        Scenario(name: "an unknown api key closes the connection", rules: [KF.rule()], events: [
            .client(KF.request(key: 999, version: 0, correlation: 1, body: [])),
            .expectParserError,
        ]),
    ]

    @Test(arguments: scenarios)
    func scenario(_ scenario: Scenario) throws {
        let policy = KF.policy(scenario.rules, remotes: [])
        try ConversationEvent.play(scenario.events, parser: "kafka", policy: policy, injectSize: scenario.injectSize)
    }
}
