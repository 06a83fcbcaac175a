import CProxylib
import Testing
@testable import ProxylibCore
import ProxylibParsers
import ProxylibTestSupport

/// Upstream libcilium/proxylib_test.go scenarios (they drive test.headerparser), as tables.
@Suite struct HeaderParserTests {
    static let lines = ["Beginning----\n", "foo\n", "----End\n", "\n"]

    struct Scenario: Sendable, CustomTestStringConvertible {
        let name: String
        let policy: NetworkPolicyConfig?
        var ingress = true
        var sourceID: UInt32 = 1
        var policyName = "1.1.1.1"
        /// Per line: passed (true) or dropped (false).
        let passes: [Bool]
        var testDescription: String { name }
    }

    static let prefixOrSuffix = NetworkPolicyConfig(endpointIPs: ["1.1.1.1"], endpointID: 2, ingress: [
        PortNetworkPolicyConfig(port: 80, rules: [PortNetworkPolicyRuleConfig(
            remotePolicies: [1, 3, 4], l7Proto: "test.headerparser",
            l7: .generic(allow: [["prefix": "Beginning"], ["suffix": "End"]], deny: []))]),
    ])

    static let scenarios: [Scenario] = [
        Scenario(name: "SimplePolicy: prefix or suffix", policy: prefixOrSuffix, passes: [true, false, true, false]),
        Scenario(name: "SimplePolicy from a remote not listed", policy: prefixOrSuffix, sourceID: 7, passes: [false, false, false, false]),
        Scenario(name: "AllowAllPolicy: one empty rule", policy: portPolicy("test.headerparser", allow: [[:]]), passes: [true, true, true, true]),
        Scenario(name: "AllowEmptyPolicy: no l7 rules", policy: portPolicy("test.headerparser"), passes: [true, true, true, true]),
        Scenario(name: "AllowEmptyPolicy, other policy name", policy: portPolicy("test.headerparser"), policyName: "2.2.2.2", passes: [false, false, false, false]),
        Scenario(name: "AllowAllPolicyL3Egress", policy: portPolicy("test.headerparser", allow: [[:]], remotes: [2], ingress: false),
                 ingress: false, sourceID: 42, passes: [true, true, true, true]),
        Scenario(name: "UnsupportedL7Drops: kafka rules", policy: NetworkPolicyConfig(endpointIPs: ["1.1.1.1"], endpointID: 2, ingress: [
            PortNetworkPolicyConfig(port: 80, rules: [PortNetworkPolicyRuleConfig(remotePolicies: [1, 3, 4], l7: .kafka([KafkaRuleConfig(topic: "Topic")]))]),
        ]), passes: [false, false, false, false]),
        Scenario(name: "UnsupportedL7DropsGeneric: unknown l7_proto", policy: NetworkPolicyConfig(endpointIPs: ["1.1.1.1"], endpointID: 2, ingress: [
            PortNetworkPolicyConfig(port: 80, rules: [PortNetworkPolicyRuleConfig(remotePolicies: [1, 3, 4], l7Proto: "this-parser-does-not-exist",
                                                                                   l7: .generic(allow: [["prefix": "Beginning"]], deny: []))]),
        ]), passes: [false, false, false, false]),
        Scenario(name: "EnvoyL7DropsGeneric", policy: NetworkPolicyConfig(endpointIPs: ["1.1.1.1"], endpointID: 2, ingress: [
            PortNetworkPolicyConfig(port: 80, rules: [PortNetworkPolicyRuleConfig(remotePolicies: [1, 3, 4], l7Proto: "envoy.filter.network.test",
                                                                                   l7: .generic(allow: [["action": "drop"]], deny: []))]),
        ]), passes: [false, false, false, false]),
        Scenario(name: "DenyAllPolicy", policy: NetworkPolicyConfig(endpointIPs: ["1.1.1.1"], endpointID: 2, ingress: [
            PortNetworkPolicyConfig(port: 80, rules: [
                PortNetworkPolicyRuleConfig(remotePolicies: [1], l7Proto: "test.headerparser", l7: .generic(allow: [[:]], deny: [])),
                PortNetworkPolicyRuleConfig(deny: true),
            ]),
        ]), passes: [false, false, false, false]),
        Scenario(name: "DenyPolicy on another remote", policy: NetworkPolicyConfig(endpointIPs: ["1.1.1.1"], endpointID: 2, ingress: [
            PortNetworkPolicyConfig(port: 80, rules: [
                PortNetworkPolicyRuleConfig(remotePolicies: [1], l7Proto: "test.headerparser", l7: .generic(allow: [[:]], deny: [])),
                PortNetworkPolicyRuleConfig(deny: true, remotePolicies: [42]),
            ]),
        ]), passes: [true, true, true, true]),
        Scenario(name: "L7 deny rule (beyond upstream)", policy: portPolicy("test.headerparser", allow: [[:]], deny: [["contains": "foo"]]),
                 passes: [true, false, true, true]),
        Scenario(name: "no policy", policy: nil, passes: [false, false, false, false]),
    ]

