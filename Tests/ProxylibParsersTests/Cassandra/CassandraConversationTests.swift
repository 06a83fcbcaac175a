import CProxylib
import Testing
@testable import ProxylibCore
import ProxylibParsers
import ProxylibTestSupport

/// Client and server exchanges through the C datapath (cilium-envoy's onIo and network filter): what each
/// side receives, with every write delivered whole, byte by byte and randomly cut.
@Suite struct CassandraConversationTests {
    typealias Event = ConversationEvent

    struct Scenario: Sendable, CustomTestStringConvertible {
        let name: String
        let rules: [L7KeyValueRule]
        let events: [Event]
        var testDescription: String { name }
    }

    static let id = Array("0123456789abcdef".utf8)
    static let select = CQ.query("SELECT * FROM ks.open WHERE k = 1", stream: 1)
    static let secret = CQ.query("SELECT * FROM ks.secret", stream: 2)
    static let insert = CQ.query("INSERT INTO ks.open (k) VALUES (2)", stream: 3)
    static let rows = CQ.frame(response: true, stream: 1, opcode: 0x08, body: CQ.int(2) + CQ.int(0) + CQ.int(0) + CQ.int(0))
    static let void3 = CQ.voidResult(stream: 3)
    static let manySecrets = (0..<60).map { CQ.query("SELECT * FROM ks.secret", stream: Int16(100 + $0)) }

    static let scenarios: [Scenario] = [
        Scenario(name: "an allowed query and its rows", rules: CQ.table("^ks\\.open$"), events: [
            .client(CQ.options(stream: 0)), .expect(server: CQ.options(stream: 0), client: []),
            .client(select), .expect(server: select, client: []),
            .server(rows), .expect(server: [], client: rows),
        ]),
        Scenario(name: "a denied query is answered Unauthorized and never reaches the server", rules: CQ.table("^ks\\.open$"), events: [
            .client(secret), .expect(server: [], client: CQ.unauthorized(stream: 2)),
        ]),
        Scenario(name: "pipelined: the denied request leaves the others", rules: CQ.table("^ks\\.open$"), events: [
            .client(select + secret + insert), .expect(server: select + insert, client: CQ.unauthorized(stream: 2)),
            .server(void3 + rows), .expect(server: [], client: void3 + rows),
        ]),
        Scenario(name: "60 denials, more than the inject buffer holds, all arrive whole", rules: CQ.table("^ks\\.open$"), events: [
            .client(manySecrets.flatMap { $0 } + select),
            .expect(server: select, client: (0..<60).flatMap { CQ.unauthorized(stream: Int16(100 + $0)) }),
            .server(rows), .expect(server: [], client: rows),
        ]),
        Scenario(name: "prepare, the server's id, execute", rules: CQ.table("^ks\\.open$"), events: [
            .client(CQ.prepare("SELECT * FROM ks.open WHERE k = ?", stream: 4)),
            .expect(server: CQ.prepare("SELECT * FROM ks.open WHERE k = ?", stream: 4), client: []),
            .server(CQ.preparedResult(id, stream: 4)), .expect(server: [], client: CQ.preparedResult(id, stream: 4)),
            .client(CQ.execute(id, stream: 5)), .expect(server: CQ.execute(id, stream: 5), client: []),
            .client(CQ.execute(Array(id.reversed()), stream: 6)),
            .expect(server: [], client: CQ.unprepared(Array(id.reversed()), stream: 6)),
        ]),
        Scenario(name: "a USE answered by the server scopes the next statements", rules: CQ.table("^ks\\.open$"), events: [
            .client(CQ.query("USE ks", stream: 1)), .expect(server: CQ.query("USE ks", stream: 1), client: []),
            .server(CQ.setKeyspace("ks", stream: 1)), .expect(server: [], client: CQ.setKeyspace("ks", stream: 1)),
            .client(CQ.query("SELECT * FROM open", stream: 2) + CQ.query("SELECT * FROM secret", stream: 3)),
            .expect(server: CQ.query("SELECT * FROM open", stream: 2), client: CQ.unauthorized(stream: 3)),
        ]),
        Scenario(name: "a frame over 256 MiB closes the connection", rules: [[:]], events: [
            .client(CQ.header(stream: 1, opcode: 0x07, bodyLength: 0x1000_0001)), .expectParserError,
        ]),
    ]

    @Test(arguments: scenarios)
    func scenario(_ scenario: Scenario) throws {
        try ConversationEvent.play(scenario.events, parser: "cassandra", policy: CQ.policy(scenario.rules))
    }
}
