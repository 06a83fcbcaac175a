import CProxylib
import Testing
@testable import ProxylibCore
import ProxylibParsers
import ProxylibTestSupport

/// Access-log entries: generic_l7 `redis` {command, keys or channels, db} for requests and denials, {command}
/// for responses; never values, never AUTH's arguments.
@Suite struct RedisAccessLogTests {
    private func entries(rules: [L7KeyValueRule], requests: String, replies: String = "") throws -> [AccessLogEntry] {
        let fixture = ParserFixture()
        try fixture.install([RD.policy(rules)])
        let connection = fixture.connect("redis")
        _ = connection.onData(requests)
        if !replies.isEmpty { _ = connection.onData(reply: true, replies) }
        return fixture.log.all
    }

    @Test func requestsDenialsAndResponses() throws {
        let log = try entries(rules: [["command": "mget"], ["command": "select"]],
                              requests: RD.command("MGET", "a", "b") + RD.command("SET", "k", "secret-value")
                                  + RD.command("SELECT", "3") + RD.command("CONFIG", "GET", "maxmemory"),
                              replies: "*2\r\n$-1\r\n$-1\r\n+OK\r\n")
        #expect(log.map(\.entryType) == [.request, .denied, .request, .denied, .response, .response])
        #expect(log.map(\.l7) == [
            .generic(proto: "redis", fields: [("command", "mget"), ("keys", "a b"), ("db", "0")]),
            .generic(proto: "redis", fields: [("command", "set"), ("keys", "k"), ("db", "0")]),
            .generic(proto: "redis", fields: [("command", "select"), ("keys", ""), ("db", "3")]),
            .generic(proto: "redis", fields: [("command", "config|get"), ("keys", ""), ("db", "3")]),
            .generic(proto: "redis", fields: [("command", "mget")]),
            .generic(proto: "redis", fields: [("command", "select")]),
        ])
    }

    @Test func authArgumentsAndValuesAreNeverLogged() throws {
        let log = try entries(rules: [["command": "set"]],
                              requests: RD.command("AUTH", "user", "hunter2") + RD.command("HELLO", "3", "AUTH", "user", "hunter2")
                                  + RD.command("SET", "k", "hunter2"))
        #expect(log.count == 3)
        for entry in log {
            guard case .generic(_, let fields) = entry.l7 else { continue }
            #expect(!fields.contains { $0.1.contains("hunter2") })
        }
        #expect(log.map(\.entryType) == [.request, .request, .request])
    }

    @Test func channelsAndUnknownCommands() throws {
        let log = try entries(rules: [["channelPrefix": "n."]],
                              requests: RD.command("PUBLISH", "n.a", "payload") + RD.command("JSON.GET", "doc"))
        #expect(log.map(\.l7) == [
            .generic(proto: "redis", fields: [("command", "publish"), ("channels", "n.a"), ("db", "0")]),
            .generic(proto: "redis", fields: [("command", "JSON.GET"), ("keys", ""), ("db", "0")]),
        ])
    }

    @Test func keysAreBounded() throws {
        let many = (0..<40).map { "key\($0)" }
        let words = ["DEL"] + many
        let request = "*\(words.count)\r\n" + words.map { "$\($0.utf8.count)\r\n\($0)\r\n" }.joined()
        let log = try entries(rules: [["command": "del"]], requests: request)
        guard case .generic(_, let fields)? = log.first?.l7, let keys = fields.first(where: { $0.0 == "keys" })?.1 else {
            Issue.record("no keys field")
            return
        }
        #expect(keys == many.prefix(16).joined(separator: " ") + " …")
    }
}
