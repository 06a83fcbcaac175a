import CProxylib
import Testing
@testable import ProxylibCore
import ProxylibParsers
import ProxylibTestSupport

/// Client and server exchanges through the C datapath: what the server receives, what the client receives,
/// in order, with every write delivered whole, byte by byte and randomly cut.
@Suite struct MemcacheConversationTests {
    typealias Event = ConversationEvent

    struct Scenario: Sendable, CustomTestStringConvertible {
        let name: String
        let rules: [L7KeyValueRule]
        var injectSize = 1024
        let events: [Event]
        var testDescription: String { name }
    }

    static let denied = MC.denied
    static let big = String(repeating: "0123456789abcdef", count: 8192)  // 128 KiB

    static let textScenarios: [Scenario] = [
        Scenario(name: "text: a denial lands between the replies of pipelined requests",
                 rules: [["command": "get", "keyRegex": "^[ab]$"]], events: [
                    .client("get a\r\nget secret\r\nget b\r\n"),
                    .expect(server: "get a\r\nget b\r\n"),
                    .server("VALUE a 0 1\r\n1\r\nEND\r\nEND\r\n"),
                    .expect(client: "VALUE a 0 1\r\n1\r\nEND\r\n" + denied + "END\r\n"),
                 ]),
        Scenario(name: "text: a denial with nothing outstanding is answered at once",
                 rules: [["command": "get"]], events: [
                    .client("set a 0 0 1\r\nx\r\n"),
                    .expect(client: denied),
                    .client("get a\r\n"),
                    .expect(server: "get a\r\n"),
                    .server("END\r\n"),
                    .expect(client: "END\r\n"),
                 ]),
        Scenario(name: "text: a multi-key get is denied when one key is", rules: [["command": "get", "keyPrefix": "pub/"]],
                 events: [
                    .client("get pub/a pub/b\r\nget pub/a priv/b\r\n"),
                    .expect(server: "get pub/a pub/b\r\n"),
                    .server("END\r\n"),
                    .expect(client: "END\r\n" + denied),
                 ]),
        Scenario(name: "text: large values arriving in pieces pass both ways", rules: [["command": "storage"], ["command": "get"]],
                 events: [
                    .client("set big 0 0 \(big.utf8.count)\r\n\(big)\r\nget big\r\nincr big 1\r\n"),
                    .expect(server: "set big 0 0 \(big.utf8.count)\r\n\(big)\r\nget big\r\nincr big 1\r\n"),
                    .server("STORED\r\nVALUE big 0 \(big.utf8.count)\r\n\(big)\r\nEND\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n"),
                    .expect(client: "STORED\r\nVALUE big 0 \(big.utf8.count)\r\n\(big)\r\nEND\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n"),
                 ]),
        Scenario(name: "text: a denial waits for a large value still passing", rules: [["command": "get", "keyExact": "big"]],
                 events: [
                    .client("get big\r\nget other\r\n"),
                    .expect(server: "get big\r\n"),
                    .server("VALUE big 0 \(big.utf8.count)\r\n\(big)\r\nEND\r\n"),
                    .expect(client: "VALUE big 0 \(big.utf8.count)\r\n\(big)\r\nEND\r\n" + denied),
                 ]),
        Scenario(name: "text: noreply requests get no reply, denied or not", rules: [["command": "set", "keyExact": "a"], ["command": "get"]],
                 events: [
                    .client("set a 0 0 1 noreply\r\nx\r\nset b 0 0 1 noreply\r\ny\r\nget a b\r\n"),
                    .expect(server: "set a 0 0 1 noreply\r\nx\r\nget a b\r\n"),
                    .server("VALUE a 0 1\r\nx\r\nEND\r\n"),
                    .expect(client: "VALUE a 0 1\r\nx\r\nEND\r\n"),
                 ]),
        Scenario(name: "text: multi-line stats replies, then a denial", rules: [["command": "stats"]], events: [
                    .client("stats\r\nstats reset\r\nversion\r\nstats detail on\r\n"),
                    .expect(server: "stats\r\nstats reset\r\nstats detail on\r\n"),
                    .server("STAT pid 1\r\nSTAT uptime 2\r\nEND\r\nRESET\r\nOK\r\n"),
                    .expect(client: "STAT pid 1\r\nSTAT uptime 2\r\nEND\r\nRESET\r\n" + denied + "OK\r\n"),
                 ]),
        Scenario(name: "text: lru_crawler metadump lines end in LF alone", rules: [["command": "lru_crawler"]], events: [
                    .client("lru_crawler metadump all\r\nflush_all\r\n"),
                    .expect(server: "lru_crawler metadump all\r\n"),
                    .server("key=a exp=-1 la=1 cas=9 fetch=no cls=1 size=62\nkey=b exp=-1 la=1 cas=10 fetch=no cls=1 size=62\nEND\r\n"),
                    .expect(client: "key=a exp=-1 la=1 cas=9 fetch=no cls=1 size=62\nkey=b exp=-1 la=1 cas=10 fetch=no cls=1 size=62\nEND\r\n" + denied),
                 ]),
        Scenario(name: "text: commands ending in LF alone, as memcached accepts", rules: [["command": "get"]], events: [
                    .client("get a\nset a 0 0 1\nx\r\n"),
                    .expect(server: "get a\n"),
                    .server("END\r\n"),
                    .expect(client: "END\r\n" + denied),
                 ]),
        Scenario(name: "text: server errors end any reply", rules: [["command": "get"], ["command": "stats"]], events: [
                    .client("get a b\r\nstats\r\nget c\r\nflush_all\r\n"),
                    .expect(server: "get a b\r\nstats\r\nget c\r\n"),
                    .server("VALUE a 0 1\r\n1\r\nSERVER_ERROR out of memory writing get response\r\n"),
                    .server("STAT pid 1\r\nCLIENT_ERROR bad command line format\r\nEND\r\n"),
                    .expect(client: "VALUE a 0 1\r\n1\r\nSERVER_ERROR out of memory writing get response\r\n"
                        + "STAT pid 1\r\nCLIENT_ERROR bad command line format\r\nEND\r\n" + denied),
                 ]),
        Scenario(name: "text: a denial larger than the inject buffer comes out whole", rules: [["command": "get"]],
                 injectSize: 16, events: [
                    .client("get a\r\nset a 0 0 1\r\nx\r\ndelete a\r\n"),
                    .expect(server: "get a\r\n"),
                    .server("VALUE a 0 1\r\n1\r\nEND\r\n"),
                    .expect(client: "VALUE a 0 1\r\n1\r\nEND\r\n" + denied + denied),
                 ]),
    ]

