import CProxylib
import Testing
@testable import ProxylibCore
@testable import ProxylibParsers
import ProxylibTestSupport

/// Verdicts beyond upstream's vectors, one OnData call per step: the upstream defects we fix, keyspaces,
/// prepared statements, protocol v5 request fields, framing errors and the access log.
@Suite struct CassandraBehaviourTests {
    /// Sends one request frame; returns whether it passed, and what was injected towards the client.
    static func send(_ connection: TestConnection, _ frame: [UInt8]) -> (ops: [ParserOp], injected: [UInt8]) {
        let outcome = connection.onData(segments: [frame])
        #expect(outcome.result == FILTER_OK)
        return (outcome.ops, outcome.replyInjected)
    }

    static func passes(_ frame: [UInt8]) -> [ParserOp] { [.pass(frame.count), .more(9)] }
    static func drops(_ frame: [UInt8]) -> [ParserOp] { [.drop(frame.count), .more(9)] }

    struct Verdict: Sendable, CustomTestStringConvertible {
        let name: String
        let rules: [L7KeyValueRule]
        var deny: [L7KeyValueRule] = []
        let cql: String
        let allowed: Bool
        var testDescription: String { name }
    }

    static let verdicts: [Verdict] = [
        // TRUNCATE: upstream parses an empty table, which every query_table rule lets through.
        Verdict(name: "TRUNCATE is checked by its table", rules: CQ.table("^db4\\.other$"), cql: "TRUNCATE db4.t1", allowed: false),
        Verdict(name: "TRUNCATE of an allowed table", rules: [["query_action": "truncate-table", "query_table": "^db4\\.t1$"]],
                cql: "TRUNCATE TABLE db4.t1", allowed: true),
        // The table after the last `from` word (upstream) is inside a literal here.
        Verdict(name: "a FROM in a literal does not pick the table", rules: CQ.table("^public\\."),
                cql: "SELECT * FROM secret.t WHERE c = 'x from public.t'", allowed: false),
        Verdict(name: "a FROM in a comment does not pick the table", rules: CQ.table("^public\\."),
                cql: "SELECT * FROM secret.t /* from public.t */", allowed: false),
        Verdict(name: "no spaces around *", rules: CQ.table("^ks\\.t$"), cql: "SELECT*FROM ks.t", allowed: true),
        Verdict(name: "a trailing FROM is not a table (upstream indexes past its tokens)", rules: CQ.table(".*"),
                cql: "SELECT * FROM", allowed: false),
        Verdict(name: "an unknown statement is denied under conditions", rules: CQ.table(".*"),
                cql: "DESCRIBE KEYSPACES", allowed: false),
        Verdict(name: "an unknown statement is allowed by an unconditional rule", rules: [[:]],
                cql: "DESCRIBE KEYSPACES", allowed: true),
        Verdict(name: "two statements are never classified", rules: CQ.table("^ks\\."),
                cql: "SELECT * FROM ks.a; DROP TABLE other.b", allowed: false),
        Verdict(name: "an action without table does not match a table rule", rules: CQ.table(".*"),
                cql: "CREATE ROLE bob", allowed: false),
        Verdict(name: "an action rule without table allows it", rules: [["query_action": "create-role"]],
                cql: "CREATE ROLE bob", allowed: true),
        Verdict(name: "query_action alone", rules: [["query_action": "select"]], cql: "INSERT INTO ks.t (a) VALUES (1)",
                allowed: false),
        Verdict(name: "a keyspace action matches query_table against the keyspace", rules: [["query_action": "drop-keyspace", "query_table": "^scratch$"]],
                cql: "DROP KEYSPACE IF EXISTS scratch", allowed: true),
        Verdict(name: "a statement batch in a QUERY needs every statement", rules: CQ.table("^a\\."),
                cql: "BEGIN BATCH INSERT INTO a.t (k) VALUES (1); DELETE FROM b.t WHERE k = 1; APPLY BATCH", allowed: false),
        Verdict(name: "a statement batch in a QUERY, all allowed", rules: CQ.table("^a\\."),
                cql: "BEGIN BATCH INSERT INTO a.t (k) VALUES (1); DELETE FROM a.u WHERE k = 1; APPLY BATCH", allowed: true),
        Verdict(name: "a deny rule wins", rules: [[:]], deny: [["query_action": "drop-table"]], cql: "DROP TABLE ks.t",
                allowed: false),
        Verdict(name: "a deny rule denies what cannot be classified", rules: [[:]], deny: [["query_action": "drop-table"]],
                cql: "DESCRIBE KEYSPACES", allowed: false),
        Verdict(name: "a deny rule leaves other statements", rules: [[:]], deny: [["query_action": "drop-table"]],
                cql: "SELECT * FROM ks.t", allowed: true),
        Verdict(name: "quoted names keep their case", rules: CQ.table("^Shop\\.Orders$"), cql: "SELECT * FROM \"Shop\".\"Orders\"",
                allowed: true),
        Verdict(name: "unquoted names fold", rules: CQ.table("^Shop\\.Orders$"), cql: "SELECT * FROM Shop.Orders",
                allowed: false),
    ]