    @Test(arguments: scenarios)
    func scenario(_ scenario: Scenario) throws {
        let fixture = ParserFixture()
        if let policy = scenario.policy { try fixture.install([policy]) }
        let connect = {
            fixture.connect("test.headerparser", ingress: scenario.ingress, sourceID: scenario.sourceID, policyName: scenario.policyName)
        }
        let expectedOps: [ParserOp] = zip(Self.lines, scenario.passes).map { line, pass in
            pass ? .pass(line.utf8.count) : .drop(line.utf8.count)
        }
        let expectedInject = zip(Self.lines, scenario.passes).filter { !$0.1 }.map { "Line dropped: " + $0.0 }.joined()

        let outcome = connect().onData(Self.lines.joined())
        #expect(outcome.result == FILTER_OK)
        #expect(outcome.ops == expectedOps)
        #expect(String(decoding: outcome.replyInjected, as: UTF8.self) == expectedInject)
        #expect(fixture.log.count(.request) == scenario.passes.filter { $0 }.count)
        #expect(fixture.log.count(.denied) == scenario.passes.filter { !$0 }.count)

        expectReplays(Self.lines.joined(), .init(decisions: expectedOps, injectedIntoReply: expectedInject), connect: connect)
    }

    // Upstream TestOnDataNoPolicy: a 30-byte inject buffer truncates the second "Line dropped" message.
    @Test func noPolicyWithSmallInjectBuffer() {
        let fixture = ParserFixture()
        let connection = fixture.connect("test.headerparser", injectBufferSize: 30)
        let first = connection.onData("No policy\n", "Dropped\nfoo")
        #expect(first.ops == [.drop(10), .drop(8), .more(1)])
        #expect(String(decoding: first.replyInjected, as: UTF8.self) == String("Line dropped: No policy\nLine dropped: Dropped\n".prefix(30)))
        #expect(connection.onData("foo").ops == [.more(1)])
        #expect(connection.onData(segments: []).ops.isEmpty)
        #expect(fixture.log.count(.denied) == 2 && fixture.log.count(.request) == 0)
    }

    @Test func repliesPassUnchecked() {
        let fixture = ParserFixture()
        #expect(fixture.connect("test.headerparser").onData(reply: true, "anything\n").ops == [.pass(9)])
    }

    @Test func mismatchingL7TypesOnOnePortRejectTheUpdate() {
        // Upstream TestTwoRulesOnSamePortMismatchingL7, with r2d2 rules as the second L7 type.
        let fixture = ParserFixture()
        let policy = NetworkPolicyConfig(endpointIPs: ["1.1.1.1"], endpointID: 2, ingress: [
            PortNetworkPolicyConfig(port: 80, rules: [
                PortNetworkPolicyRuleConfig(remotePolicies: [11], l7Proto: "r2d2"),
                PortNetworkPolicyRuleConfig(remotePolicies: [1, 3, 4], l7Proto: "test.headerparser",
                                            l7: .generic(allow: [["prefix": "Beginning"], ["suffix": "End"]], deny: [])),
            ]),
        ])
        #expect(throws: PolicyError.self) { try fixture.install([policy]) }
    }

    @Test func twoRulesOnSamePortFirstNoL7() throws {
        // Upstream TestTwoRulesOnSamePortFirstNoL7Generic: accepted.
        let fixture = ParserFixture()
        try fixture.install([NetworkPolicyConfig(endpointIPs: ["1.1.1.1"], endpointID: 2, ingress: [
            PortNetworkPolicyConfig(port: 80, rules: [
                PortNetworkPolicyRuleConfig(remotePolicies: [11]),
                PortNetworkPolicyRuleConfig(remotePolicies: [1, 3, 4], l7Proto: "test.headerparser",
                                            l7: .generic(allow: [["prefix": "Beginning"], ["suffix": "End"]], deny: [])),
            ]),
        ])])
        let connection = fixture.connect("test.headerparser", sourceID: 11)
        #expect(connection.onData("anything\n").ops == [.pass(9)])
    }

    @Test func unsupportedKeyRejectsTheUpdate() {
        let fixture = ParserFixture()
        #expect(throws: PolicyError.self) { try fixture.install([portPolicy("test.headerparser", allow: [["middle": "x"]])]) }
    }
}
