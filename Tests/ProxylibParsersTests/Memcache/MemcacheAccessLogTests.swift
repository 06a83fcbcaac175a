import CProxylib
import Testing
@testable import ProxylibCore
import ProxylibParsers
import ProxylibTestSupport

/// Access-log entries: upstream's `textmemcached` {command, keys} and `binarymemcached` {opcode, key}, for
/// requests, denials and responses.
@Suite struct MemcacheAccessLogTests {
    @Test func textEntries() throws {
        let fixture = ParserFixture()
        try fixture.install([MC.policy([["command": "get"]])])
        let connection = fixture.connect("memcache")
        _ = connection.onData("get a b\r\nset c 0 0 1\r\nx\r\n")
        _ = connection.onData(reply: true, "VALUE a 0 1\r\n1\r\nEND\r\n")
        let entries = fixture.log.all
        #expect(entries.map(\.entryType) == [.request, .denied, .response])
        #expect(entries.map(\.l7) == [
            .generic(proto: "textmemcached", fields: [("command", "get"), ("keys", "a, b")]),
            .generic(proto: "textmemcached", fields: [("command", "set"), ("keys", "c")]),
            .generic(proto: "textmemcached", fields: [("command", "get")]),
        ])
    }

    @Test func metaEntriesLogAsText() throws {
        let fixture = ParserFixture()
        try fixture.install([MC.policy([["command": "get"]])])
        let connection = fixture.connect("memcache")
        _ = connection.onData("mg cHViL3g= b v\r\nms k 1 T0\r\nx\r\n")
        _ = connection.onData(reply: true, "EN\r\n")
        #expect(fixture.log.all.map(\.l7) == [
            .generic(proto: "textmemcached", fields: [("command", "mg"), ("keys", "pub/x")]),
            .generic(proto: "textmemcached", fields: [("command", "ms"), ("keys", "k")]),
            .generic(proto: "textmemcached", fields: [("command", "mg")]),
        ])
    }

    @Test func binaryEntries() throws {
        let fixture = ParserFixture()
        try fixture.install([MC.policy([["command": "get"]])])
        let connection = fixture.connect("memcache")
        _ = connection.onData(segments: [MC.getHello, MC.setHello])
        _ = connection.onData(reply: true, segments: [MC.response(0x00, key: "Hello", value: Array("v".utf8))])
        let entries = fixture.log.all
        #expect(entries.map(\.entryType) == [.request, .denied, .response])
        #expect(entries.map(\.l7) == [
            .generic(proto: "binarymemcached", fields: [("opcode", "0"), ("key", "Hello")]),
            .generic(proto: "binarymemcached", fields: [("opcode", "1"), ("key", "Hello")]),
            .generic(proto: "binarymemcached", fields: [("opcode", "0"), ("key", "Hello")]),
        ])
    }

    @Test func opcodesLogInDecimal() throws {
        let fixture = ParserFixture()
        try fixture.install([MC.policy()])
        let connection = fixture.connect("memcache")
        _ = connection.onData(segments: [MC.request(0x47), MC.request(0xff), MC.request(0x0a)])
        #expect(fixture.log.all.compactMap { entry -> String? in
            guard case .generic(_, let fields) = entry.l7 else { return nil }
            return fields.first { $0.0 == "opcode" }?.1
        } == ["71", "255", "10"])
    }
}
