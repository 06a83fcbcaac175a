import CProxylib
import Testing
@testable import ProxylibCore
import ProxylibParsers
import ProxylibTestSupport

/// Upstream r2d2parser_test.go vectors, replayed whole, byte by byte and randomly split.
@Suite struct R2D2ParserTests {
    let allowAll = portPolicy("r2d2")
    let readOnly = portPolicy("r2d2", allow: [["cmd": "READ"]])
    let fileRegex = portPolicy("r2d2", allow: [["file": "s.*"]])

    struct Vector: Sendable, CustomTestStringConvertible {
        let name: String
        let policy: NetworkPolicyConfig?
        let segments: [String]
        let ops: [ParserOp]
        let replyInject: String
        var testDescription: String { name }
    }

    static let vectors: [Vector] = [
        Vector(name: "incomplete request, no policy", policy: nil, segments: ["READ xssss"], ops: [.more(1)], replyInject: ""),
        Vector(name: "allow all", policy: portPolicy("r2d2"),
               segments: ["READ sssss\r\nWRITE sssss\r\nHALT\r\nRESET\r\n"],
               ops: [.pass(12), .pass(13), .pass(6), .pass(7), .more(1)], replyInject: ""),
        Vector(name: "request split over two segments", policy: portPolicy("r2d2"), segments: ["RE", "SET\r\n"],
               ops: [.pass(7), .more(1)], replyInject: ""),
        Vector(name: "cmd rule", policy: portPolicy("r2d2", allow: [["cmd": "READ"]]),
               segments: ["READ xssss\r\nWRITE xssss\r\n"], ops: [.pass(12), .drop(13), .more(1)], replyInject: "ERROR\r\n"),
        // Upstream's TestR2d2OnDataAllowDenyRegex never ran (a suite method go test skips); here it does.
        Vector(name: "file regex rule", policy: portPolicy("r2d2", allow: [["file": "s.*"]]),
               segments: ["READ ssss\r\nWRITE yyyyy\r\n"], ops: [.pass(11), .drop(13), .more(1)], replyInject: "ERROR\r\n"),
        Vector(name: "no policy denies", policy: nil, segments: ["READ sssss\r\nWRITE x\r\n"],
               ops: [.drop(12), .drop(9), .more(1)], replyInject: "ERROR\r\nERROR\r\n"),
        Vector(name: "cmd and file must both hold", policy: portPolicy("r2d2", allow: [["cmd": "READ", "file": "^/public/"]]),
               segments: ["READ /public/a\r\n", "READ /private/public/b\r\nWRITE /public/c\r\n"],
               ops: [.pass(16), .drop(24), .drop(17), .more(1)], replyInject: "ERROR\r\nERROR\r\n"),
        Vector(name: "deny rule that cannot decide denies (fail closed)",
               policy: portPolicy("r2d2", allow: [[:]], deny: [["file": "(a+)+$"]]),
               segments: ["READ x\r\nREAD " + String(repeating: "a", count: 40) + "b\r\n"],
               ops: [.pass(8), .drop(48), .more(1)], replyInject: "ERROR\r\n"),
        Vector(name: "deny rule (beyond upstream)", policy: portPolicy("r2d2", allow: [[:]], deny: [["cmd": "WRITE"]]),
               segments: ["READ x\r\nWRITE x\r\n"], ops: [.pass(8), .drop(9), .more(1)], replyInject: "ERROR\r\n"),
        Vector(name: "three fields: no file", policy: portPolicy("r2d2", allow: [["file": "x"]]),
               segments: ["READ x y\r\n"], ops: [.drop(10), .more(1)], replyInject: "ERROR\r\n"),
    ]

    @Test(arguments: vectors)
    func vector(_ vector: Vector) throws {
        let fixture = ParserFixture()
        if let policy = vector.policy { try fixture.install([policy]) }
        let connection = fixture.connect("r2d2")
        let outcome = connection.onData(segments: vector.segments.map { Array($0.utf8) })
        #expect(outcome.result == FILTER_OK)
        #expect(outcome.ops == vector.ops)
        #expect(String(decoding: outcome.replyInjected, as: UTF8.self) == vector.replyInject)

        let decisions = vector.ops.filter { if case .more = $0 { return false } else { return true } }
        expectReplays(vector.segments.joined(), .init(decisions: decisions, injectedIntoReply: vector.replyInject)) {
            fixture.connect("r2d2")
        }
    }

    @Test func repliesPassUnchecked() {
        let fixture = ParserFixture()
        let connection = fixture.connect("r2d2")
        #expect(connection.onData(reply: true, "OK\r\nDATA\r\n").ops == [.pass(4), .pass(6), .more(1)])
    }

    @Test func accessLogEntries() throws {
        let fixture = ParserFixture()
        try fixture.install([portPolicy("r2d2", allow: [["cmd": "READ"]])])
        let connection = fixture.connect("r2d2")
        _ = connection.onData("READ /a\r\nHALT\r\n")
        let entries = fixture.log.all
        #expect(entries.map(\.entryType) == [.request, .denied])
        #expect(entries.first?.l7 == .generic(proto: "r2d2", fields: [("cmd", "READ"), ("file", "/a")]))
        #expect(entries.last?.l7 == .generic(proto: "r2d2", fields: [("cmd", "HALT"), ("file", "")]))
    }

    @Test(arguments: [
        (["bogus": "x"], "unsupported key"),
        (["cmd": "JUMP"], "invalid cmd"),
        (["cmd": "HALT", "file": "x"], "not compatible"),
        (["file": "(a)\\1"], "regular expression"),
    ])
    func invalidRulesRejectTheUpdate(rule: L7KeyValueRule, reason: String) {
        let fixture = ParserFixture()
        do {
            try fixture.install([portPolicy("r2d2", allow: [rule])])
            Issue.record("rule \(rule) was accepted")
        } catch {
            #expect("\(error)".contains(reason))
        }
    }
}