    static let metaScenarios: [Scenario] = [
        Scenario(name: "meta: mg and ms through the get and storage groups", rules: [["command": "get"], ["command": "storage", "keyPrefix": "k"], ["command": "noop"]],
                 events: [
                    .client("ms k1 5 T0\r\nhello\r\nmg k1 v\r\nms x 1\r\n1\r\nmd k1\r\nmn\r\n"),
                    .expect(server: "ms k1 5 T0\r\nhello\r\nmg k1 v\r\nmn\r\n"),
                    .server("HD\r\nVA 5\r\nhello\r\nMN\r\n"),
                    .expect(client: "HD\r\nVA 5\r\nhello\r\n" + denied + denied + "MN\r\n"),
                 ]),
        Scenario(name: "meta: base64 keys are decoded before matching", rules: [["command": "mg", "keyPrefix": "pub/"]],
                 events: [
                    .client("mg cHViL3g= b v\r\nmg cHJpdg== b v\r\nmg pub/y v\r\n"),
                    .expect(server: "mg cHViL3g= b v\r\nmg pub/y v\r\n"),
                    .server("EN\r\nVA 1 b\r\nz\r\n"),
                    .expect(client: "EN\r\n" + denied + "VA 1 b\r\nz\r\n"),
                 ]),
        Scenario(name: "meta: ma follows incr or decr by its mode", rules: [["command": "incr"]], events: [
                    .client("ma n v\r\nma n MD v\r\nma n M+ v\r\n"),
                    .expect(server: "ma n v\r\nma n M+ v\r\n"),
                    .server("VA 1\r\n6\r\nVA 1\r\n7\r\n"),
                    .expect(client: "VA 1\r\n6\r\n" + denied + "VA 1\r\n7\r\n"),
                 ]),
        Scenario(name: "meta: a denial behind a quiet miss: the no-op sent in its place keeps order",
                 rules: [["command": "get", "keyExact": "a"], ["command": "noop"]], events: [
                    .client("mg a v q\r\nmg secret v\r\nmn\r\n"),
                    .expect(server: "mg a v q\r\nmn\r\nmn\r\n"),
                    .server("MN\r\nMN\r\n"),
                    .expect(client: denied + "MN\r\n"),
                 ]),
        Scenario(name: "meta: a denial behind a quiet hit", rules: [["command": "get", "keyExact": "a"], ["command": "noop"]],
                 events: [
                    .client("mg a v q\r\nmg secret v\r\nmn\r\n"),
                    .expect(server: "mg a v q\r\nmn\r\nmn\r\n"),
                    .server("VA 1\r\nx\r\nMN\r\nMN\r\n"),
                    .expect(client: "VA 1\r\nx\r\n" + denied + "MN\r\n"),
                 ]),
        Scenario(name: "meta: quiet sets that fail still answer, in order", rules: [["command": "ms"], ["command": "mn"]],
                 events: [
                    .client("ms a 1 q\r\n1\r\nms b 1 q ME\r\n2\r\nms c 1 q\r\n3\r\nmn\r\n"),
                    .expect(server: "ms a 1 q\r\n1\r\nms b 1 q ME\r\n2\r\nms c 1 q\r\n3\r\nmn\r\n"),
                    .server("NS\r\nMN\r\n"),
                    .expect(client: "NS\r\nMN\r\n"),
                 ]),
        Scenario(name: "meta: quiet replies matched by opaque", rules: [["command": "get", "keyPrefix": "k"], ["command": "mn"]],
                 events: [
                    .client("mg k1 v q O1\r\nmg k2 v q O2\r\nmg x v O3\r\nmn\r\n"),
                    .expect(server: "mg k1 v q O1\r\nmg k2 v q O2\r\nmn\r\nmn\r\n"),
                    .server("VA 1 O2\r\nb\r\nMN\r\nMN\r\n"),
                    .expect(client: "VA 1 O2\r\nb\r\n" + denied + "MN\r\n"),
                 ]),
    ]