    @Test(arguments: verdicts)
    func verdict(_ verdict: Verdict) throws {
        let (fixture, connection) = try CQ.connect(verdict.rules, deny: verdict.deny)
        let frame = CQ.query(verdict.cql, stream: 7)
        let result = Self.send(connection, frame)
        #expect(result.ops == (verdict.allowed ? Self.passes(frame) : Self.drops(frame)))
        #expect(result.injected == (verdict.allowed ? [] : CQ.unauthorized(stream: 7)))
        // One entry per statement, all of the verdict's type.
        #expect(fixture.log.count(verdict.allowed ? .request : .denied) >= 1)
        #expect(fixture.log.count(verdict.allowed ? .denied : .request) == 0)
    }

    // MARK: Keyspaces

    @Test func useIsConfirmedByTheServer() throws {
        let (fixture, connection) = try CQ.connect(CQ.table("^shop\\.orders$"))
        #expect(Self.send(connection, CQ.query("USE shop", stream: 1)).ops == Self.passes(CQ.query("USE shop", stream: 1)))
        _ = connection.onData(reply: true, segments: [CQ.setKeyspace("shop", stream: 1)])
        let select = CQ.query("SELECT * FROM orders", stream: 2)
        #expect(Self.send(connection, select).ops == Self.passes(select))
        // USE is neither checked nor logged.
        #expect(fixture.log.all.count == 1)
    }

    @Test func aUseTheServerRefusedDoesNotSwitch() throws {
        let (_, connection) = try CQ.connect(CQ.table("^shop\\."))
        _ = Self.send(connection, CQ.query("USE shop", stream: 1))
        _ = connection.onData(reply: true, segments: [CQ.setKeyspace("shop", stream: 1)])
        _ = Self.send(connection, CQ.query("USE secret", stream: 2))
        _ = connection.onData(reply: true, segments: [CQ.serverError(stream: 2, code: 0x2200)])
        let select = CQ.query("SELECT * FROM orders", stream: 3)
        #expect(Self.send(connection, select).ops == Self.passes(select))
    }

    /// While a USE is in flight the server may run the next statement in either keyspace: both must allow it.
    @Test func aPipelinedUseChecksBothKeyspaces() throws {
        let (fixture, connection) = try CQ.connect(CQ.table("^shop\\."))
        _ = Self.send(connection, CQ.query("USE shop", stream: 1))
        _ = connection.onData(reply: true, segments: [CQ.setKeyspace("shop", stream: 1)])
        _ = Self.send(connection, CQ.query("USE secret", stream: 2))
        let select = CQ.query("SELECT * FROM orders", stream: 3)
        #expect(Self.send(connection, select).ops == Self.drops(select))
        // Logged in the keyspace that denied it.
        #expect(fixture.log.all.last.map(Self.fields) == ["query_action": "select", "query_table": "secret.orders"])
        _ = connection.onData(reply: true, segments: [CQ.setKeyspace("secret", stream: 2)])
        #expect(Self.send(connection, CQ.query("SELECT * FROM orders", stream: 4)).ops == Self.drops(select))
    }

