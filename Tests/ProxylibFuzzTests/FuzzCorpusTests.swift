#if canImport(Glibc)
import Glibc
#endif
import CProxylib
import Testing
@testable import ProxylibFuzzTargets

/// Every committed fuzz input — the seed corpora and the regression inputs of crashes and broken invariants
/// the fuzzers found (Tests/Fuzz/corpus/TARGET, Tests/Fuzz/regressions/TARGET) — replayed through its target
/// in the ordinary test build, so a regression shows in `make test` without a fuzzing build.
@Suite(.serialized) struct FuzzCorpusTests {
    static let fuzzRoot: String = {
        var path = #filePath
        for _ in 0..<3 { path = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)]) }
        return path + "/Tests/Fuzz"
    }()

    @Test(arguments: FuzzTargets.all.map(\.name))
    func corpusAndRegressionsReplayClean(_ name: String) throws {
        let target = try #require(FuzzTargets.named(name))
        target.prepare()
        var replayed = 0
        for folder in ["corpus", "regressions"] {
            for file in FuzzSeeds.fixtureNames(in: "\(Self.fuzzRoot)/\(folder)/\(name)", suffix: "") {
                let bytes = try #require(FuzzSeeds.read("\(Self.fuzzRoot)/\(folder)/\(name)/\(file)"))
                #expect(throws: Never.self, "\(folder)/\(name)/\(file)") {
                    try bytes.withUnsafeBytes { try target.run($0) }
                }
                replayed += 1
            }
        }
        #expect(replayed > 0, "no committed inputs for \(name)")
    }

    @Test func everyTargetHasADictionaryOrSaysWhyNot() {
        for target in FuzzTargets.all {
            let dictionary = "\(Self.fuzzRoot)/dict/\(target.name).dict"
            #expect(access(dictionary, R_OK) == 0, "missing \(dictionary)")
        }
    }
}

