import CProxylib
import Testing
@testable import ProxylibCore
import ProxylibParsers
import ProxylibTestSupport

/// The `@name@` parser through the library's entry points: a table of requests and the ops they must produce
/// (each replayed whole, byte by byte and randomly split), conversations through the C datapath (what the
/// server and the client end up receiving), the access log, malformed input, and rules the policy must reject.
/// Add a row for every case you handle; the harder the protocol, the longer the tables.
@Suite struct @Name@ParserTests {
    static let parser = "@name@"

    struct Vector: Sendable, CustomTestStringConvertible {
        let name: String
        /// The l7 allow rules of the port (nil: no policy at all, which denies everything).
        let allow: [L7KeyValueRule]?
        var deny: [L7KeyValueRule] = []
        let requests: String
        let ops: [ParserOp]
        /// What the parser wrote towards the client (denials).
        let injected: String
        var testDescription: String { name }
    }

    static let denial = "ERR access denied\r\n"

    static let vectors: [Vector] = [
        Vector(name: "incomplete request waits for its line", allow: [[:]], requests: "GET public/a",
               ops: [.more(1)], injected: ""),
        Vector(name: "empty rule allows everything", allow: [[:]], requests: "GET public/a\nPUT x y\r\nPING\n",
               ops: [.pass(13), .pass(9), .pass(5), .more(1)], injected: ""),
        Vector(name: "verb and resource must both hold", allow: [["verb": "GET", "resource": "^public/"]],
               requests: "GET private/b\nPUT public/c\nGET public/a\n",
               ops: [.drop(14), .drop(13), .pass(13), .more(1)], injected: denial + denial),
        // Denials behind an allowed request wait for its reply (the conversations below show them arrive).
        Vector(name: "any rule may allow", allow: [["verb": "GET", "resource": "^public/"], ["verb": "PING"]],
               requests: "PING\r\nGET public/x\r\nDEL public/x\r\n",
               ops: [.pass(6), .pass(14), .drop(14), .more(1)], injected: ""),
        Vector(name: "a deny rule wins", allow: [[:]], deny: [["resource": "secret"]],
               requests: "GET public/secret\nGET public/a\n",
               ops: [.drop(18), .pass(13), .more(1)], injected: denial),
        Vector(name: "no policy denies", allow: nil, requests: "PING\n", ops: [.drop(5), .more(1)], injected: denial),
        Vector(name: "verbs are case-sensitive", allow: [["verb": "GET"]], requests: "get a\n",
               ops: [.drop(6), .more(1)], injected: denial),
    ]

    static func policy(allow: [L7KeyValueRule]?, deny: [L7KeyValueRule] = []) -> NetworkPolicyConfig? {
        allow.map { portPolicy(parser, allow: $0, deny: deny) }
    }

    @Test(arguments: vectors)
    func requests(_ vector: Vector) throws {
        let fixture = ParserFixture()
        if let policy = Self.policy(allow: vector.allow, deny: vector.deny) { try fixture.install([policy]) }
        let outcome = fixture.connect(Self.parser).onData(vector.requests)
        #expect(outcome.result == FILTER_OK)
        #expect(outcome.ops == vector.ops)
        #expect(String(decoding: outcome.replyInjected, as: UTF8.self) == vector.injected)

        // The same verdicts however the bytes arrive.
        let decisions = vector.ops.filter { if case .more = $0 { false } else { true } }
        expectReplays(vector.requests, .init(decisions: decisions, injectedIntoReply: vector.injected)) {
            fixture.connect(Self.parser)
        }
    }

    struct Scenario: Sendable, CustomTestStringConvertible {
        let name: String
        let allow: [L7KeyValueRule]
        let events: [ConversationEvent]
        var testDescription: String { name }
    }

    /// Client and server through cilium-envoy's datapath: denials keep their place among pipelined replies.
    static let scenarios: [Scenario] = [
        Scenario(name: "a denial waits for the replies before it", allow: [["resource": "^public/"]], events: [
            .client("GET public/a\nGET private/b\nGET public/c\n"),
            .expect(server: "GET public/a\nGET public/c\n"),
            .server("OK a\n"),
            .expect(client: "OK a\n" + denial),
            .server("OK c\n"),
            .expect(client: "OK c\n"),
        ]),
        Scenario(name: "a denial with no reply due is answered at once", allow: [["verb": "PING"]], events: [
            .client("GET a\n"),
            .expect(client: denial),
            .client("PING\n"),
            .expect(server: "PING\n"),
            .server("PONG\n"),
            .expect(client: "PONG\n"),
        ]),
    ]

    @Test(arguments: scenarios)
    func conversation(_ scenario: Scenario) throws {
        try ConversationEvent.play(scenario.events, parser: Self.parser, policy: portPolicy(Self.parser, allow: scenario.allow))
    }

    @Test func repliesPassLineByLine() {
        let connection = ParserFixture().connect(Self.parser)
        // Once the input is used up the reply side has nothing to say (no MORE: the next reply may be far off).
        #expect(connection.onData(reply: true, "OK\r\nMORE DATA\n").ops == [.pass(4), .pass(10)])
        #expect(connection.onData(reply: true, "PARTIAL").ops == [.more(1)])
    }

    struct Malformed: Sendable, CustomTestStringConvertible {
        let what: String
        let requests: String
        var testDescription: String { what }
    }

    /// Input the parser does not understand is never forwarded: ERROR, and the datapath closes the connection.
    @Test(arguments: [
        Malformed(what: "an empty line", requests: "\n"),
        Malformed(what: "no verb", requests: " public/a\n"),
        Malformed(what: "a verb that is not letters", requests: "GET1 x\n"),
        Malformed(what: "a verb over 32 letters", requests: String(repeating: "A", count: 33) + "\n"),
        Malformed(what: "no LF within the longest line", requests: String(repeating: "x", count: 5000)),
    ])
    func malformedRequestsCloseTheConnection(_ malformed: Malformed) throws {
        let fixture = ParserFixture()
        try fixture.install([portPolicy(Self.parser, allow: [[:]])])
        let outcome = fixture.connect(Self.parser).onData(malformed.requests)
        #expect(outcome.ops.first.map { if case .error = $0 { true } else { false } } == true, "\(outcome.ops)")
    }

    @Test func accessLogEntries() throws {
        let fixture = ParserFixture()
        try fixture.install([portPolicy(Self.parser, allow: [["verb": "GET"]])])
        _ = fixture.connect(Self.parser).onData("GET public/a\r\nPUT b\n")
        let entries = fixture.log.all
        #expect(entries.map(\.entryType) == [.request, .denied])
        #expect(entries.first?.l7 == .generic(proto: Self.parser, fields: [("verb", "GET"), ("resource", "public/a")]))
        #expect(entries.last?.l7 == .generic(proto: Self.parser, fields: [("verb", "PUT"), ("resource", "b")]))
    }

    @Test(arguments: [
        (["bogus": "x"], "unsupported key"),
        (["verb": ""], "is not 1-32 ASCII letters"),
        (["verb": "GET PUT"], "is not 1-32 ASCII letters"),
        (["resource": "(a)\\1"], "regular expression"),
    ])
    func invalidRulesRejectTheUpdate(rule: L7KeyValueRule, reason: String) {
        let fixture = ParserFixture()
        #expect {
            try fixture.install([portPolicy(Self.parser, allow: [rule])])
        } throws: { error in
            "\(error)".contains(reason)
        }
    }
}