    /// Overlapping USEs: whichever the server ran last may be current, so once both are answered, both
    /// keyspaces are checked; a later USE on its own settles it again.
    @Test func overlappingUsesKeepEveryAnsweredKeyspace() throws {
        let (_, connection) = try CQ.connect(CQ.table("^shop\\."))
        _ = Self.send(connection, CQ.query("USE shop", stream: 1))
        _ = Self.send(connection, CQ.query("USE secret", stream: 2))
        _ = connection.onData(reply: true, segments: [CQ.setKeyspace("secret", stream: 2)])
        _ = connection.onData(reply: true, segments: [CQ.setKeyspace("shop", stream: 1)])
        let select = CQ.query("SELECT * FROM orders", stream: 3)
        #expect(Self.send(connection, select).ops == Self.drops(select))
        _ = Self.send(connection, CQ.query("USE shop", stream: 4))
        _ = connection.onData(reply: true, segments: [CQ.setKeyspace("shop", stream: 4)])
        let again = CQ.query("SELECT * FROM orders", stream: 5)
        #expect(Self.send(connection, again).ops == Self.passes(again))
    }

    /// A request reusing the stream of an awaited USE (the protocol forbids it; upstream's UseQuery does it):
    /// an error answer on that stream may be the other request's, so the USE stays a candidate until the
    /// server confirms a keyspace. A second PREPARE on an awaited PREPARE's stream closes the connection.
    @Test func reusedStreamsSettleNothingOnErrors() throws {
        let (_, connection) = try CQ.connect(CQ.table("^shop\\."))
        _ = Self.send(connection, CQ.query("USE shop", stream: 1))
        _ = connection.onData(reply: true, segments: [CQ.setKeyspace("shop", stream: 1)])
        _ = Self.send(connection, CQ.query("USE secret", stream: 2))
        _ = Self.send(connection, CQ.query("SELECT * FROM shop.t", stream: 2))
        _ = connection.onData(reply: true, segments: [CQ.serverError(stream: 2)])
        let select = CQ.query("SELECT * FROM orders", stream: 3)
        #expect(Self.send(connection, select).ops == Self.drops(select))
        _ = connection.onData(reply: true, segments: [CQ.setKeyspace("shop", stream: 2)])
        let again = CQ.query("SELECT * FROM orders", stream: 4)
        #expect(Self.send(connection, again).ops == Self.passes(again))
        let (_, other) = try CQ.connect([[:]])
        _ = Self.send(other, CQ.prepare("SELECT * FROM ks.t", stream: 2))
        #expect(Self.send(other, CQ.prepare("SELECT * FROM ks.u", stream: 2)).ops == [.error(.invalidFrameType)])
    }

    /// USE, and empty batches, pass only where a control request would: not for a peer denied everything.
    @Test func aPeerDeniedEverythingCannotUse() throws {
        let fixture = ParserFixture()
        try fixture.install([portPolicy("cassandra", allow: [["query_table": "^ks\\."]], remotes: [7])])
        let connection = fixture.connect("cassandra", sourceID: 1)
        for frame in [CQ.query("USE ks", stream: 1), CQ.query("BEGIN BATCH APPLY BATCH", stream: 2),
                      CQ.batch([], stream: 3), CQ.options(stream: 4)] {
            #expect(Self.send(connection, frame).ops == Self.drops(frame))
        }
    }

    @Test func tooManyUsesInFlightAreDenied() throws {
        let (_, connection) = try CQ.connect([[:]])
        for stream in Int16(1)...Int16(KeyspaceTracker.maxPendingUses) {
            let use = CQ.query("USE k\(stream)", stream: stream)
            #expect(Self.send(connection, use).ops == Self.passes(use))
        }
        let use = CQ.query("USE one_more", stream: 99)
        #expect(Self.send(connection, use).ops == Self.drops(use))
    }

