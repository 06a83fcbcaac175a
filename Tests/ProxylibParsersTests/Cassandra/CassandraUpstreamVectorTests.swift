import CProxylib
import Testing
@testable import ProxylibCore
import ProxylibParsers
import ProxylibTestSupport

/// Every test of upstream's cassandra/cassandraparser_test.go, one OnData call per step, with the exact ops,
/// the bytes injected towards the client and the access-log counts. Upstream sets parser state directly
/// (prepared ids in its maps); here the same state is reached through the protocol: a PREPARE and the
/// server's RESULT/Prepared answer. `TestCassandraBatchRequestPolicyDenied`, a suite method that never ran
/// upstream, is ported with real assertions.
@Suite struct CassandraUpstreamVectorTests {
    enum Step: Sendable {
        case data(reply: Bool, segments: [[UInt8]], ops: [ParserOp], inject: [UInt8])
        case policy([L7KeyValueRule])
        case clearLog
    }

    struct Vector: Sendable, CustomTestStringConvertible {
        let name: String
        var rules: [L7KeyValueRule]?
        var policyName = "1.1.1.1"
        let steps: [Step]
        /// Request and Denied entries at the end.
        var logged: (requests: Int, denied: Int)
        var testDescription: String { name }
    }

    static func request(_ segments: [UInt8]..., ops: [ParserOp], inject: [UInt8] = []) -> Step {
        .data(reply: false, segments: segments, ops: ops, inject: inject)
    }
    static func reply(_ segments: [UInt8]..., ops: [ParserOp]) -> Step {
        .data(reply: true, segments: segments, ops: ops, inject: [])
    }

    /// Upstream's 0x76-byte QUERY of system.local, stream 4.
    static let systemLocalQuery = CQ.hex("0400000407000000760000006f53454c45435420636c75737465725f6e616d652c20646174615f63656e7465722c207261636b2c20746f6b656e732c20706172746974696f6e65722c20736368656d615f76657273696f6e2046524f4d2073797374656d2e6c6f63616c205748455245206b65793d276c6f63616c27000100")
    static let optionsRequest = CQ.hex("040000000500000000")
    static let aaaa = Array("aaaa".utf8)
    static let bbbb = Array("bbbb".utf8)

    /// Upstream's batch of two non-prepared SELECTs (stream 4).
    static func twoSelects(_ second: String) -> [UInt8] {
        CQ.batch([.query("SELECT * FROM db1.t1"), .query("SELECT * FROM \(second)")])
    }

    static let vectors: [Vector] = {
        let q = systemLocalQuery
        return [
            Vector(name: "OnDataNoHeader", rules: nil, policyName: "no-policy",
                   steps: [request([0x04, 0x00], ops: [.more(7)])], logged: (0, 0)),
            Vector(name: "OnDataOptionsReq", rules: [["query_action": "select"]],
                   steps: [request(optionsRequest, ops: [.pass(9), .more(9)])], logged: (0, 0)),
            Vector(name: "OnDataPartialReq", rules: CQ.table(".*"),
                   steps: [request(Array(q.dropLast()), ops: [.more(1)])], logged: (0, 0)),
            Vector(name: "OnDataQueryReq", rules: CQ.table(".*"),
                   steps: [request(q, ops: [.pass(q.count), .more(9)])], logged: (1, 0)),
            Vector(name: "OnDataSplitQueryReq", rules: CQ.table(".*"),
                   steps: [request(Array(q[..<10]), Array(q[10...]), ops: [.pass(q.count), .more(9)])], logged: (1, 0)),
            Vector(name: "OnDataMultiReq", rules: CQ.table(".*"),
                   steps: [request(optionsRequest, q, ops: [.pass(9), .pass(q.count), .more(9)])], logged: (1, 0)),
            Vector(name: "SimpleCassandraPolicy", rules: CQ.table("no-match"),
                   steps: [request(optionsRequest, q, ops: [.pass(9), .drop(q.count), .more(9)],
                                   inject: CQ.unauthorized(stream: 4))], logged: (0, 1)),
            Vector(name: "BatchRequestPolicy", rules: CQ.table("db1.*"),
                   steps: [request(twoSelects("db1.t2"), ops: [.pass(twoSelects("db1.t2").count), .more(9)])],
                   logged: (2, 0)),
            Vector(name: "BatchRequestPolicyDenied", rules: CQ.table("db1.*"),
                   steps: [request(twoSelects("db2.t2"), ops: [.drop(twoSelects("db2.t2").count), .more(9)],
                                   inject: CQ.unauthorized(stream: 4))], logged: (0, 2)),
            Vector(name: "BatchRequestPreparedStatement", rules: CQ.table("db3.*"),
                   steps: prepareBoth("db3.t2") + [
                       request(CQ.batch([.prepared(aaaa), .prepared(bbbb)]),
                               ops: [.pass(CQ.batch([.prepared(aaaa), .prepared(bbbb)]).count), .more(9)])],
                   logged: (2, 0)),
            Vector(name: "BatchRequestPreparedStatementDenied", rules: CQ.table(".*"),
                   steps: prepareBoth("db4.t2") + [
                       .policy(CQ.table("db3.*")),
                       request(CQ.batch([.prepared(aaaa), .prepared(bbbb)]),
                               ops: [.drop(CQ.batch([.prepared(aaaa), .prepared(bbbb)]).count), .more(9)],
                               inject: CQ.unauthorized(stream: 4))],
                   logged: (0, 2)),
            Vector(name: "ExecutePreparedStatement", rules: CQ.table("db3.*"),
                   steps: prepare(aaaa, "SELECT * FROM db3.t1", stream: 1) + [.clearLog,
                       request(CQ.execute(aaaa, stream: 4, trailing: Array("xyz".utf8)),
                               ops: [.pass(CQ.execute(aaaa, stream: 4, trailing: Array("xyz".utf8)).count), .more(9)])],
                   logged: (1, 0)),
            // Upstream's Unprepared body has no message string, which drivers cannot decode; ours follows the
            // specification (code, message, id).
            Vector(name: "ExecutePreparedStatementUnknownID", rules: nil, policyName: "cp1",
                   steps: [request(CQ.execute(aaaa, stream: 4, trailing: []),
                                   ops: [.drop(CQ.execute(aaaa, stream: 4, trailing: []).count), .more(9)],
                                   inject: CQ.unprepared(aaaa, stream: 4))],
                   logged: (0, 1)),
            // Upstream answers MORE 9 after the reply; ours answers nothing at the end of replies (see the parser:
            // the datapath must call the reply side again to flush denials that did not fit).
            Vector(name: "PreparedResultReply", rules: nil, policyName: "cp1",
                   steps: [reply(CQ.preparedResult(aaaa, stream: 4), ops: [.pass(CQ.preparedResult(aaaa, stream: 4).count)])],
                   logged: (0, 0)),
            Vector(name: "AdditionalQueries", rules: CQ.table("db4.t1"),
                   steps: [additionalQueries], logged: (6, 0)),
            Vector(name: "UseQuery", rules: CQ.table("db5.t1"),
                   steps: [request(CQ.bareQuery("USE db5"), CQ.bareQuery("INSERT INTO t1 (f1, f2, f3) values ('dan', now(), 'Cilium!')"),
                                   ops: [.pass(CQ.bareQuery("USE db5").count),
                                         .pass(CQ.bareQuery("INSERT INTO t1 (f1, f2, f3) values ('dan', now(), 'Cilium!')").count),
                                         .more(9)])],
                   logged: (1, 0)),
        ]
    }()

