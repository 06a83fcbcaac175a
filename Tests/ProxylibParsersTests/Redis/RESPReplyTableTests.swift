import CProxylib
import Testing
@testable import ProxylibCore
import ProxylibParsers
import ProxylibTestSupport

/// Server replies of every RESP2/RESP3 type, most of them the examples of the RESP specification
/// (https://redis.io/docs/latest/develop/reference/protocol-spec/), each played after a request through the C
/// datapath — whole, byte by byte and randomly split. Behind the request the client pipelines a denied DEL and a
/// PING: the reply must reach the client whole, the DEL's NOPERM exactly after its last byte, and the PING's
/// reply after that — which holds only when the framer found where the reply ends (a framer that stops early puts
/// the NOPERM inside the reply; one that runs late swallows the PONG into it, or never injects the denial).
@Suite struct RedisRESPReplyTableTests {
    typealias Event = ConversationEvent

    struct Vector: Sendable, CustomTestStringConvertible {
        let name: String
        /// The request the reply answers.
        var request = RD.command("GET", "k")
        let reply: String
        var testDescription: String { name }
    }

    /// Allowed: everything but DEL.
    static let policy = RD.policy([[:]], deny: [["command": "del"]])
    static let denied = RD.command("DEL", "x")

    static let vectors: [Vector] = [
        // Simple strings, simple errors, integers.
        Vector(name: "simple string", request: RD.command("SET", "k", "v"), reply: "+OK\r\n"),
        Vector(name: "empty simple string", reply: "+\r\n"),
        Vector(name: "simple error", reply: "-Error message\r\n"),
        Vector(name: "simple error with a prefix", reply: "-ERR unknown command 'asdf'\r\n"),
        Vector(name: "WRONGTYPE error", reply: "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        Vector(name: "integer 0", request: RD.command("EXISTS", "k"), reply: ":0\r\n"),
        Vector(name: "integer 1000", request: RD.command("INCRBY", "k", "1000"), reply: ":1000\r\n"),
        Vector(name: "negative integer", request: RD.command("DECR", "k"), reply: ":-1\r\n"),
        Vector(name: "integer with a plus sign", request: RD.command("STRLEN", "k"), reply: ":+42\r\n"),
        // Bulk strings.
        Vector(name: "bulk string", reply: "$5\r\nhello\r\n"),
        Vector(name: "empty bulk string", reply: "$0\r\n\r\n"),
        Vector(name: "bulk string with CRLF inside its data", reply: "$8\r\nab\r\n\r\ncd\r\n"),
        Vector(name: "bulk string that looks like replies", reply: "$9\r\n+OK\r\n:1\r\n\r\n"),
        Vector(name: "binary bulk string", reply: "$6\r\n\u{0}\u{1}\r\n\u{7f}\u{0}\r\n"),
        Vector(name: "bulk string of 100 KiB", reply: RD.bulk(String(repeating: "x\r\n$3\r\n", count: 100 * 1024 / 8))),
        Vector(name: "RESP2 null bulk string", reply: "$-1\r\n"),
        // Arrays.
        Vector(name: "empty array", request: RD.command("LRANGE", "k", "0", "-1"), reply: "*0\r\n"),
        Vector(name: "array of two bulk strings", request: RD.command("MGET", "a", "b"),
               reply: "*2\r\n$5\r\nhello\r\n$5\r\nworld\r\n"),
        Vector(name: "array of integers", request: RD.command("LRANGE", "k", "0", "-1"), reply: "*3\r\n:1\r\n:2\r\n:3\r\n"),
        Vector(name: "mixed array", request: RD.command("LRANGE", "k", "0", "-1"),
               reply: "*5\r\n:1\r\n:2\r\n:3\r\n:4\r\n$5\r\nhello\r\n"),
        Vector(name: "nested arrays", request: RD.command("LRANGE", "k", "0", "-1"),
               reply: "*2\r\n*3\r\n:1\r\n:2\r\n:3\r\n*2\r\n+Hello\r\n-World\r\n"),
        Vector(name: "RESP2 null array", request: RD.command("BLPOP", "k", "1"), reply: "*-1\r\n"),
        Vector(name: "null elements in an array", request: RD.command("MGET", "a", "b", "c"),
               reply: "*3\r\n$5\r\nhello\r\n$-1\r\n$5\r\nworld\r\n"),
        Vector(name: "array ending in an empty array", request: RD.command("LRANGE", "k", "0", "-1"),
               reply: "*2\r\n:1\r\n*0\r\n"),
        Vector(name: "array of a null array and an empty bulk", request: RD.command("LRANGE", "k", "0", "-1"),
               reply: "*2\r\n*-1\r\n$0\r\n\r\n"),
        Vector(name: "nesting 512 deep (the limit)", request: RD.command("LRANGE", "k", "0", "-1"),
               reply: String(repeating: "*1\r\n", count: 512) + ":1\r\n"),
        Vector(name: "nesting 512 deep through maps and sets", request: RD.command("HGETALL", "h"),
               reply: String(repeating: "%1\r\n+k\r\n~1\r\n", count: 256) + ":1\r\n"),
        // RESP3 simple types.
        Vector(name: "RESP3 null", reply: "_\r\n"),
        Vector(name: "boolean true", request: RD.command("EXISTS", "k"), reply: "#t\r\n"),
        Vector(name: "boolean false", request: RD.command("EXISTS", "k"), reply: "#f\r\n"),
        Vector(name: "double", request: RD.command("ZSCORE", "z", "m"), reply: ",1.23\r\n"),
        Vector(name: "double without a fraction", request: RD.command("ZSCORE", "z", "m"), reply: ",10\r\n"),
        Vector(name: "negative double", request: RD.command("ZSCORE", "z", "m"), reply: ",-1.5\r\n"),
        Vector(name: "double with an exponent", request: RD.command("ZSCORE", "z", "m"), reply: ",1.23E+10\r\n"),
        Vector(name: "double with a lowercase negative exponent", request: RD.command("ZSCORE", "z", "m"),
               reply: ",-4.5e-3\r\n"),
        Vector(name: "double inf", request: RD.command("ZSCORE", "z", "m"), reply: ",inf\r\n"),
        Vector(name: "double -inf", request: RD.command("ZSCORE", "z", "m"), reply: ",-inf\r\n"),
        Vector(name: "double nan", request: RD.command("ZSCORE", "z", "m"), reply: ",nan\r\n"),
        Vector(name: "big number", request: RD.command("DEBUG", "PROTOCOL", "bignum"),
               reply: "(3492890328409238509324850943850943825024385\r\n"),
        Vector(name: "negative big number", request: RD.command("DEBUG", "PROTOCOL", "bignum"),
               reply: "(-3492890328409238509324850943850943825024385\r\n"),
        // RESP3 length-prefixed types.
        Vector(name: "bulk error", reply: "!21\r\nSYNTAX invalid syntax\r\n"),
        Vector(name: "empty bulk error", reply: "!0\r\n\r\n"),
        Vector(name: "bulk error with CRLF inside", reply: "!10\r\nERR a\r\nb\r\n\r\n"),
        Vector(name: "verbatim string txt:", request: RD.command("INFO"), reply: "=15\r\ntxt:Some string\r\n"),
        Vector(name: "verbatim string mkd: over lines", request: RD.command("LATENCY", "DOCTOR"),
               reply: "=21\r\nmkd:# Title\r\n\r\n* item\r\n"),
        // RESP3 aggregates.
        Vector(name: "map", request: RD.command("HGETALL", "h"), reply: "%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n"),
        Vector(name: "empty map", request: RD.command("HGETALL", "h"), reply: "%0\r\n"),
        Vector(name: "map with aggregate keys and values", request: RD.command("HGETALL", "h"),
               reply: "%2\r\n*2\r\n:1\r\n:2\r\n%1\r\n+a\r\n_\r\n~1\r\n#t\r\n$3\r\nend\r\n"),
        Vector(name: "set", request: RD.command("SMEMBERS", "s"), reply: "~3\r\n$1\r\na\r\n:2\r\n,3.5\r\n"),
        Vector(name: "empty set", request: RD.command("SMEMBERS", "s"), reply: "~0\r\n"),
        Vector(name: "array of sets and maps", request: RD.command("LRANGE", "k", "0", "-1"),
               reply: "*3\r\n~1\r\n+x\r\n%1\r\n+k\r\n~0\r\n*0\r\n"),
        Vector(name: "attribute before a reply (the specification's example)", request: RD.command("MGET", "a", "b"),
               reply: "|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n,0.0012\r\n*2\r\n:2039123\r\n:9543892\r\n"),
        Vector(name: "attribute before a simple reply", reply: "|1\r\n+ttl\r\n:3600\r\n$1\r\nv\r\n"),
        Vector(name: "two attributes before a reply", reply: "|1\r\n+a\r\n:1\r\n|1\r\n+b\r\n:2\r\n+OK\r\n"),
        Vector(name: "empty attribute before a reply", reply: "|0\r\n:7\r\n"),
        Vector(name: "attribute nested inside an array (the specification's example)",
               request: RD.command("LRANGE", "k", "0", "-1"), reply: "*3\r\n:1\r\n:2\r\n|1\r\n+ttl\r\n:3600\r\n:3\r\n"),
        Vector(name: "attribute decorating the last element of an array", request: RD.command("LRANGE", "k", "0", "-1"),
               reply: "*2\r\n:1\r\n|1\r\n+ttl\r\n:3600\r\n:2\r\n"),
        Vector(name: "attribute decorating a nested array's last element", request: RD.command("LRANGE", "k", "0", "-1"),
               reply: "*1\r\n*1\r\n|1\r\n+a\r\n*1\r\n:0\r\n:1\r\n"),
        Vector(name: "attribute inside a map value", request: RD.command("HGETALL", "h"),
               reply: "%1\r\n+f\r\n|1\r\n+meta\r\n%0\r\n:5\r\n"),
        Vector(name: "attribute whose value is an aggregate with an attribute", request: RD.command("MGET", "a"),
               reply: "|1\r\n+x\r\n*1\r\n|1\r\n+y\r\n:1\r\n:2\r\n*1\r\n:3\r\n"),
    ]

    @Test(arguments: vectors)
    func replyEndsWhereItEnds(_ vector: Vector) throws {
        try ConversationEvent.play([
            .client(vector.request + Self.denied + RD.command("PING")),
            .expect(server: vector.request + RD.command("PING")),
            .server(vector.reply + "+PONG\r\n"),
            .expect(client: vector.reply + RD.denied("del") + "+PONG\r\n"),
        ], parser: "redis", policy: Self.policy)
    }

    /// The same replies sent in two writes with the denial requested in between: the end of a reply that arrives
    /// in pieces is found across writes.
    @Test(arguments: vectors)
    func replyInTwoWrites(_ vector: Vector) throws {
        let bytes = Array(vector.reply.utf8)
        let cut = bytes.count / 2
        try ConversationEvent.play([
            .client(vector.request),
            .expect(server: vector.request),
            .server(Array(bytes[..<cut])),
            .client(Self.denied),
            .server(Array(bytes[cut...])),
            .expect(client: vector.reply + RD.denied("del")),
        ], parser: "redis", policy: Self.policy)
    }

    // MARK: Pushes

    static let invalidate = ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n"
    /// The specification's push example: simple strings, not bulk ones.
    static let specPush = ">4\r\n+pubsub\r\n+message\r\n+somechannel\r\n+this is the message\r\n"

    struct PushCase: Sendable, CustomTestStringConvertible {
        let name: String
        let events: [Event]
        var testDescription: String { name }
    }

    static let pushCases: [PushCase] = [
        PushCase(name: "a push before the reply answers nothing", events: [
            .client(RD.command("GET", "k") + denied),
            .expect(server: RD.command("GET", "k")),
            .server(invalidate + "$1\r\nv\r\n"),
            .expect(client: invalidate + "$1\r\nv\r\n" + RD.denied("del")),
        ]),
        PushCase(name: "the specification's push between two replies", events: [
            .client(RD.command("GET", "a") + denied + RD.command("GET", "b")),
            .expect(server: RD.command("GET", "a") + RD.command("GET", "b")),
            .server("$1\r\n1\r\n" + specPush + "$1\r\n2\r\n"),
            .expect(client: "$1\r\n1\r\n" + RD.denied("del") + specPush + "$1\r\n2\r\n"),
        ]),
        PushCase(name: "pushes with no request outstanding pass; a later denial is immediate", events: [
            .server(invalidate + specPush),
            .expect(client: invalidate + specPush),
            .client(denied),
            .expect(client: RD.denied("del")),
        ]),
        PushCase(name: "a push with an attribute and nested aggregates", events: [
            .client(RD.command("GET", "k") + denied),
            .expect(server: RD.command("GET", "k")),
            .server(">3\r\n$7\r\nmessage\r\n|1\r\n+a\r\n:1\r\n%1\r\n+k\r\n*1\r\n:1\r\n$2\r\nhi\r\n" + "_\r\n"),
            .expect(client: ">3\r\n$7\r\nmessage\r\n|1\r\n+a\r\n:1\r\n%1\r\n+k\r\n*1\r\n:1\r\n$2\r\nhi\r\n" + "_\r\n"
                    + RD.denied("del")),
        ]),
        PushCase(name: "an empty push", events: [
            .client(RD.command("GET", "k") + denied),
            .expect(server: RD.command("GET", "k")),
            .server(">0\r\n:1\r\n"),
            .expect(client: ">0\r\n:1\r\n" + RD.denied("del")),
        ]),
    ]

    /// An attribute may decorate any value, a push included (RESP3: "the attribute type … can be emitted before
    /// any other type"); the push still answers nothing. The parser decides whom a reply answers from its first
    /// byte (`|`, not `>`), so it takes the decorated push for GET's reply: the NOPERM lands before GET's real reply,
    /// which then answers the wrong request. (Redis itself sends attributes only for DEBUG PROTOCOL attrib.)
    @Test func attributeBeforeAPush() {
        withKnownIssue("finding: a push decorated by an attribute is taken for the oldest request's reply") {
            try playAttributeBeforeAPush()
        }
    }

    private func playAttributeBeforeAPush() throws {
        try ConversationEvent.play([
            .client(RD.command("GET", "k") + Self.denied),
            .expect(server: RD.command("GET", "k")),
            .server("|1\r\n+a\r\n:1\r\n" + Self.invalidate + "$1\r\nv\r\n"),
            .expect(client: "|1\r\n+a\r\n:1\r\n" + Self.invalidate + "$1\r\nv\r\n" + RD.denied("del")),
        ], parser: "redis", policy: Self.policy)
    }

    @Test(arguments: pushCases)
    func push(_ test: PushCase) throws {
        try ConversationEvent.play(test.events, parser: "redis", policy: Self.policy)
    }

    // MARK: Malformed

    struct Malformed: Sendable, CustomTestStringConvertible {
        let name: String
        let reply: String
        /// Set where the parser disagrees with the contract: the vector runs as a known issue.
        var finding: String?
        var testDescription: String { name }
    }

    /// A length-prefixed element under 64 KiB passes only whole, its CRLF checked however the reply is cut (a
    /// larger one streams, its two closing bytes unread).
    static let malformed: [Malformed] = [
        Malformed(name: "unknown type byte", reply: "@5\r\nhello\r\n"),
        Malformed(name: "lowercase letter as a type", reply: "ok\r\n"),
        Malformed(name: "empty line", reply: "\r\n"),
        Malformed(name: "space before the type", reply: " +OK\r\n"),
        Malformed(name: "unknown type inside an array", reply: "*2\r\n:1\r\n@x\r\n"),
        Malformed(name: "bulk length not a number", reply: "$abc\r\nabc\r\n"),
        Malformed(name: "bulk length with trailing junk", reply: "$3x\r\nabc\r\n"),
        Malformed(name: "bulk length with a plus sign", reply: "$+3\r\nabc\r\n"),
        Malformed(name: "bulk length with a leading zero", reply: "$03\r\nabc\r\n"),
        Malformed(name: "empty bulk length", reply: "$\r\n\r\n"),
        Malformed(name: "bulk length -0", reply: "$-0\r\n\r\n"),
        Malformed(name: "bulk length beyond Int64", reply: "$99999999999999999999\r\n"),
        Malformed(name: "array count not a number", reply: "*x\r\n"),
        Malformed(name: "array count with a space", reply: "* 1\r\n:1\r\n"),
        Malformed(name: "bulk data longer than its length", reply: "$3\r\nabcd\r\n"),
        Malformed(name: "bulk data followed by LF only", reply: "$3\r\nabc\n+OK\r\n"),
        Malformed(name: "bulk data followed by no CRLF", reply: "$3\r\nabcxy"),
        Malformed(name: "bulk error data not followed by CRLF", reply: "!3\r\nerrxx"),
        Malformed(name: "verbatim data not followed by CRLF", reply: "=7\r\ntxt:abcxx"),
        Malformed(name: "bulk length -2", reply: "$-2\r\n"),
        Malformed(name: "array count -2", reply: "*-2\r\n"),
        Malformed(name: "map count -1", reply: "%-1\r\n"),
        Malformed(name: "set count -1", reply: "~-1\r\n"),
        Malformed(name: "push count -1", reply: ">-1\r\n"),
        Malformed(name: "attribute count -1", reply: "|-1\r\n"),
        Malformed(name: "bulk error length -1", reply: "!-1\r\n"),
        Malformed(name: "verbatim length -1", reply: "=-1\r\n"),
        Malformed(name: "nested array count -5", reply: "*1\r\n*-5\r\n"),
        Malformed(name: "simple string ending in LF only", reply: "+OK\n"),
        Malformed(name: "integer ending in LF only", reply: ":1\n"),
        Malformed(name: "bulk header ending in LF only", reply: "$3\nabc\r\n"),
        Malformed(name: "array header ending in LF only", reply: "*1\n:1\r\n"),
        Malformed(name: "element of an array ending in LF only", reply: "*2\r\n:1\r\n:2\n"),
        Malformed(name: "header line longer than 32 bytes with no LF", reply: "$" + String(repeating: "1", count: 40)),
        Malformed(name: "nesting 513 deep", reply: String(repeating: "*1\r\n", count: 513) + ":1\r\n"),
        Malformed(name: "nesting 513 deep through maps, sets and an attribute",
                  reply: String(repeating: "%1\r\n+k\r\n~1\r\n", count: 256) + "|1\r\n+a\r\n:1\r\n:1\r\n"),
    ]

    @Test(arguments: malformed)
    func malformedReplyClosesTheConnection(_ vector: Malformed) throws {
        guard let finding = vector.finding else { return try playMalformed(vector) }
        withKnownIssue(Comment(rawValue: finding)) { try playMalformed(vector) }
    }

    private func playMalformed(_ vector: Malformed) throws {
        try ConversationEvent.play([
            .client(RD.command("GET", "k")),
            .expect(server: RD.command("GET", "k")),
            .server(vector.reply),
            .expectParserError,
        ], parser: "redis", policy: Self.policy)
    }
}