    /// Protocol v5: a QUERY may name its keyspace, which then stands for the connection's.
    @Test func aV5QueryKeyspaceOverridesTheConnection() throws {
        let (_, connection) = try CQ.connect(CQ.table("^shop\\."))
        _ = Self.send(connection, CQ.query("USE shop", version: 5))
        _ = connection.onData(reply: true, segments: [CQ.setKeyspace("shop", stream: 5, version: 5)])
        let text = "SELECT * FROM orders"
        let withKeyspace = CQ.frame(version: 5, stream: 6, opcode: 0x07,
                                    body: CQ.longString(text) + CQ.short(1) + CQ.int(0x80) + CQ.string("secret"))
        #expect(Self.send(connection, withKeyspace).ops == Self.drops(withKeyspace))
        let valuesThenKeyspace = CQ.frame(version: 5, stream: 7, opcode: 0x07,
                                          body: CQ.longString(text) + CQ.short(1) + CQ.int(0x01 | 0x04 | 0x80)
                                            + CQ.short(1) + CQ.int(2) + [1, 2] + CQ.int(100) + CQ.string("shop"))
        #expect(Self.send(connection, valuesThenKeyspace).ops == Self.passes(valuesThenKeyspace))
        let truncated = CQ.frame(version: 5, stream: 8, opcode: 0x07, body: CQ.longString(text) + CQ.short(1) + CQ.int(0x80))
        #expect(Self.send(connection, truncated).ops == [.error(.invalidFrameType)])
    }

    // MARK: Prepared statements

    @Test func aDeniedPrepareIsNotRemembered() throws {
        let (_, connection) = try CQ.connect(CQ.table("^ks\\.open$"))
        let id = Array("0123456789abcdef".utf8)
        let prepare = CQ.prepare("SELECT * FROM ks.closed", stream: 3)
        #expect(Self.send(connection, prepare).ops == Self.drops(prepare))
        // Even if a reply for that stream came, nothing waits for it.
        _ = connection.onData(reply: true, segments: [CQ.preparedResult(id, stream: 3)])
        let execute = CQ.execute(id, stream: 4)
        let result = Self.send(connection, execute)
        #expect(result.ops == Self.drops(execute))
        #expect(result.injected == CQ.unprepared(id, stream: 4))
    }

    @Test func aFailedPrepareIsForgotten() throws {
        let (_, connection) = try CQ.connect([[:]])
        let id = Array("0123456789abcdef".utf8)
        _ = Self.send(connection, CQ.prepare("SELECT * FROM ks.t", stream: 3))
        _ = connection.onData(reply: true, segments: [CQ.serverError(stream: 3)])
        _ = connection.onData(reply: true, segments: [CQ.preparedResult(id, stream: 3)])
        #expect(Self.send(connection, CQ.execute(id, stream: 4)).injected == CQ.unprepared(id, stream: 4))
    }

    @Test func anExecuteIsCheckedWithTheKeyspaceOfItsPrepare() throws {
        let (fixture, connection) = try CQ.connect([[:]])
        let id = Array("0123456789abcdef".utf8)
        _ = Self.send(connection, CQ.query("USE shop", stream: 1))
        _ = connection.onData(reply: true, segments: [CQ.setKeyspace("shop", stream: 1)])
        _ = Self.send(connection, CQ.prepare("SELECT * FROM orders WHERE id = ?", stream: 2))
        _ = connection.onData(reply: true, segments: [CQ.preparedResult(id, stream: 2)])
        _ = Self.send(connection, CQ.query("USE other", stream: 3))
        _ = connection.onData(reply: true, segments: [CQ.setKeyspace("other", stream: 3)])
        try fixture.instance.updatePolicy([CQ.policy(CQ.table("^shop\\.orders$"))], version: "2")
        fixture.log.clear()
        let execute = CQ.execute(id, stream: 4)
        #expect(Self.send(connection, execute).ops == Self.passes(execute))
        #expect(fixture.log.all.first.map(Self.fields) == ["query_action": "select", "query_table": "shop.orders"])
    }

    @Test func aBatchWithAnUnknownIdIsAnsweredUnprepared() throws {
        let (fixture, connection) = try CQ.connect([[:]])
        let batch = CQ.batch([.query("INSERT INTO ks.t (k) VALUES (1)"), .prepared(Array("zz".utf8))], stream: 9)
        let result = Self.send(connection, batch)
        #expect(result.ops == Self.drops(batch))
        #expect(result.injected == CQ.unprepared(Array("zz".utf8), stream: 9))
        #expect(fixture.log.all.map(Self.fields) == [["error": "unknown prepared query id"]])
    }

    // MARK: Framing