    static let additionalQueryTexts = [
        "CREATE TABLE db4.t1 (f1 varchar, f2 timeuuid, PRIMARY KEY ((f1), f2))",
        "INSERT INTO db4.t1 (f1, f2, f3) values ('dan', now(), 'Cilium!')",
        "UPDATE db4.t1 SET f1 = 'donald' where f2 in (1,2,3)",
        "DROP TABLE db4.t1",
        "TRUNCATE db4.t1",
        "CREATE TABLE IF NOT EXISTS db4.t1 (f1 varchar, PRIMARY KEY(f1))",
    ]

    static var additionalQueries: Step {
        let frames = additionalQueryTexts.map { CQ.bareQuery($0) }
        return .data(reply: false, segments: frames, ops: frames.map { .pass($0.count) } + [.more(9)], inject: [])
    }

    /// A PREPARE of `text` on `stream` and the server's answer with `id`.
    static func prepare(_ id: [UInt8], _ text: String, stream: Int16) -> [Step] {
        [request(CQ.prepare(text, stream: stream), ops: [.pass(CQ.prepare(text, stream: stream).count), .more(9)]),
         reply(CQ.preparedResult(id, stream: stream), ops: [.pass(CQ.preparedResult(id, stream: stream).count)])]
    }

    static func prepareBoth(_ second: String) -> [Step] {
        prepare(aaaa, "SELECT * FROM db3.t1", stream: 1) + prepare(bbbb, "SELECT * FROM \(second)", stream: 2) + [.clearLog]
    }

    @Test(arguments: vectors)
    func upstreamVector(_ vector: Vector) throws {
        let fixture = ParserFixture()
        if let rules = vector.rules { try fixture.install([CQ.policy(rules)]) }
        let connection = fixture.connect("cassandra", policyName: vector.policyName)
        for (index, step) in vector.steps.enumerated() {
            switch step {
            case .policy(let rules):
                try fixture.instance.updatePolicy([CQ.policy(rules)], version: "2")
            case .clearLog:
                fixture.log.clear()
            case .data(let reply, let segments, let ops, let inject):
                let outcome = connection.onData(reply: reply, segments: segments)
                #expect(outcome.result == FILTER_OK, "step \(index)")
                #expect(outcome.ops == ops, "step \(index)")
                #expect(outcome.replyInjected == inject, "step \(index)")
            }
        }
        #expect(fixture.log.count(.request) == vector.logged.requests)
        #expect(fixture.log.count(.denied) == vector.logged.denied)
    }

    /// The request streams of the vectors, replayed whole, byte by byte and randomly split: the same verdicts.
    @Test(arguments: vectors)
    func replays(_ vector: Vector) throws {
        let requests = vector.steps.compactMap { step -> [UInt8]? in
            if case .data(false, let segments, _, _) = step { return segments.flatMap { $0 } }
            return nil
        }
        guard vector.steps.count == 1, let stream = requests.first else { return }
        var expected: ReplayVerifier.Transcript?
        for delivery in ReplayVerifier.Delivery.all {
            let fixture = ParserFixture()
            if let rules = vector.rules { try fixture.install([CQ.policy(rules)]) }
            let connection = fixture.connect("cassandra", policyName: vector.policyName)
            let transcript = ReplayVerifier.replay(stream, into: connection, delivery: delivery)
            if let expected { #expect(transcript == expected, "delivery: \(delivery)") } else { expected = transcript }
        }
    }
}
