import CProxylib
import Testing
@testable import ProxylibCore
@testable import ProxylibParsers
import ProxylibTestSupport

/// The redis rule parser (what a policy update is refused for, and the message that says why) and what each
/// accepted form of rule allows or denies, request by request through a connection.
@Suite struct RedisRuleTests {
    // MARK: Rejected rules (NACK)

    struct Rejection: Sendable, CustomTestStringConvertible {
        let rule: L7KeyValueRule
        /// Text the error must contain.
        let reason: String
        var deny = false
        var testDescription: String { "\(rule) → \(reason)" }
    }

    static let rejections: [Rejection] = [
        Rejection(rule: ["command": "get", "key": "a"], reason: "unsupported key: key"),
        Rejection(rule: ["commands": "get"], reason: "unsupported key: commands"),
        Rejection(rule: ["Command": "get"], reason: "unsupported key: Command"),
        Rejection(rule: ["keyprefix": "a"], reason: "unsupported key: keyprefix"),
        Rejection(rule: ["channel": "a"], reason: "unsupported key: channel"),
        Rejection(rule: ["command": "@nope"], reason: "unknown command category '@nope'"),
        Rejection(rule: ["command": "@"], reason: "unknown command category '@'"),
        Rejection(rule: ["command": "@nope"], reason: "unknown command category '@nope'", deny: true),
        Rejection(rule: ["command": "config|nope"], reason: "unknown subcommand 'config|nope'"),
        Rejection(rule: ["command": "config nope"], reason: "unknown subcommand 'config nope'"),
        Rejection(rule: ["command": "CLIENT|NOPE"], reason: "unknown subcommand 'CLIENT|NOPE'"),
        Rejection(rule: ["command": "config|"], reason: "unknown subcommand 'config|'"),
        // GET has no subcommands: a known command with one named is refused the same way.
        Rejection(rule: ["command": "get|x"], reason: "unknown subcommand 'get|x'"),
        Rejection(rule: ["command": "json get"], reason: "'json get' is not a command name"),
        Rejection(rule: ["command": "a\tb"], reason: "is not a command name"),
        Rejection(rule: ["command": String(repeating: "x", count: 65)], reason: "is not a command name"),
        Rejection(rule: ["db": "x"], reason: "db must be a database number, not 'x'"),
        Rejection(rule: ["db": "-1"], reason: "db must be a database number, not '-1'"),
        Rejection(rule: ["db": "1.5"], reason: "db must be a database number, not '1.5'"),
        Rejection(rule: ["db": " 1"], reason: "db must be a database number"),
        Rejection(rule: ["db": "99999999999999999999"], reason: "db must be a database number"),
        Rejection(rule: ["db": "-1"], reason: "db must be a database number", deny: true),
        Rejection(rule: ["keyPrefix": "a", "channelPrefix": "b"], reason: "a rule names keys or channels, not both"),
        Rejection(rule: ["command": "get", "keyExact": "a", "channelRegex": "b"], reason: "not both"),
        Rejection(rule: ["keyRegex": "a", "channelExact": "b"], reason: "not both", deny: true),
        Rejection(rule: ["command": "get", "keyRegex": "a(?=b)"], reason: "invalid regular expression"),
        Rejection(rule: ["channelRegex": "("], reason: "invalid regular expression"),
    ]