    struct Malformed: Sendable, CustomTestStringConvertible {
        let name: String
        let frame: [UInt8]
        var testDescription: String { name }
    }

    static let malformed: [Malformed] = [
        Malformed(name: "response bit on a request", frame: CQ.frame(response: true, stream: 1, opcode: 0x05, body: [])),
        Malformed(name: "length over 256 MiB", frame: CQ.header(stream: 1, opcode: 0x07, bodyLength: 256 * 1024 * 1024 + 1)),
        Malformed(name: "unknown opcode", frame: CQ.frame(stream: 1, opcode: 0x11, body: [])),
        Malformed(name: "a response opcode as a request", frame: CQ.frame(stream: 1, opcode: 0x08, body: [])),
        Malformed(name: "query string past the body", frame: CQ.frame(stream: 1, opcode: 0x07, body: CQ.int(50) + [0x41])),
        Malformed(name: "negative query length", frame: CQ.frame(stream: 1, opcode: 0x07, body: CQ.int(-1))),
        Malformed(name: "execute id past the body", frame: CQ.frame(stream: 1, opcode: 0x0A, body: CQ.short(9) + [1, 2])),
        Malformed(name: "batch entry of kind 2", frame: CQ.frame(stream: 1, opcode: 0x0D, body: [0] + CQ.short(1) + [2])),
        Malformed(name: "batch without its parameters", frame: CQ.frame(stream: 1, opcode: 0x0D,
                                                                         body: [0] + CQ.short(1) + [0] + CQ.longString("INSERT INTO a.b (k) VALUES (1)") + CQ.short(0))),
        Malformed(name: "batch values past the body", frame: CQ.frame(stream: 1, opcode: 0x0D,
                                                                       body: [0] + CQ.short(1) + [1] + CQ.shortBytes([1]) + CQ.short(3) + CQ.int(1))),
        Malformed(name: "compressed without compression negotiated", frame: CQ.frame(flags: 0x01, stream: 1, opcode: 0x07, body: [0, 0, 0, 0])),
        Malformed(name: "custom payload past the body", frame: CQ.frame(flags: 0x04, stream: 1, opcode: 0x07, body: CQ.short(2))),
        Malformed(name: "startup options truncated", frame: CQ.frame(stream: 1, opcode: 0x01, body: CQ.short(1) + CQ.string("A"))),
        Malformed(name: "a version 6 QUERY", frame: CQ.frame(version: 6, stream: 1, opcode: 0x07, body: CQ.longString("SELECT * FROM a.b"))),
        Malformed(name: "a version 2 QUERY", frame: [0x02, 0, 1, 0x07, 0, 0, 0, 0]),
    ]

    @Test(arguments: malformed)
    func malformedRequests(_ malformed: Malformed) throws {
        let (_, connection) = try CQ.connect([[:]])
        let outcome = connection.onData(segments: [malformed.frame])
        #expect(outcome.result == FILTER_OK)
        #expect(outcome.ops.last.map { if case .error = $0 { return true } else { return false } } == true)
        #expect(outcome.ops.count == 1)
    }

    /// Versions this parser does not read: the client's OPTIONS and STARTUP reach the server, which answers
    /// with the versions it speaks; the answer passes back.
    @Test(arguments: [UInt8(6), 0x41, 0x42])
    func versionNegotiationPasses(_ version: UInt8) throws {
        let (_, connection) = try CQ.connect(CQ.table("^ks\\."))
        let options = CQ.options(stream: 0, version: version)
        #expect(Self.send(connection, options).ops == Self.passes(options))
        let refusal = CQ.frame(response: true, version: 4, stream: 0, opcode: 0x00,
                               body: CQ.int(0x000A) + CQ.string("Invalid or unsupported protocol version"))
        #expect(connection.onData(reply: true, segments: [refusal]).ops == [.pass(refusal.count)])
    }

    @Test func aVersion2OptionsPasses() throws {
        let (_, connection) = try CQ.connect(CQ.table("^ks\\."))
        let options: [UInt8] = [0x02, 0, 1, 0x05, 0, 0, 0, 0]
        #expect(Self.send(connection, options).ops == [.pass(8), .more(9)])
    }

