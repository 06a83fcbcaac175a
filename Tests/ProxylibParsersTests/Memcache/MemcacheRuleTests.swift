import CProxylib
import Testing
@testable import ProxylibCore
@testable import ProxylibParsers
import ProxylibTestSupport

/// Rule compilation (what is rejected, and why) and which requests each kind of rule allows.
@Suite struct MemcacheRuleTests {
    struct Rejection: Sendable, CustomTestStringConvertible {
        let rule: L7KeyValueRule
        let reason: String
        var testDescription: String { reason }
    }

    static let rejections: [Rejection] = [
        Rejection(rule: ["keyExact": "a"], reason: "command not specified but key was provided"),
        Rejection(rule: ["keyRegex": "^a"], reason: "command not specified but key was provided"),
        Rejection(rule: ["command": "get", "key": "a"], reason: "unsupported key: key"),
        Rejection(rule: ["command": "fetch"], reason: "unknown command 'fetch'"),
        Rejection(rule: ["command": "GET"], reason: "unknown command 'GET'"),
        Rejection(rule: ["command": "get", "keyRegex": "a(?=b)"], reason: "invalid regular expression"),
    ]

    @Test(arguments: rejections)
    func rejected(_ rejection: Rejection) {
        let fixture = ParserFixture()
        #expect {
            try fixture.install([MC.policy([rejection.rule])])
        } throws: { error in
            "\(error)".contains(rejection.reason)
        }
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let rule: L7KeyValueRule
        let request: String
        let allowed: Bool
        var testDescription: String { "\(rule) \(request.debugDescription) → \(allowed)" }
    }

    static let textCases: [Case] = [
        // Groups map to text commands as upstream's table does.
        Case(rule: ["command": "storage"], request: "cas k 0 0 1 7\r\nx\r\n", allowed: true),
        Case(rule: ["command": "storage"], request: "incr k 1\r\n", allowed: true),
        Case(rule: ["command": "storage"], request: "delete k\r\n", allowed: false),
        Case(rule: ["command": "writeGroup"], request: "touch k 1\r\n", allowed: true),
        Case(rule: ["command": "writeGroup"], request: "get k\r\n", allowed: false),
        Case(rule: ["command": "get"], request: "gets k\r\n", allowed: true),
        Case(rule: ["command": "get"], request: "gat 1 k\r\n", allowed: false),
        Case(rule: ["command": "gat"], request: "gats 1 k\r\n", allowed: true),
        Case(rule: ["command": "gets"], request: "get k\r\n", allowed: false),
        Case(rule: ["command": "verbosity"], request: "verbosity 1\r\n", allowed: true),
        Case(rule: ["command": "version"], request: "version\r\n", allowed: true),
        // Meta commands: their own names, and the classic command of the same meaning.
        Case(rule: ["command": "get"], request: "mg k v\r\n", allowed: true),
        Case(rule: ["command": "mg"], request: "get k\r\n", allowed: false),
        Case(rule: ["command": "set"], request: "ms k 1\r\nx\r\n", allowed: true),
        Case(rule: ["command": "set"], request: "ms k 1 ME\r\nx\r\n", allowed: false),
        Case(rule: ["command": "add"], request: "ms k 1 ME\r\nx\r\n", allowed: true),
        Case(rule: ["command": "append"], request: "ms k 1 MA\r\nx\r\n", allowed: true),
        Case(rule: ["command": "cas"], request: "ms k 1 C99\r\nx\r\n", allowed: true),
        Case(rule: ["command": "storage"], request: "ms k 1 MR\r\nx\r\n", allowed: true),
        Case(rule: ["command": "delete"], request: "md k q\r\n", allowed: true),
        Case(rule: ["command": "decr"], request: "ma k MD\r\n", allowed: true),
        Case(rule: ["command": "decr"], request: "ma k\r\n", allowed: false),
        Case(rule: ["command": "noop"], request: "mn\r\n", allowed: true),
        Case(rule: ["command": "me"], request: "me k\r\n", allowed: true),
        // Key conditions: every key, every condition.
        Case(rule: ["command": "get", "keyExact": "a"], request: "get a a\r\n", allowed: true),
        Case(rule: ["command": "get", "keyExact": "a"], request: "get a b\r\n", allowed: false),
        Case(rule: ["command": "get", "keyPrefix": "p/"], request: "get p/1  p/2\r\n", allowed: true),
        Case(rule: ["command": "get", "keyPrefix": "p/", "keyRegex": "[0-9]$"], request: "get p/x\r\n", allowed: false),
        Case(rule: ["command": "get", "keyPrefix": "p/", "keyRegex": "[0-9]$"], request: "get p/7\r\n", allowed: true),
        Case(rule: ["command": "get", "keyExact": ""], request: "get anything\r\n", allowed: true),
        Case(rule: ["command": "stats", "keyExact": "x"], request: "stats\r\n", allowed: true),
        Case(rule: ["command": "get", "keyPrefix": "a"], request: "get a\tb\r\n", allowed: true),
        Case(rule: ["command": "get", "keyExact": "a"], request: "get a\tb\r\n", allowed: false),
        Case(rule: ["command": ""], request: "flush_all\r\n", allowed: true),
        Case(rule: [:], request: "lru mode flat\r\n", allowed: true),
    ]

    @Test(arguments: textCases)
    func text(_ test: Case) throws {
        let fixture = ParserFixture()
        try fixture.install([MC.policy([test.rule])])
        let connection = fixture.connect("memcache")
        let outcome = connection.onData(test.request)
        let length = test.request.utf8.count
        #expect(outcome.ops == [test.allowed ? .pass(length) : .drop(length), .more(2)])
    }

    static let binaryCases: [(L7KeyValueRule, UInt8, Bool)] = [
        (["command": "storage"], 0x0e, true),   // APPEND (missing from upstream's storage group)
        (["command": "storage"], 0x19, true),   // APPENDQ
        (["command": "storage"], 0x04, false),  // DELETE
        (["command": "get"], 0x0d, true),       // GETKQ
        (["command": "gat"], 0x24, true),       // GATKQ
        (["command": "noop"], 0x0a, true),
        (["command": "tap-checkpoint-end"], 0x47, true),
        (["command": "rget"], 0x30, true),
        (["command": "cas"], 0x01, false),
        (["command": "set"], 0x11, true),       // SETQ
    ]

    @Test func binaryOpcodes() throws {
        for (rule, opcode, allowed) in Self.binaryCases {
            let fixture = ParserFixture()
            try fixture.install([MC.policy([rule])])
            let connection = fixture.connect("memcache")
            let packet = MC.request(opcode, key: "k")
            #expect(connection.onData(segments: [packet]).ops.first == (allowed ? .pass(packet.count) : .drop(packet.count)),
                    "\(rule) opcode \(opcode)")
        }
    }

    @Test func denyRulesOverrideAllowRules() throws {
        let fixture = ParserFixture()
        try fixture.install([MC.policy([["command": "get"]], deny: [["command": "get", "keyPrefix": "secret/"]])])
        let connection = fixture.connect("memcache")
        #expect(connection.onData("get a\r\nget secret/b\r\nget a secret/c\r\nstats\r\n").ops
                == [.pass(7), .drop(14), .drop(16), .drop(7), .more(2)])
    }

    @Test func noPolicyDeniesEverything() {
        let fixture = ParserFixture()
        let connection = fixture.connect("memcache")
        let outcome = connection.onData("version\r\n")
        #expect(outcome.ops == [.drop(9), .more(2)])
        #expect(String(decoding: outcome.replyInjected, as: UTF8.self) == MC.denied)
    }
}