    @Test(arguments: rejections)
    func rejected(_ rejection: Rejection) {
        let fixture = ParserFixture()
        let policy = rejection.deny ? RD.policy([[:]], deny: [rejection.rule]) : RD.policy([rejection.rule])
        #expect {
            try fixture.install([policy])
        } throws: { error in
            "\(error)".contains(rejection.reason)
        }
    }

    /// Every message names the parser, so the operator knows which rule was refused.
    @Test func rejectionsNameRedis() {
        for rejection in Self.rejections where !rejection.reason.contains("regular expression") {
            let fixture = ParserFixture()
            #expect(throws: (any Error).self) { try fixture.install([RD.policy([rejection.rule])]) }
            do {
                try fixture.install([RD.policy([rejection.rule])])
            } catch {
                #expect("\(error)".contains("L7 redis rule"), "\(rejection.rule): \(error)")
            }
        }
    }

    // MARK: Accepted rules

    struct Case: Sendable, CustomTestStringConvertible {
        let allow: [L7KeyValueRule]
        var deny: [L7KeyValueRule] = []
        /// Requests sent first (their verdicts are not checked): SELECTs and the like.
        var before: [[String]] = []
        let request: [String]
        let allowed: Bool
        var testDescription: String {
            "allow \(allow) deny \(deny) \(before.isEmpty ? "" : "after \(before) ")\(request.joined(separator: " ")) → \(allowed)"
        }
    }

    static func command(_ words: [String]) -> [UInt8] {
        Array(("*\(words.count)\r\n" + words.map { "$\($0.utf8.count)\r\n\($0)\r\n" }.joined()).utf8)
    }

    static let commandCases: [Case] = [
        // Names, case-insensitive on both sides.
        Case(allow: [["command": "GET"]], request: ["get", "k"], allowed: true),
        Case(allow: [["command": "get"]], request: ["GET", "k"], allowed: true),
        Case(allow: [["command": "get"]], request: ["GETEX", "k"], allowed: false),
        Case(allow: [["command": "get"]], request: ["SET", "k", "v"], allowed: false),
        Case(allow: [["command": "get"]], request: ["GETDEL", "k"], allowed: false),
        // Subcommands and containers.
        Case(allow: [["command": "config|get"]], request: ["CONFIG", "GET", "maxmemory"], allowed: true),
        Case(allow: [["command": "config|get"]], request: ["config", "get", "maxmemory"], allowed: true),
        Case(allow: [["command": "config|get"]], request: ["CONFIG", "SET", "maxmemory", "1"], allowed: false),
        Case(allow: [["command": "config|get"]], request: ["CONFIG"], allowed: false),
        Case(allow: [["command": "config|get"]], request: ["CONFIG", "NOPE"], allowed: false),
        Case(allow: [["command": "CONFIG GET"]], request: ["CONFIG", "GET", "x"], allowed: true),
        Case(allow: [["command": "Config|Get"]], request: ["CONFIG", "GET", "x"], allowed: true),
        Case(allow: [["command": "config"]], request: ["CONFIG", "SET", "x", "y"], allowed: true),
        Case(allow: [["command": "config"]], request: ["CONFIG", "NOPE"], allowed: true),
        Case(allow: [["command": "config"]], request: ["CONFIG"], allowed: true),
        Case(allow: [["command": "client|reply"]], request: ["CLIENT", "REPLY", "ON"], allowed: true),
        Case(allow: [["command": "client|reply"]], request: ["CLIENT", "KILL", "x"], allowed: false),
        Case(allow: [["command": "object|encoding"]], request: ["OBJECT", "ENCODING", "k"], allowed: true),
        Case(allow: [["command": "object|encoding"]], request: ["OBJECT", "FREQ", "k"], allowed: false),
        // ACL categories, the implicit ones included.
        Case(allow: [["command": "@READ"]], request: ["GET", "k"], allowed: true),
        Case(allow: [["command": "@all"]], request: ["CONFIG", "SET", "x", "y"], allowed: true),
        Case(allow: [["command": "@all"]], request: ["JSON.GET", "doc"], allowed: false),
        Case(allow: [["command": "@read"]], request: ["SET", "k", "v"], allowed: false),
        Case(allow: [["command": "@read"]], request: ["CONFIG", "GET", "x"], allowed: false),
        Case(allow: [["command": "@write"]], request: ["SET", "k", "v"], allowed: true),
        Case(allow: [["command": "@write"]], request: ["GET", "k"], allowed: false),
        Case(allow: [["command": "@keyspace"]], request: ["DEL", "k"], allowed: true),
        Case(allow: [["command": "@string"]], request: ["APPEND", "k", "v"], allowed: true),
        Case(allow: [["command": "@string"]], request: ["LPUSH", "k", "v"], allowed: false),
        Case(allow: [["command": "@list"]], request: ["LPUSH", "k", "v"], allowed: true),
        Case(allow: [["command": "@hash"]], request: ["HSET", "h", "f", "v"], allowed: true),
        Case(allow: [["command": "@set"]], request: ["SADD", "s", "m"], allowed: true),
        Case(allow: [["command": "@sortedset"]], request: ["ZADD", "z", "1", "m"], allowed: true),
        Case(allow: [["command": "@bitmap"]], request: ["SETBIT", "k", "1", "1"], allowed: true),
        Case(allow: [["command": "@hyperloglog"]], request: ["PFADD", "k", "a"], allowed: true),
        Case(allow: [["command": "@geo"]], request: ["GEOADD", "g", "0", "0", "m"], allowed: true),
        Case(allow: [["command": "@stream"]], request: ["XADD", "s", "*", "f", "v"], allowed: true),
        Case(allow: [["command": "@admin"]], request: ["CONFIG", "SET", "x", "y"], allowed: true),
        Case(allow: [["command": "@admin"]], request: ["FLUSHALL"], allowed: false),
        Case(allow: [["command": "@dangerous"]], request: ["FLUSHALL"], allowed: true),
        Case(allow: [["command": "@dangerous"]], request: ["KEYS", "*"], allowed: true),
        Case(allow: [["command": "@dangerous"]], request: ["CONFIG", "GET", "x"], allowed: true),
        Case(allow: [["command": "@dangerous"]], request: ["GET", "k"], allowed: false),
        Case(allow: [["command": "@connection"]], request: ["PING"], allowed: true),
        Case(allow: [["command": "@connection"]], request: ["SELECT", "0"], allowed: true),
        Case(allow: [["command": "@transaction"]], request: ["MULTI"], allowed: true),
        Case(allow: [["command": "@transaction"]], request: ["WATCH", "k"], allowed: true),
        Case(allow: [["command": "@pubsub"]], request: ["PUBLISH", "c", "m"], allowed: true),
        Case(allow: [["command": "@scripting"]], request: ["EVAL", "return 1", "0"], allowed: true),
        Case(allow: [["command": "@fast"]], request: ["GET", "k"], allowed: true),
        Case(allow: [["command": "@fast"]], request: ["KEYS", "*"], allowed: false),
        Case(allow: [["command": "@slow"]], request: ["KEYS", "*"], allowed: true),
        Case(allow: [["command": "@blocking"]], request: ["BLPOP", "k", "0"], allowed: true),
        Case(allow: [["command": "@blocking"]], request: ["LPOP", "k"], allowed: false),
        // Categories never match commands the table does not know; their names do.
        Case(allow: [["command": "@read"]], request: ["JSON.GET", "k"], allowed: false),
        Case(allow: [["command": "json.get"]], request: ["JSON.GET", "k"], allowed: true),
        Case(allow: [["command": "JSON.GET"]], request: ["json.get", "k"], allowed: true),
        Case(allow: [["command": "json.get"]], request: ["JSON.SET", "k", "$", "1"], allowed: false),
        Case(allow: [["command": "json.get"]], request: ["JSON.GETX", "k"], allowed: false),
        Case(allow: [["command": "json.get"]], request: ["GET", "k"], allowed: false),
        // Several rules: any one allowing allows.
        Case(allow: [["command": "get"], ["command": "@write"]], request: ["SET", "k", "v"], allowed: true),
        Case(allow: [["command": "get"], ["command": "@write"]], request: ["KEYS", "*"], allowed: false),
        // Empty values count as absent; a rule with no conditions allows everything.
        Case(allow: [["command": ""]], request: ["FLUSHALL"], allowed: true),
        Case(allow: [["command": "get", "keyExact": "", "db": ""]], request: ["GET", "anything"], allowed: true),
        Case(allow: [[:]], request: ["JSON.SET", "k", "$", "1"], allowed: true),
        // AUTH and HELLO are never refused.
        Case(allow: [["command": "get"]], request: ["AUTH", "pw"], allowed: true),
        Case(allow: [["command": "get"]], request: ["HELLO", "3"], allowed: true),
        Case(allow: [["command": "get"]], deny: [["command": "auth"]], request: ["AUTH", "user", "pw"], allowed: true),
        Case(allow: [["command": "get"]], deny: [["command": "@connection"]], request: ["HELLO", "3", "AUTH", "u", "p"], allowed: true),
    ]

    static let keyCases: [Case] = [
        Case(allow: [["command": "get", "keyExact": "a"]], request: ["GET", "a"], allowed: true),
        Case(allow: [["command": "get", "keyExact": "a"]], request: ["GET", "ab"], allowed: false),
        Case(allow: [["command": "mget", "keyPrefix": "a"]], request: ["MGET", "a1", "a2"], allowed: true),
        Case(allow: [["command": "mget", "keyPrefix": "a"]], request: ["MGET", "a1", "b"], allowed: false),
        Case(allow: [["command": "mset", "keyPrefix": "a"]], request: ["MSET", "a1", "bvalue", "a2", "bvalue"], allowed: true),
        Case(allow: [["command": "get", "keyRegex": "^user:[0-9]+$"]], request: ["GET", "user:12"], allowed: true),
        Case(allow: [["command": "get", "keyRegex": "^user:[0-9]+$"]], request: ["GET", "user:x"], allowed: false),
        // Unanchored search.
        Case(allow: [["command": "get", "keyRegex": "b"]], request: ["GET", "abc"], allowed: true),
        Case(allow: [["command": "get", "keyPrefix": "p:", "keyRegex": "[0-9]$"]], request: ["GET", "p:7"], allowed: true),
        Case(allow: [["command": "get", "keyPrefix": "p:", "keyRegex": "[0-9]$"]], request: ["GET", "p:x"], allowed: false),
        Case(allow: [["command": "get", "keyPrefix": "p:", "keyRegex": "[0-9]$"]], request: ["GET", "q:7"], allowed: false),
        // Binary keys compare as bytes.
        Case(allow: [["command": "get", "keyExact": "a\r\nb"]], request: ["GET", "a\r\nb"], allowed: true),
        // Without a command: every command with keys, all meeting the conditions.
        Case(allow: [["keyPrefix": "a"]], request: ["GET", "a"], allowed: true),
        Case(allow: [["keyPrefix": "a"]], request: ["DEL", "a1", "a2"], allowed: true),
        Case(allow: [["keyPrefix": "a"]], request: ["RENAME", "a1", "b"], allowed: false),
        Case(allow: [["keyPrefix": "a"]], request: ["PING"], allowed: false),
        Case(allow: [["keyPrefix": "a"]], request: ["FLUSHALL"], allowed: false),
        Case(allow: [["keyPrefix": "a"]], request: ["JSON.GET", "a"], allowed: false),
        Case(allow: [["command": "eval", "keyPrefix": "a"]], request: ["EVAL", "return 1", "0"], allowed: false),
        Case(allow: [["command": "eval", "keyPrefix": "a"]], request: ["EVAL", "return 1", "1", "a1", "b"], allowed: true),
        Case(allow: [["command": "eval", "keyPrefix": "a"]], request: ["EVAL", "return 1", "x", "a1"], allowed: false),
        Case(allow: [["command": "sort", "keyPrefix": "a"]], request: ["SORT", "a"], allowed: true),
        Case(allow: [["command": "sort", "keyPrefix": "a"]], request: ["SORT", "a", "STORE", "a2"], allowed: true),
        Case(allow: [["command": "sort", "keyPrefix": "a"]], request: ["SORT", "a", "STORE", "b"], allowed: false),
        Case(allow: [["command": "sort", "keyPrefix": "a"]], request: ["SORT", "a", "BY", "a_*"], allowed: false),
        Case(allow: [["command": "sort", "keyPrefix": "a"]], request: ["SORT", "a", "BY", "nosort"], allowed: true),
        // Shard channels are not keys.
        Case(allow: [["keyPrefix": "a"]], request: ["SPUBLISH", "a", "m"], allowed: false),
        Case(allow: [["command": "migrate", "keyPrefix": "a"]],
             request: ["MIGRATE", "h", "1", "", "0", "5", "AUTH", "bpw", "KEYS", "a1", "a2"], allowed: true),
        Case(allow: [["command": "migrate", "keyPrefix": "a"]],
             request: ["MIGRATE", "h", "1", "", "0", "5", "KEYS", "a1", "b2"], allowed: false),
    ]

    static let channelCases: [Case] = [
        Case(allow: [["channelPrefix": "news."]], request: ["PUBLISH", "news.a", "m"], allowed: true),
        Case(allow: [["channelPrefix": "news."]], request: ["PUBLISH", "sport", "m"], allowed: false),
        Case(allow: [["channelPrefix": "news."]], request: ["SUBSCRIBE", "news.a", "news.b"], allowed: true),
        Case(allow: [["channelPrefix": "news."]], request: ["SUBSCRIBE", "news.a", "sport"], allowed: false),
        Case(allow: [["channelPrefix": "news."]], request: ["SPUBLISH", "news.a", "m"], allowed: true),
        Case(allow: [["channelPrefix": "news."]], request: ["SSUBSCRIBE", "news.a"], allowed: true),
        Case(allow: [["channelPrefix": "news."]], request: ["PSUBSCRIBE", "news.*"], allowed: true),
        Case(allow: [["channelPrefix": "news."]], request: ["PSUBSCRIBE", "news.a?"], allowed: true),
        Case(allow: [["channelPrefix": "news."]], request: ["PSUBSCRIBE", "news*"], allowed: false),
        Case(allow: [["channelPrefix": "news."]], request: ["PSUBSCRIBE", "*"], allowed: false),
        Case(allow: [["channelPrefix": "news."]], request: ["PSUBSCRIBE", "news.a"], allowed: true),
        Case(allow: [["channelPrefix": "news."]], request: ["PSUBSCRIBE", "new[s]."], allowed: false),
        Case(allow: [["channelPrefix": "news."]], request: ["UNSUBSCRIBE", "sport"], allowed: true),
        Case(allow: [["channelPrefix": "news."]], request: ["PUNSUBSCRIBE"], allowed: true),
        Case(allow: [["channelPrefix": "news."]], request: ["SUNSUBSCRIBE", "sport"], allowed: true),
        Case(allow: [["channelPrefix": "news."]], request: ["GET", "news.a"], allowed: false),
        Case(allow: [["channelPrefix": "news."]], request: ["PUBSUB", "CHANNELS"], allowed: false),
        Case(allow: [["channelExact": "c"]], request: ["PSUBSCRIBE", "c"], allowed: true),
        Case(allow: [["channelExact": "c"]], request: ["PSUBSCRIBE", "c*"], allowed: false),
        Case(allow: [["channelExact": "c*"]], request: ["PSUBSCRIBE", "c*"], allowed: false),
        Case(allow: [["channelRegex": "^a"]], request: ["SUBSCRIBE", "abc"], allowed: true),
        Case(allow: [["channelRegex": "^a"]], request: ["PSUBSCRIBE", "a*"], allowed: false),
        Case(allow: [["command": "subscribe", "channelExact": "c"]], request: ["PUBLISH", "c", "m"], allowed: false),
        Case(allow: [["command": "publish", "channelExact": "c"]], request: ["PUBLISH", "c", "m"], allowed: true),
    ]

    static let dbCases: [Case] = [
        Case(allow: [["db": "0"]], request: ["GET", "k"], allowed: true),
        Case(allow: [["db": "1"]], request: ["GET", "k"], allowed: false),
        Case(allow: [["db": "1"]], before: [["SELECT", "1"]], request: ["GET", "k"], allowed: true),
        Case(allow: [["db": "0"]], request: ["SELECT", "1"], allowed: false),
        Case(allow: [["db": "0"]], request: ["SELECT", "0"], allowed: true),
        Case(allow: [["db": "0"]], request: ["SELECT", "x"], allowed: false),
        Case(allow: [["db": "0"]], request: ["MOVE", "k", "1"], allowed: false),
        Case(allow: [["db": "0"]], request: ["MOVE", "k", "0"], allowed: true),
        Case(allow: [["db": "0"]], request: ["COPY", "a", "b"], allowed: true),
        Case(allow: [["db": "0"]], request: ["COPY", "a", "b", "DB", "1"], allowed: false),
        Case(allow: [["db": "0"]], request: ["COPY", "a", "b", "DB", "0", "REPLACE"], allowed: true),
        Case(allow: [["db": "0"]], request: ["SWAPDB", "0", "1"], allowed: false),
        Case(allow: [["db": "0"]], request: ["SWAPDB", "0", "0"], allowed: true),
        Case(allow: [["db": "0"]], request: ["FLUSHALL"], allowed: false),
        Case(allow: [["db": "0"]], request: ["FLUSHDB"], allowed: true),
        Case(allow: [["db": "0"]], before: [["RESET"]], request: ["GET", "k"], allowed: true),
        Case(allow: [["db": "0"], ["command": "select"], ["command": "reset"]], before: [["SELECT", "2"], ["RESET"]], request: ["GET", "k"], allowed: true),
        Case(allow: [["command": "get", "db": "3"], ["command": "select"]], before: [["SELECT", "3"]], request: ["GET", "k"],
             allowed: true),
        Case(allow: [["command": "get", "db": "3"], ["command": "select"]], before: [["SELECT", "3"]], request: ["SET", "k", "v"],
             allowed: false),
    ]

    static let denyCases: [Case] = [
        Case(allow: [[:]], deny: [["command": "get", "keyPrefix": "secret"]], request: ["GET", "secret1"], allowed: false),
        Case(allow: [[:]], deny: [["command": "get", "keyPrefix": "secret"]], request: ["GET", "a"], allowed: true),
        Case(allow: [[:]], deny: [["command": "mget", "keyPrefix": "secret"]], request: ["MGET", "a", "secret"], allowed: false),
        Case(allow: [[:]], deny: [["keyPrefix": "secret"]], request: ["RENAME", "a", "secret"], allowed: false),
        // Deny rules fail closed: keys that cannot be known are denied.
        Case(allow: [[:]], deny: [["keyPrefix": "secret"]], request: ["JSON.GET", "a"], allowed: false),
        Case(allow: [[:]], deny: [["keyPrefix": "secret"]], request: ["SORT", "a", "BY", "w_*"], allowed: false),
        Case(allow: [[:]], deny: [["keyPrefix": "secret"]], request: ["EVAL", "return 1", "x"], allowed: false),
        Case(allow: [[:]], deny: [["keyPrefix": "secret"]], request: ["EVAL", "return 1", "0"], allowed: true),
        Case(allow: [[:]], deny: [["keyPrefix": "secret"]], request: ["PING"], allowed: true),
        Case(allow: [[:]], deny: [["keyRegex": "^s"]], request: ["MSET", "a", "s", "b", "t"], allowed: true),
        Case(allow: [[:]], deny: [["channelPrefix": "secret"]], request: ["PUBLISH", "secret.x", "m"], allowed: false),
        Case(allow: [[:]], deny: [["channelPrefix": "secret"]], request: ["SUBSCRIBE", "a", "secret.x"], allowed: false),
        Case(allow: [[:]], deny: [["channelPrefix": "secret"]], request: ["SUBSCRIBE", "a"], allowed: true),
        Case(allow: [[:]], deny: [["channelPrefix": "secret"]], request: ["PSUBSCRIBE", "*"], allowed: false),
        Case(allow: [[:]], deny: [["channelPrefix": "secret"]], request: ["PSUBSCRIBE", "news"], allowed: true),
        Case(allow: [[:]], deny: [["channelPrefix": "secret"]], request: ["UNSUBSCRIBE", "secret.x"], allowed: true),
        Case(allow: [[:]], deny: [["channelPrefix": "secret"]], request: ["GET", "secret"], allowed: true),
        Case(allow: [[:]], deny: [["db": "1"]], request: ["GET", "k"], allowed: true),
        Case(allow: [[:]], deny: [["db": "1"]], request: ["SELECT", "1"], allowed: false),
        Case(allow: [[:]], deny: [["db": "1"]], request: ["MOVE", "k", "1"], allowed: false),
        Case(allow: [[:]], deny: [["db": "1"]], request: ["SWAPDB", "0", "1"], allowed: false),
        Case(allow: [[:]], deny: [["db": "1"]], request: ["FLUSHALL"], allowed: false),
        Case(allow: [[:]], deny: [["db": "1"]], request: ["COPY", "a", "b", "DB", "1"], allowed: false),
        Case(allow: [[:]], deny: [["command": "@dangerous"]], request: ["FLUSHALL"], allowed: false),
        Case(allow: [[:]], deny: [["command": "@dangerous"]], request: ["GET", "k"], allowed: true),
        Case(allow: [[:]], deny: [["command": "config|set"]], request: ["CONFIG", "GET", "x"], allowed: true),
        Case(allow: [[:]], deny: [["command": "config|set"]], request: ["CONFIG", "SET", "x", "y"], allowed: false),
        Case(allow: [[:]], deny: [["command": "json.set"]], request: ["JSON.SET", "k", "$", "1"], allowed: false),
        Case(allow: [[:]], deny: [["command": "json.set"]], request: ["JSON.GET", "k"], allowed: true),
        Case(allow: [["command": "get"]], deny: [["command": "get", "keyExact": "b"]], request: ["GET", "b"], allowed: false),
    ]

    static func verdict(_ test: Case) throws -> ParserOp? {
        let fixture = ParserFixture()
        try fixture.install([RD.policy(test.allow, deny: test.deny)])
        let connection = fixture.connect("redis")
        for words in test.before {
            _ = connection.onData(segments: [command(words)])
        }
        return connection.onData(segments: [command(test.request)]).ops.first
    }

    static func check(_ test: Case, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let length = command(test.request).count
        #expect(try verdict(test) == (test.allowed ? .pass(length) : .drop(length)), sourceLocation: sourceLocation)
    }

    /// Policy-level consequences of former key-finder findings (see RedisKeyFinderTests).
    static let findingCases: [(Case, String)] = [
        // The contract: a key count past the arguments is incomplete, which a deny rule on keys denies.
        (Case(allow: [[:]], deny: [["keyPrefix": "secret"]], request: ["EVAL", "return 1", "1"], allowed: false),
         "finding: EVAL with a key count past the arguments counts as a complete, keyless command"),
        // GEORADIUS writes to the last STORE's destination (b) while the key list names the first (a1).
        (Case(allow: [["command": "georadius", "keyPrefix": "a"]], request: ["GEORADIUS", "a", "0", "0", "1", "km", "STORE", "a1", "STORE", "b"],
              allowed: false),
         "finding: GEORADIUS … STORE a1 STORE b is checked on a1 but writes b"),
        (Case(allow: [[:]], deny: [["keyPrefix": "secret"]], request: ["GEORADIUS", "a", "0", "0", "1", "km", "STORE", "a1", "STORE", "secret"],
              allowed: false),
         "finding: GEORADIUS … STORE a1 STORE secret escapes a deny rule on secret"),
    ]

    @Test func findings() throws {
        for (test, _) in Self.findingCases {
            try Self.check(test)
        }
    }

    @Test(arguments: commandCases)
    func command(_ test: Case) throws { try Self.check(test) }

    @Test(arguments: keyCases)
    func keys(_ test: Case) throws { try Self.check(test) }

    @Test(arguments: channelCases)
    func channels(_ test: Case) throws { try Self.check(test) }

    @Test(arguments: dbCases)
    func database(_ test: Case) throws { try Self.check(test) }

    @Test(arguments: denyCases)
    func deny(_ test: Case) throws { try Self.check(test) }
}