    @Test func aCustomPayloadIsSkipped() throws {
        let (_, connection) = try CQ.connect(CQ.table("^ks\\.t$"))
        let payload = CQ.short(1) + CQ.string("k") + CQ.int(2) + [9, 9]
        let allowed = CQ.frame(flags: 0x04, stream: 1, opcode: 0x07, body: payload + CQ.longString("SELECT * FROM ks.t") + CQ.short(1) + [0])
        let denied = CQ.frame(flags: 0x04, stream: 2, opcode: 0x07, body: payload + CQ.longString("SELECT * FROM ks.u") + CQ.short(1) + [0])
        #expect(Self.send(connection, allowed).ops == Self.passes(allowed))
        #expect(Self.send(connection, denied).ops == Self.drops(denied))
    }

    /// A reply on a stream nothing waits for is passed on its header alone, even when it is not all there.
    @Test func largeRepliesPassWithoutBuffering() throws {
        let (_, connection) = try CQ.connect([[:]])
        let rows = CQ.frame(response: true, stream: 3, opcode: 0x08, body: CQ.int(2) + [UInt8](repeating: 7, count: 100_000))
        let outcome = connection.onData(reply: true, segments: [Array(rows.prefix(20))])
        #expect(outcome.ops == [.pass(rows.count)])
    }

    // MARK: Access log

    static func fields(_ entry: AccessLogEntry) -> [String: String] {
        guard case .generic(let proto, let fields) = entry.l7, proto == "cassandra" else { return [:] }
        return Dictionary(fields.map { ($0.0, $0.1) }, uniquingKeysWith: { a, _ in a })
    }

    @Test func theAccessLogNamesActionAndTable() throws {
        let (fixture, connection) = try CQ.connect(CQ.table("^ks\\.t$"))
        _ = Self.send(connection, CQ.query("SELECT * FROM ks.t", stream: 1))
        _ = Self.send(connection, CQ.query("INSERT INTO ks.u (k) VALUES (1)", stream: 2))
        _ = Self.send(connection, CQ.query("CREATE ROLE bob", stream: 3))
        _ = Self.send(connection, CQ.query("describe tables", stream: 4))
        _ = Self.send(connection, CQ.options(stream: 5))
        #expect(fixture.log.all.map(Self.fields) == [
            ["query_action": "select", "query_table": "ks.t"],
            ["query_action": "insert", "query_table": "ks.u"],
            ["query_action": "create-role", "query_table": ""],
            ["query_action": "describe", "query_table": ""],
        ])
        #expect(fixture.log.all.map(\.entryType) == [.request, .denied, .denied, .denied])
    }

    // MARK: Rules

    struct RuleCase: Sendable, CustomTestStringConvertible {
        let rule: L7KeyValueRule
        let accepted: Bool
        var testDescription: String { rule.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",") }
    }

    static let ruleCases: [RuleCase] = [
        RuleCase(rule: ["query_action": "select", "query_table": "^ks\\."], accepted: true),
        RuleCase(rule: ["query_action": "truncate-table"], accepted: true),
        RuleCase(rule: ["query_action": "use", "query_table": "ks"], accepted: true),
        RuleCase(rule: ["query_action": "create-index"], accepted: true),
        RuleCase(rule: ["query_action": "create-index", "query_table": "x"], accepted: false),
        RuleCase(rule: ["query_action": "grant-role", "query_table": "x"], accepted: false),
        RuleCase(rule: ["query_action": "Select"], accepted: false),
        RuleCase(rule: ["query_action": "truncate"], accepted: false),
        RuleCase(rule: ["query_action": "describe"], accepted: false),
        RuleCase(rule: ["query_table": "("], accepted: false),
        RuleCase(rule: ["query_table": "(a)\\1"], accepted: false),
        RuleCase(rule: ["table": "x"], accepted: false),
        RuleCase(rule: ["query_action": "", "query_table": ""], accepted: true),
    ]

    @Test(arguments: ruleCases)
    func ruleValidation(_ ruleCase: RuleCase) {
        let fixture = ParserFixture()
        let accepted = (try? fixture.install([CQ.policy([ruleCase.rule])])) != nil
        #expect(accepted == ruleCase.accepted)
    }
}