    static func binary(_ events: [(Bool, [UInt8])]) -> [Event] { events.map { $0.0 ? .client($0.1) : .server($0.1) } }

    static let binaryScenarios: [Scenario] = {
        let get = { (key: String, opaque: UInt32) in MC.request(0x00, key: key, opaque: opaque) }
        let getq = { (key: String, opaque: UInt32) in MC.request(0x09, key: key, opaque: opaque) }
        let hit = { (opcode: UInt8, opaque: UInt32) in MC.response(opcode, extras: [0, 0, 0, 0], value: Array("v".utf8), opaque: opaque) }
        let noop = { (opaque: UInt32) in MC.request(0x0a, opaque: opaque) }
        let noopReply = { (opaque: UInt32) in MC.response(0x0a, opaque: opaque) }
        let set = MC.request(0x01, key: "a", extras: [0, 0, 0, 0, 0, 0, 0, 0], value: Array(big.utf8), opaque: 9)
        return [
            Scenario(name: "binary: denials carry the request's opcode and opaque, in order",
                     rules: [["command": "get", "keyPrefix": "a"]], events: [
                        .client(get("a1", 1) + get("b", 2) + MC.request(0x0c, key: "c", opaque: 3) + get("a2", 4)),
                        .expect(server: get("a1", 1) + get("a2", 4), client: []),
                        .server(hit(0, 1) + hit(0, 4)),
                        .expect(server: [], client: hit(0, 1) + MC.binaryDenial(0, opaque: 2) + MC.binaryDenial(0x0c, opaque: 3) + hit(0, 4)),
                     ]),
            Scenario(name: "binary: a denial behind quiet gets waits for a NOOP sent in its place",
                     rules: [["command": "get", "keyPrefix": "a"], ["command": "noop"]], events: [
                        .client(getq("a1", 1) + getq("a2", 2) + get("secret", 3) + noop(4)),
                        .expect(server: getq("a1", 1) + getq("a2", 2) + noop(3) + noop(4), client: []),
                        .server(hit(0x09, 2) + noopReply(3) + noopReply(4)),
                        .expect(server: [], client: hit(0x09, 2) + MC.binaryDenial(0, opaque: 3) + noopReply(4)),
                     ]),
            Scenario(name: "binary: a large value passes in pieces, then a queued denial",
                     rules: [["command": "set"]], events: [
                        .client(set + get("a", 10)),
                        .expect(server: set, client: []),
                        .server(MC.response(0x01, opaque: 9)),
                        .expect(server: [], client: MC.response(0x01, opaque: 9) + MC.binaryDenial(0, opaque: 10)),
                     ]),
            Scenario(name: "binary: STAT answers with many responses and an empty one",
                     rules: [["command": "stats"]], events: [
                        .client(MC.request(0x10, opaque: 5) + get("x", 6)),
                        .expect(server: MC.request(0x10, opaque: 5), client: []),
                        .server(MC.response(0x10, key: "pid", value: Array("1".utf8), opaque: 5)
                                + MC.response(0x10, key: "uptime", value: Array("2".utf8), opaque: 5)
                                + MC.response(0x10, opaque: 5)),
                        .expect(server: [], client: MC.response(0x10, key: "pid", value: Array("1".utf8), opaque: 5)
                                + MC.response(0x10, key: "uptime", value: Array("2".utf8), opaque: 5)
                                + MC.response(0x10, opaque: 5) + MC.binaryDenial(0, opaque: 6)),
                     ]),
            Scenario(name: "binary: a denial larger than the inject buffer comes out whole",
                     rules: [["command": "set"]], injectSize: 16, events: [
                        .client(get("a", 1) + get("b", 2)),
                        .expect(server: [], client: MC.binaryDenial(0, opaque: 1) + MC.binaryDenial(0, opaque: 2)),
                     ]),
        ]
    }()