/// The checks themselves must be able to fail: forged answers and streams they must reject.
@Suite struct FuzzInvariantTests {
    @Test func r2d2OracleRejectsDeniedAndPartialRequests() {
        let oracle = R2D2Oracle()
        #expect(throws: FuzzViolation.self) { try oracle.checkForwarded(Array("READ /private/x\r\n".utf8), written: [], remote: 1) }
        #expect(throws: FuzzViolation.self) { try oracle.checkForwarded(Array("HALT\r\n".utf8), written: [], remote: 9) }
        #expect(throws: FuzzViolation.self) { try oracle.checkForwarded(Array("READ /public/secret\r\n".utf8), written: [], remote: 1) }
        #expect(throws: FuzzViolation.self) { try oracle.checkForwarded(Array("WRITE /tmp/x\r\n".utf8), written: [], remote: 1) }
        #expect(throws: FuzzViolation.self) { try oracle.checkForwarded(Array("HALT\r\nREAD /pub".utf8), written: [], remote: 1) }
        #expect(throws: Never.self) {
            try oracle.checkForwarded(Array("READ /public/a\r\nHALT x\r\n".utf8), written: [], remote: 1)
            try oracle.checkForwarded(Array("WRITE /tmp/x\r\n".utf8), written: [], remote: 7)
        }
    }

    @Test func headerOracleRejectsDeniedLines() {
        let oracle = HeaderLineOracle()
        #expect(throws: FuzzViolation.self) { try oracle.checkForwarded(Array("deny me\n".utf8), written: [], remote: 1) }
        #expect(throws: FuzzViolation.self) { try oracle.checkForwarded(Array("allow poison\n".utf8), written: [], remote: 1) }
        #expect(throws: FuzzViolation.self) { try oracle.checkForwarded(Array("x seven\n".utf8), written: [], remote: 2) }
        #expect(throws: Never.self) {
            try oracle.checkForwarded(Array(" \tallow x\r\nbeer at the end \n".utf8), written: [], remote: 1)
            try oracle.checkForwarded(Array("x seven\n".utf8), written: [], remote: 7)
        }
    }

    /// A cassandra connection of forged writes: client (bytes, what reached the server, what was injected
    /// towards the client), server (bytes, what reached the client).
    enum CassandraWrite {
        case client([UInt8], forwarded: [UInt8], injected: [UInt8] = [], failed: Bool = false)
        case server([UInt8], toClient: [UInt8])
    }

    func cassandra(_ writes: [CassandraWrite], remote: UInt32 = 1) throws {
        var oracle = CassandraOracle()
        oracle.tolerances = CassandraOracle.Tolerances(ruleFreeRequestsFromDeniedRemote: false, concurrentKeyspaceChanges: false)
        var toClient: [UInt8] = []
        let events = writes.map { write -> DatapathEvent in
            switch write {
            case let .client(bytes, forwarded, injected, failed):
                toClient += injected
                return DatapathEvent(source: .client, input: bytes, endStream: false, toServer: forwarded, toClient: injected,
                                     injectedToClient: injected, injectedToServer: [], failed: failed)
            case let .server(bytes, delivered):
                return DatapathEvent(source: .server, input: bytes, endStream: false, toServer: [], toClient: delivered,
                                     injectedToClient: [], injectedToServer: [], failed: false)
            }
        }
        try oracle.checkConnection(ConnectionRecord(events: events, forwarded: [], written: []), remote: remote)
    }

    typealias CS = CassandraSeeds

    static func unauthorized(stream: Int, version: UInt8 = 4) -> [UInt8] {
        CS.frame(response: true, version: version, stream: stream, opcode: 0, body: CS.int(0x2100) + CS.string("Request Unauthorized"))
    }

    @Test func cassandraOracleAcceptsAPolicyAbidingConversation() {
        let allowed = CS.query("SELECT * FROM ks.pub", stream: 1), denied = CS.query("SELECT * FROM ks.secret", stream: 2)
        let prepare = CS.prepare("INSERT INTO ks.orders (a) VALUES (?)", stream: 3), id = Array("id".utf8)
        let unknown = CS.execute(Array("zz".utf8), stream: 5)
        let unprepared = CS.frame(response: true, stream: 5, opcode: 0,
                                  body: CS.int(0x2500) + CS.string("unknown") + CS.shortBytes(Array("zz".utf8)))
        #expect(throws: Never.self) {
            try cassandra([.client(allowed + denied + prepare, forwarded: allowed + prepare, injected: Self.unauthorized(stream: 2)),
                           .server(CS.preparedResult(id, stream: 3), toClient: CS.preparedResult(id, stream: 3)),
                           .client(CS.execute(id) + unknown, forwarded: CS.execute(id), injected: unprepared)])
            // USE: an unqualified name in the keyspace the server confirmed.
            try cassandra([.client(CS.query("USE ks", stream: 1), forwarded: CS.query("USE ks", stream: 1)),
                           .server(CS.setKeyspace("ks", stream: 1), toClient: CS.setKeyspace("ks", stream: 1)),
                           .client(CS.query("SELECT * FROM pub", stream: 2), forwarded: CS.query("SELECT * FROM pub", stream: 2))])
            // Remote 7 may do anything but touch `secret`; a failure on a malformed frame.
            try cassandra([.client(CS.query("DROP TABLE ks.x"), forwarded: CS.query("DROP TABLE ks.x"))], remote: 7)
            try cassandra([.client(CS.frame(stream: 1, opcode: 0x08, body: []), forwarded: [], failed: true)])
        }
    }

    @Test func cassandraOracleRejectsForbiddenPassesAndWrongAnswers() {
        let denied = CS.query("SELECT * FROM ks.secret", stream: 2)
        // A denied statement reached the server; from remote 9 even an allowed one.
        #expect(throws: FuzzViolation.self) { try cassandra([.client(denied, forwarded: denied)]) }
        #expect(throws: FuzzViolation.self) {
            try cassandra([.client(CS.query("SELECT * FROM ks.pub"), forwarded: CS.query("SELECT * FROM ks.pub"))], remote: 9)
        }
        // A string literal does not name the table; two statements are not one.
        let literal = CS.query("SELECT * FROM ks.secret WHERE a = 'from ks.pub'")
        #expect(throws: FuzzViolation.self) { try cassandra([.client(literal, forwarded: literal)]) }
        let two = CS.query("SELECT * FROM ks.pub; DROP TABLE ks.pub")
        #expect(throws: FuzzViolation.self) { try cassandra([.client(two, forwarded: two)]) }
        // Remote 7, a USE of `secret` in flight: an unqualified name may be `secret.t`.
        let use = CS.query("USE secret", stream: 1), update = CS.query("UPDATE t SET a = 1", stream: 2)
        #expect(throws: FuzzViolation.self) { try cassandra([.client(use + update, forwarded: use + update)], remote: 7) }
        // An EXECUTE of an id the server never gave out.
        let execute = CS.execute(Array("zz".utf8))
        #expect(throws: FuzzViolation.self) { try cassandra([.client(execute, forwarded: execute)]) }
        // Half a frame reached the server.
        let allowed = CS.query("SELECT * FROM ks.pub")
        #expect(throws: FuzzViolation.self) { try cassandra([.client(allowed, forwarded: Array(allowed.prefix(12)))]) }
        // The answer to a dropped request: wrong stream, wrong code, an Unprepared without its message, none at
        // all before the next one.
        #expect(throws: FuzzViolation.self) { try cassandra([.client(denied, forwarded: [], injected: Self.unauthorized(stream: 3))]) }
        let wrongCode = CS.frame(response: true, stream: 2, opcode: 0, body: CS.int(0x2200) + CS.string("no"))
        #expect(throws: FuzzViolation.self) { try cassandra([.client(denied, forwarded: [], injected: wrongCode)]) }
        let bare = CS.frame(response: true, stream: 5, opcode: 0, body: CS.int(0x2500) + CS.shortBytes(Array("zz".utf8)))
        #expect(throws: FuzzViolation.self) { try cassandra([.client(CS.execute(Array("zz".utf8), stream: 5), forwarded: [], injected: bare)]) }
        let other = CS.query("SELECT * FROM ks.other", stream: 4)
        #expect(throws: FuzzViolation.self) {
            try cassandra([.client(denied + other, forwarded: [], injected: Self.unauthorized(stream: 4))])
        }
        // A failure on well-formed requests; a 300 MB frame waited for instead of refused.
        #expect(throws: FuzzViolation.self) { try cassandra([.client(allowed, forwarded: [], failed: true)]) }
        #expect(throws: FuzzViolation.self) { try cassandra([.client([4, 0, 0, 1, 7] + CS.int(300 << 20), forwarded: [])]) }
        // Two USEs on one stream: after both answers the server may be in either keyspace.
        let uses = CS.query("USE ks", stream: 1) + CS.query("USE secret", stream: 1), pub = CS.query("SELECT * FROM pub", stream: 2)
        let answers = CS.setKeyspace("ks", stream: 1) + CS.setKeyspace("secret", stream: 1)
        #expect(throws: FuzzViolation.self) {
            try cassandra([.client(uses, forwarded: uses), .server(answers, toClient: answers), .client(pub, forwarded: pub)])
        }
        // A reply reaching the client altered.
        let rows = CS.rows(stream: 1)
        #expect(throws: FuzzViolation.self) { try cassandra([.server(rows, toClient: Array(rows.dropLast()) + [0xFF])]) }
    }

    /// A kafka connection of forged writes: as for cassandra, and a server write whose OnData calls also wrote
    /// a denial that waited for the response before it.
    enum KafkaWrite {
        case client([UInt8], forwarded: [UInt8], injected: [UInt8] = [], failed: Bool = false)
        case server([UInt8], toClient: [UInt8], injected: [UInt8] = [])
    }

    func kafka(_ writes: [KafkaWrite], remote: UInt32 = 1) throws {
        var oracle = KafkaOracle()
        oracle.tolerances.metadataUnread = false
        let events = writes.map { write -> DatapathEvent in
            switch write {
            case let .client(bytes, forwarded, injected, failed):
                return DatapathEvent(source: .client, input: bytes, endStream: false, toServer: forwarded, toClient: injected,
                                     injectedToClient: injected, injectedToServer: [], failed: failed)
            case let .server(bytes, delivered, injected):
                return DatapathEvent(source: .server, input: bytes, endStream: false, toServer: [], toClient: delivered,
                                     injectedToClient: injected, injectedToServer: [], failed: false)
            }
        }
        try oracle.checkConnection(ConnectionRecord(events: events, forwarded: [], written: []), remote: remote)
    }

    typealias KS = KafkaSeeds

    /// The denial of a Produce v3 for (topic, partitions): error 29, offsets -1, throttle 0.
    static func produceDenial(_ correlation: Int, _ topic: String, _ partitions: [Int]) -> [UInt8] {
        var body = KS.i32(1) + KS.string(topic, false) + KS.i32(partitions.count)
        for partition in partitions { body += KS.i32(partition) + KS.i16(29) + KS.i64(-1) + KS.i64(-1) }
        return KS.response(correlation: correlation, flexible: false, body: body + KS.i32(0))
    }

    @Test func kafkaOracleAcceptsAPolicyAbidingConversation() {
        let allowed = KS.produce(3, 1, topics: [("allowed", [0])]), denied = KS.produce(3, 2, topics: [("secret", [1])])
        let silent = KS.produce(3, 3, acks: 0, topics: [("secret", [0])])
        let answer = KS.produceResponse(3, 1, topics: [("allowed", [0])])
        #expect(throws: Never.self) {
            // The denial waits for the answer owed before it.
            try kafka([.client(allowed + denied + silent, forwarded: allowed),
                       .server(answer, toClient: answer + Self.produceDenial(2, "secret", [1]),
                               injected: Self.produceDenial(2, "secret", [1]))])
            try kafka([.client(denied, forwarded: [], injected: Self.produceDenial(2, "secret", [1]))])
            // The rules: the client-id rule, the version rule, the api-key rule, remote 7's topic.
            let billing = KS.produce(9, 4, client: "billing", topics: [("billing", [0])])
            let legacy = KS.produce(3, 5, topics: [("legacy", [0])]), catalog = KS.metadata(4, 6, topics: [("catalog", [])])
            try kafka([.client(billing + legacy + catalog, forwarded: billing + legacy + catalog)])
            try kafka([.client(KS.produce(9, 7, topics: [("seven", [0]), ("allowed", [1])]),
                               forwarded: KS.produce(9, 7, topics: [("seven", [0]), ("allowed", [1])]))], remote: 7)
            // Metadata naming an allowed and a denied topic passes; its answer reaches the client masked.
            let both = KS.metadata(1, 9, topics: [("allowed", []), ("secret", [])])
            let answer = KS.metadataResponse(1, 9, topics: [("allowed", []), ("secret", [])])
            var masked = KS.i32(1) + KS.i32(1) + KS.string("broker-1", false) + KS.i32(9092) + KS.string(nil, false) + KS.i32(1)
            masked += KS.i32(2) + KS.i16(0) + KS.string("allowed", false) + [0] + KS.i32(1) + KS.i16(0) + KS.i32(0) + KS.i32(1)
            masked += KS.i32(1) + KS.i32(1) + KS.i32(1) + KS.i32(1)
            masked += KS.i16(29) + KS.string("secret", false) + [0] + KS.i32(0)
            let maskedFrame = KS.response(correlation: 9, flexible: false, body: masked)
            try kafka([.client(both, forwarded: both), .server(answer, toClient: maskedFrame, injected: maskedFrame)])
            // A Metadata request for the brokers only (an empty list, v1+).
            try kafka([.client(KS.metadata(4, 10, topics: []), forwarded: KS.metadata(4, 10, topics: []))])
            // A failure on a malformed frame, on a bad size.
            let negative = KS.request(key: 0, version: 3, correlation: 8, flexible: false, body: KS.string(nil, false) + KS.i16(1) + KS.i32(0) + KS.i32(-5))
            try kafka([.client(negative, forwarded: [], failed: true)])
            try kafka([.client(KS.i32(-1) + KS.i32(0), forwarded: [], failed: true)])
        }
    }

    @Test func kafkaOracleRejectsForbiddenPassesAndWrongAnswers() {
        let denied = KS.produce(3, 2, topics: [("secret", [1])])
        // Denied topics, a topic outside its rule's client, version or api key, every topic, remote 9.
        for request in [denied, KS.produce(3, 3, topics: [("allowed", [0]), ("secret", [1])]),
                        KS.produce(9, 4, client: "other", topics: [("billing", [0])]),
                        KS.produce(9, 5, topics: [("legacy", [0])]), KS.produce(3, 6, topics: [("catalog", [0])]),
                        KS.metadata(1, 7, topics: nil), KS.metadata(0, 8, topics: []),
                        KS.produce13(9, topics: [([UInt8](repeating: 0xAB, count: 16), [0])])] {
            #expect(throws: FuzzViolation.self) { try kafka([.client(request, forwarded: request)]) }
        }
        #expect(throws: FuzzViolation.self) { try kafka([.client(KS.produce(9, 7, topics: [("seven", [0])]), forwarded: KS.produce(9, 7, topics: [("seven", [0])]))]) }
        let allowed = KS.produce(3, 1, topics: [("allowed", [0])])
        #expect(throws: FuzzViolation.self) { try kafka([.client(allowed, forwarded: allowed)], remote: 9) }
        // Half a frame reached the server; a failure on a well-formed request; a bad size waited for.
        #expect(throws: FuzzViolation.self) { try kafka([.client(allowed, forwarded: Array(allowed.prefix(10)))]) }
        #expect(throws: FuzzViolation.self) { try kafka([.client(allowed, forwarded: [], failed: true)]) }
        #expect(throws: FuzzViolation.self) { try kafka([.client(KS.i32(200 << 20) + KS.i32(0), forwarded: [])]) }
        // Denials: the wrong correlation id, the wrong error code, a topic not echoed, one for an acks=0
        // request, one for a request that passed, one ahead of the answer owed before it.
        #expect(throws: FuzzViolation.self) { try kafka([.client(denied, forwarded: [], injected: Self.produceDenial(3, "secret", [1]))]) }
        var wrongCode = Self.produceDenial(2, "secret", [1])
        wrongCode[wrongCode.count - 21] = 0x1E
        #expect(throws: FuzzViolation.self) { try kafka([.client(denied, forwarded: [], injected: wrongCode)]) }
        #expect(throws: FuzzViolation.self) { try kafka([.client(denied, forwarded: [], injected: Self.produceDenial(2, "secret", [2]))]) }
        let silent = KS.produce(3, 2, acks: 0, topics: [("secret", [1])])
        #expect(throws: FuzzViolation.self) { try kafka([.client(silent, forwarded: [], injected: Self.produceDenial(2, "secret", [1]))]) }
        #expect(throws: FuzzViolation.self) { try kafka([.client(allowed, forwarded: allowed, injected: Self.produceDenial(1, "allowed", [0]))]) }
        let answer = KS.produceResponse(3, 1, topics: [("allowed", [0])])
        #expect(throws: FuzzViolation.self) {
            try kafka([.client(allowed + denied, forwarded: allowed, injected: Self.produceDenial(2, "secret", [1])),
                       .server(answer, toClient: answer)])
        }
        // A Metadata request naming allowed and denied topics answered unmasked, or masked wrongly; one naming
        // only denied topics passed.
        let both = KS.metadata(1, 9, topics: [("allowed", []), ("secret", [])])
        let unmasked = KS.metadataResponse(1, 9, topics: [("allowed", []), ("secret", [])])
        #expect(throws: FuzzViolation.self) { try kafka([.client(both, forwarded: both), .server(unmasked, toClient: unmasked)]) }
        #expect(throws: FuzzViolation.self) {
            try kafka([.client(both, forwarded: both), .server(unmasked, toClient: unmasked, injected: unmasked)])
        }
        let onlyDenied = KS.metadata(1, 11, topics: [("secret", [])])
        #expect(throws: FuzzViolation.self) { try kafka([.client(onlyDenied, forwarded: onlyDenied)]) }
        // Responses out of request order; a response altered on its way.
        let second = KS.produce(3, 5, topics: [("allowed", [0])])
        let answer5 = KS.produceResponse(3, 5, topics: [("allowed", [0])])
        #expect(throws: FuzzViolation.self) {
            try kafka([.client(allowed + second, forwarded: allowed + second), .server(answer5, toClient: answer5)])
        }
        #expect(throws: FuzzViolation.self) {
            try kafka([.client(allowed, forwarded: allowed), .server(answer, toClient: Array(answer.dropLast()) + [0xFF])])
        }
    }

    /// A redis connection of forged writes: client (bytes, what reached the server, what the client got, which
    /// the library wrote), server (bytes, what reached the client, what the library wrote besides).
    enum RedisWrite {
        case client([UInt8], forwarded: [UInt8], toClient: [UInt8] = [], failed: Bool = false)
        case server([UInt8], toClient: [UInt8], injected: [UInt8] = [], failed: Bool = false)
    }

    func redis(_ writes: [RedisWrite], remote: UInt32 = 1, tolerances: RedisOracle.Tolerances = .init()) throws {
        var oracle = RedisOracle()
        oracle.tolerances = tolerances
        let events = writes.map { write -> DatapathEvent in
            switch write {
            case let .client(bytes, forwarded, delivered, failed):
                return DatapathEvent(source: .client, input: bytes, endStream: false, toServer: forwarded, toClient: delivered,
                                     injectedToClient: delivered, injectedToServer: [], failed: failed)
            case let .server(bytes, delivered, injected, failed):
                return DatapathEvent(source: .server, input: bytes, endStream: false, toServer: [], toClient: delivered,
                                     injectedToClient: injected, injectedToServer: [], failed: failed)
            }
        }
        try oracle.checkConnection(ConnectionRecord(events: events, forwarded: [], written: []), remote: remote)
    }

    typealias RS = RedisSeeds

    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test func redisOracleAcceptsAPolicyAbidingConversation() {
        let getA = RS.command("GET", "a1"), getB = RS.command("GET", "b"), setA = RS.command("SET", "a2", "v")
        let noperm = RS.denied("get"), value = Self.bytes("$1\r\nv\r\n"), ok = Self.bytes("+OK\r\n")
        #expect(throws: Never.self) {
            // The denial waits for the reply owed before it.
            try redis([.client(getA + getB + setA, forwarded: getA + setA),
                       .server(value + ok, toClient: value + noperm + ok, injected: noperm)])
            try redis([.client(getB, forwarded: [], toClient: noperm)])
            // Inline, quoted, escaped.
            let inline = Self.bytes("GET \"a\\x41\" \r\n")
            try redis([.client(inline, forwarded: inline)])
            // Remote 7: @read in db 0 (GET b; STRLEN, outside the model), DEL.
            let seven = getB + RS.command("STRLEN", "b") + RS.command("DEL", "x")
            try redis([.client(seven, forwarded: seven)], remote: 7)
            // Databases: GET b in db 1; a failed SELECT is undone.
            let select1 = RS.command("SELECT", "1"), select99 = RS.command("SELECT", "99")
            try redis([.client(select1 + getB, forwarded: select1 + getB)])
            let error = Self.bytes("-ERR DB index is out of range\r\n")
            try redis([.client(select1, forwarded: select1), .server(ok, toClient: ok),
                       .client(select99, forwarded: select99), .server(error, toClient: error),
                       .client(getB, forwarded: getB)])
            // A transaction that lost a command: DISCARD in place of EXEC, EXECABORT in place of its reply.
            let multi = RS.command("MULTI"), exec = RS.command("EXEC"), queued = Self.bytes("+QUEUED\r\n")
            try redis([.client(multi + getA + getB + exec, forwarded: multi + getA + RedisOracle.discardProbe),
                       .server(ok + queued + ok, toClient: ok + queued + noperm + RedisOracle.execAbort,
                               injected: noperm + RedisOracle.execAbort)])
            // CLIENT REPLY OFF: a silent denial.
            let off = RS.command("CLIENT", "REPLY", "OFF")
            try redis([.client(off + getB + getA, forwarded: off + getA)])
            // A malformed request fails the connection.
            try redis([.client(Self.bytes("*1\r\n$3\r\nGETxx"), forwarded: [], failed: true)])
            // AUTH from remote 9.
            let auth = RS.command("AUTH", "pw")
            try redis([.client(auth + getA, forwarded: auth), .server(ok, toClient: ok + noperm, injected: noperm)], remote: 9)
        }
    }

    @Test func redisOracleRejectsForbiddenPassesAndWrongAnswers() {
        let getA = RS.command("GET", "a1"), getB = RS.command("GET", "b"), noperm = RS.denied("get")
        let ok = Self.bytes("+OK\r\n"), value = Self.bytes("$1\r\nv\r\n")
        // Denied requests that reached the server: a key outside the prefix, a secret key, remote 9, DEL from
        // remote 1, a subscription to another channel, MONITOR in db 3, a command outside the model.
        for request in [getB, RS.command("GET", "asecret"), RS.command("MGET", "a1", "b"), RS.command("DEL", "a1"),
                        RS.command("SUBSCRIBE", "news1", "other"), RS.command("SELECT", "3") + RS.command("MONITOR"),
                        RS.command("STRLEN", "a1"), RS.command("CLIENT", "KILL", "x")] {
            #expect(throws: FuzzViolation.self) { try redis([.client(request, forwarded: request)]) }
        }
        #expect(throws: FuzzViolation.self) { try redis([.client(getA, forwarded: getA)], remote: 9) }
        #expect(throws: FuzzViolation.self) { try redis([.client(RS.command("SET", "b", "1"), forwarded: RS.command("SET", "b", "1"))], remote: 7) }
        let select2 = RS.command("SELECT", "2")
        #expect(throws: FuzzViolation.self) { try redis([.client(select2 + getB, forwarded: select2 + getB)], remote: 7) }
        // A SELECT its error reply undid; a SELECT in a transaction EXEC answered with an error or null.
        let select1 = RS.command("SELECT", "1"), error = Self.bytes("-ERR x\r\n")
        #expect(throws: FuzzViolation.self) {
            try redis([.client(select1, forwarded: select1), .server(error, toClient: error), .client(getB, forwarded: getB)])
        }
        let multi = RS.command("MULTI"), exec = RS.command("EXEC"), queued = Self.bytes("+QUEUED\r\n")
        for answer in ["-EXECABORT x\r\n", "*-1\r\n", "_\r\n"].map(Self.bytes) {
            let replies = ok + queued + answer
            #expect(throws: FuzzViolation.self) {
                try redis([.client(multi + select1 + exec, forwarded: multi + select1 + exec),
                           .server(replies, toClient: replies), .client(getB, forwarded: getB)])
            }
        }
        // (While execNullArrayKeepsSelect is tolerated, `*-1` keeps the database.)
        #expect(throws: Never.self) {
            let replies = ok + queued + Self.bytes("*-1\r\n")
            try redis([.client(multi + select1 + exec, forwarded: multi + select1 + exec),
                       .server(replies, toClient: replies), .client(getB, forwarded: getB)],
                      tolerances: RedisOracle.Tolerances(execNullArrayKeepsSelect: true))
        }
        // An allowed request dropped; half a request passed; a failure on a well-formed request.
        #expect(throws: FuzzViolation.self) { try redis([.client(getA, forwarded: [], toClient: noperm)]) }
        #expect(throws: FuzzViolation.self) { try redis([.client(getA, forwarded: Array(getA.prefix(5)))]) }
        #expect(throws: FuzzViolation.self) { try redis([.client(getA, forwarded: [], failed: true)]) }
        // The EXEC of a spoilt transaction reached the server as EXEC.
        #expect(throws: FuzzViolation.self) {
            try redis([.client(multi + getB + exec, forwarded: multi + exec, toClient: [])])
        }
        // Denials: ahead of the reply owed before them, twice, naming another command, for a request that passed.
        #expect(throws: FuzzViolation.self) {
            try redis([.client(getA + getB, forwarded: getA, toClient: noperm), .server(value, toClient: value)])
        }
        #expect(throws: FuzzViolation.self) { try redis([.client(getB, forwarded: [], toClient: noperm + noperm)]) }
        #expect(throws: FuzzViolation.self) { try redis([.client(getB, forwarded: [], toClient: RS.denied("set"))]) }
        #expect(throws: FuzzViolation.self) { try redis([.client(getA, forwarded: getA, toClient: noperm)]) }
        // A denial written into the middle of a reply no request is owed.
        let head = Self.bytes("*2\r\n:1\r\n"), rest = Self.bytes(":2\r\n")
        let midReply: [RedisWrite] = [.server(head, toClient: head), .client(getB, forwarded: [], toClient: noperm),
                                      .server(rest, toClient: rest)]
        #expect(throws: FuzzViolation.self) { try redis(midReply) }
        #expect(throws: Never.self) { try redis(midReply, tolerances: RedisOracle.Tolerances(denialInsideUnsolicitedReply: true)) }
        // Split around a reply none of which had passed (a small inject buffer): beside such a reply the oracle
        // accepts a denial before or after it and stops judging the order, so it cannot see this split.
        let line = Self.bytes("+Oy"), lineEnd = Self.bytes("y\r\n")
        let split: [RedisWrite] = [.server(line, toClient: []), .client(getB, forwarded: [], toClient: Array(noperm.prefix(16))),
                                   .server(lineEnd, toClient: line + lineEnd + Array(noperm.dropFirst(16)),
                                           injected: Array(noperm.dropFirst(16)))]
        #expect(throws: Never.self) { try redis(split) }
        // A denial before a reply that answers no request, none of which has passed, is in a clean place.
        #expect(throws: Never.self) {
            try redis([.server(line, toClient: []), .client(getB, forwarded: [], toClient: noperm),
                       .server(lineEnd, toClient: line + lineEnd)])
        }
        // A reply altered on its way; a reply the client never got while the next one came.
        #expect(throws: FuzzViolation.self) {
            try redis([.client(getA, forwarded: getA), .server(value, toClient: Array(value.dropLast()) + [0x21])])
        }
        #expect(throws: FuzzViolation.self) {
            try redis([.client(getA + getA, forwarded: getA + getA), .server(value + ok, toClient: ok)])
        }
        // A failure on a well-formed reply; a malformed reply passed on.
        #expect(throws: FuzzViolation.self) {
            try redis([.client(getA, forwarded: getA), .server(value, toClient: [], failed: true)])
        }
        #expect(throws: FuzzViolation.self) {
            let bad = Self.bytes("$1\r\nvxy")
            try redis([.client(getA, forwarded: getA), .server(bad, toClient: bad)])
        }
        // CLIENT REPLY with a wrong word while replies are off: redis answers nothing, so the next denial is the
        // next thing the client reads.
        let off = RS.command("CLIENT", "REPLY", "OFF"), bogus = RS.command("CLIENT", "REPLY", "bogus")
        let on = RS.command("CLIENT", "REPLY", "ON")
        #expect(throws: Never.self) {
            try redis([.client(off + bogus + on + getB, forwarded: off + bogus + on),
                       .server(ok, toClient: ok + noperm, injected: noperm)])
        }
    }

    @Test func cassandraOracleReadsCQLItsOwnWay() {
        func meaning(_ text: String) -> OracleCQL.Meaning { OracleCQL.meaning(of: Array(text.utf8)) }
        let pub = OracleCQL.Statement(action: .select, keyspace: Array("ks".utf8), name: Array("pub".utf8))
        #expect(meaning("SELECT/**/*FROM\"ks\" . pub -- from x\n;;") == .statements([pub]))
        #expect(meaning("select * from KS.PUB where a = $$from x$$") == .statements([pub]))
        #expect(meaning("SELECT * FROM ks.pub WHERE a = 'it''s from y'") == .statements([pub]))
        #expect(meaning("SELECT * FROM ks.pub /* open") == .uncertain)
        #expect(meaning("SELECT a FROM ks.pub WHERE b IN (SELECT c FROM d)") == .uncertain)
        #expect(meaning("USE \"Ks\";") == .use(Array("Ks".utf8)))
        #expect(meaning("CREATE TABLE IF NOT EXISTS ks.t (a int)")
                == .statements([OracleCQL.Statement(action: .createTable, keyspace: Array("ks".utf8), name: Array("t".utf8))]))
        #expect(meaning("DROP KEYSPACE IF EXISTS secret")
                == .statements([OracleCQL.Statement(action: .dropKeyspace, keyspace: nil, name: Array("secret".utf8))]))
        #expect(meaning("BEGIN BATCH INSERT INTO a (x) VALUES (1); DELETE FROM b WHERE x = 1 APPLY BATCH") == .statements([
            OracleCQL.Statement(action: .insert, keyspace: nil, name: Array("a".utf8)),
            OracleCQL.Statement(action: .delete, keyspace: nil, name: Array("b".utf8)),
        ]))
        #expect(meaning("GRANT SELECT ON ks.secret TO r") == .uncertain)
    }

    @Test func cassandraOracleDecompressesBothFormats() {
        let text = Array("SELECT * FROM ks.pub WHERE a = 'aaaaaaaaaaaaaaaaaaaa'".utf8)
        #expect(CQLWire.decompressBody(CS.lz4(text), .lz4) == text)
        #expect(CQLWire.decompressBody(CS.snappy(text), .snappy) == text)
        // Back-references: "abcabcabca" as a literal "abc" and a 7-byte match at offset 3.
        #expect(CQLWire.lz4Block([0x33, 0x61, 0x62, 0x63, 0x03, 0x00, 0x00], length: 10) == Array("abcabcabca".utf8))
        #expect(CQLWire.snappy([10, 0x08, 0x61, 0x62, 0x63, 0x0D, 0x03]) == Array("abcabcabca".utf8))
        #expect(CQLWire.lz4Block([0x33, 0x61, 0x62, 0x63, 0x09, 0x00, 0x00], length: 10) == nil)
    }

    /// Runs the op-contract check on forged ops for an input of `offered` bytes.
    func check(_ ops: [(FilterOpType, Int64)], offered: Int = 10, injected: Int = 0, reply: Bool = false,
               result: FilterResult = FILTER_OK) throws {
        var storage = ops.map { FilterOp(op: UInt64($0.0.rawValue), n_bytes: $0.1) } + [FilterOp(op: 0, n_bytes: 0)]
        var inject = [UInt8](repeating: 0, count: 16)
        let opsBase = storage.withUnsafeMutableBytes { $0.baseAddress }
        let injectBase = inject.withUnsafeMutableBytes { $0.baseAddress }
        // Only the addresses are compared; the ops are read while `storage` is alive.
        let before = GoSlice(data: opsBase, len: 0, cap: GoInt(ops.count + 1))
        let after = GoSlice(data: opsBase, len: GoInt(ops.count), cap: GoInt(ops.count + 1))
        let slice = GoSlice(data: injectBase, len: GoInt(injected), cap: 16)
        let state = OpsContract.InjectState(data: injectBase, cap: 16)
        try withExtendedLifetime((storage, inject)) {
            try OpsContract.check(result: result, offered: offered, opsBefore: before, opsAfter: after, reply: reply,
                                  injectBefore: [state, state], injectAfter: [slice, slice])
        }
        storage.removeAll()
        inject.removeAll()
    }

    @Test func opsContractAcceptsWhatTheDatapathAllows() {
        #expect(throws: Never.self) {
            try check([(FILTEROP_PASS, 4), (FILTEROP_DROP, 6), (FILTEROP_MORE, 1)])
            try check([(FILTEROP_PASS, 4), (FILTEROP_PASS, 100), (FILTEROP_INJECT, 3), (FILTEROP_MORE, 1)], injected: 3)
            try check([(FILTEROP_ERROR, 2)])
            try check([(FILTEROP_PASS, 0)], result: FILTER_PARSER_ERROR)
        }
    }

    @Test(arguments: [
        ("zero-length PASS", [(FILTEROP_PASS, Int64(0))], 0),
        ("negative DROP", [(FILTEROP_DROP, -1)], 0),
        ("op after MORE", [(FILTEROP_MORE, 1), (FILTEROP_PASS, 1)], 0),
        ("op after ERROR", [(FILTEROP_ERROR, 2), (FILTEROP_INJECT, 1)], 1),
        ("PASS after one beyond the input", [(FILTEROP_PASS, 20), (FILTEROP_PASS, 1)], 0),
        ("PASS starting past the input", [(FILTEROP_PASS, 10), (FILTEROP_DROP, 1)], 0),
        ("INJECT beyond the buffer", [(FILTEROP_INJECT, 5)], 4),
        ("unknown error code", [(FILTEROP_ERROR, 9)], 0),
    ] as [(String, [(FilterOpType, Int64)], Int)])
    func opsContractRejects(_ name: String, _ ops: [(FilterOpType, Int64)], _ injected: Int) {
        #expect(throws: FuzzViolation.self, "\(name)") { try check(ops, injected: injected) }
    }

    @Test func opsContractRejectsUnexpectedResults() {
        #expect(throws: FuzzViolation.self) { try check([], result: FILTER_UNKNOWN_CONNECTION) }
    }

    @Test func accessLogCutRule() {
        #expect(AccessLogFuzzTarget.isCut("abc", of: "abc"))
        #expect(AccessLogFuzzTarget.isCut("ab…[truncated 1 bytes]", of: "abc"))
        #expect(AccessLogFuzzTarget.isCut("a\u{FFFD}", of: "a\0"))
        #expect(!AccessLogFuzzTarget.isCut("abd", of: "abc"))
        #expect(!AccessLogFuzzTarget.isCut("ax…[truncated 1 bytes]", of: "abc"))
    }
}