    static let errorScenarios: [Scenario] = [
        Scenario(name: "malformed: storage length not a number", rules: [[:]], events: [
            .client("set a 0 0 abc\r\nxyz\r\n"), .expectParserError]),
        Scenario(name: "malformed: storage command with too few tokens", rules: [[:]], events: [
            .client("set a 0\r\n"), .expectParserError]),
        Scenario(name: "malformed: empty command line", rules: [[:]], events: [.client("\r\n"), .expectParserError]),
        Scenario(name: "malformed: data block not ending in CRLF", rules: [[:]], events: [
            .client("set a 0 0 1\r\nxyz\r\nget secret\r\n"), .expectParserError]),
        Scenario(name: "malformed: absurd length", rules: [[:]], events: [
            .client("set a 0 0 99999999999\r\n"), .expectParserError]),
        Scenario(name: "malformed: key over 250 bytes", rules: [[:]], events: [
            .client("get " + String(repeating: "k", count: 251) + "\r\n"), .expectParserError]),
        Scenario(name: "malformed: unknown command", rules: [[:]], events: [.client("shutdown\r\n"), .expectParserError]),
        Scenario(name: "malformed: invalid base64 key", rules: [[:]], events: [.client("mg !!!! b v\r\n"), .expectParserError]),
        Scenario(name: "malformed: a text reply with no request outstanding", rules: [[:]], events: [
            .client("get a\r\n"), .expect(server: "get a\r\n"), .server("END\r\nEND\r\n"), .expectParserError]),
        Scenario(name: "malformed: the server speaks first", rules: [[:]], events: [.server("VERSION 1\r\n"), .expectParserError]),
        Scenario(name: "malformed: binary request with response magic", rules: [[:]], events: [
            .client(MC.response(0x00, key: "a")), .expectParserError]),
        Scenario(name: "malformed: binary key longer than the body", rules: [[:]], events: [
            .client([0x80, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0, 5] + [UInt8](repeating: 0, count: 12) + Array("abcdefghij".utf8)),
            .expectParserError]),
        Scenario(name: "malformed: binary key over 250 bytes", rules: [[:]], events: [
            .client(MC.request(0x00, key: String(repeating: "k", count: 251))), .expectParserError]),
    ]

    @Test(arguments: textScenarios + metaScenarios + binaryScenarios + errorScenarios)
    func scenario(_ scenario: Scenario) throws {
        try ConversationEvent.play(scenario.events, parser: "memcache", policy: MC.policy(scenario.rules),
                                   injectSize: scenario.injectSize)
    }
}
