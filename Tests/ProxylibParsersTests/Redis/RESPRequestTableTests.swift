import CProxylib
import Testing
@testable import ProxylibCore
@testable import ProxylibParsers
import ProxylibTestSupport

/// Request framing: multibulk and inline requests as redis reads them (src/networking.c's
/// processMultibulkBuffer and processInlineBuffer, with sdssplitargs), and the malformed ones the contract closes
/// the connection for. Each vector is checked twice:
///   - by `RedisRequestReader` itself: the arguments it reads, the request's length (a request follows it), for
///     the input whole, for every prefix (as byte-by-byte delivery sees it: never an error, never a MORE that
///     reaches past the request's end) and for random scatter-gather cuts;
///   - through the C datapath (whole, byte by byte, random cuts): the request reaches the server and a denied DEL
///     pipelined behind it gets its NOPERM after the request's reply — or, for a malformed request, the
///     connection is closed.
///
/// The inline vectors were checked against redis 7.0.15 (the arguments MONITOR shows for each line); so were the
/// malformed multibulk ones (redis answers "Protocol error") except where a comment says redis is laxer.
@Suite struct RedisRESPRequestTableTests {
    enum Expected: Sendable, Equatable {
        /// A command with these arguments (bytes as the strings' UTF-8).
        case command([String])
        /// Read, and no reply due (`*0`, `*-1`, an empty line).
        case nothing
        case malformed
    }

    struct Vector: Sendable, CustomTestStringConvertible {
        let name: String
        let request: String
        let expected: Expected
        /// Set where the parser disagrees with the contract: the vector runs as a known issue.
        var finding: String?
        var testDescription: String { name }
    }

    static let policy = RD.policy([[:]], deny: [["command": "del"]])
    static let denied = RD.command("DEL", "x")
    /// A request after each vector: the reader must not read into it.
    static let following = RD.command("PING")

    static let many = (0..<100).flatMap { ["k\($0)", "v\($0)"] }

    static let multibulk: [Vector] = [
        Vector(name: "GET", request: RD.command("GET", "k"), expected: .command(["GET", "k"])),
        Vector(name: "lowercase command", request: "*2\r\n$3\r\nget\r\n$1\r\nk\r\n", expected: .command(["get", "k"])),
        Vector(name: "empty bulk argument", request: "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n",
               expected: .command(["SET", "k", ""])),
        Vector(name: "empty key", request: "*2\r\n$3\r\nGET\r\n$0\r\n\r\n", expected: .command(["GET", ""])),
        Vector(name: "binary key with CRLF inside", request: "*2\r\n$3\r\nGET\r\n$4\r\na\r\nb\r\n",
               expected: .command(["GET", "a\r\nb"])),
        Vector(name: "key that looks like a request", request: "*2\r\n$3\r\nGET\r\n$14\r\n*1\r\n$4\r\nPING\r\n\r\n",
               expected: .command(["GET", "*1\r\n$4\r\nPING\r\n"])),
        Vector(name: "key of NUL and control bytes", request: "*2\r\n$3\r\nGET\r\n$4\r\n\u{0}\u{1}\n\u{7f}\r\n",
               expected: .command(["GET", "\u{0}\u{1}\n\u{7f}"])),
        Vector(name: "value ending in CR", request: "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nv\r\r\n",
               expected: .command(["SET", "k", "v\r"])),
        Vector(name: "*0 carries no command", request: "*0\r\n", expected: .nothing),
        Vector(name: "*-1 carries no command", request: "*-1\r\n", expected: .nothing),
        // redis reads any count ≤ 0 as an empty request.
        Vector(name: "*-5 carries no command", request: "*-5\r\n", expected: .nothing),
        Vector(name: "201 arguments", request: "*201\r\n$4\r\nMSET\r\n" + many.map { "$\($0.utf8.count)\r\n\($0)\r\n" }.joined(),
               expected: .command(["MSET"] + many)),
        Vector(name: "argument of 1000 bytes", request: RD.command("SET", "k", String(repeating: "\r\n$", count: 333) + "x"),
               expected: .command(["SET", "k", String(repeating: "\r\n$", count: 333) + "x"])),
    ]

    static let inline: [Vector] = [
        Vector(name: "inline GET", request: "GET k\r\n", expected: .command(["GET", "k"])),
        Vector(name: "inline line ending in LF only", request: "GET k\n", expected: .command(["GET", "k"])),
        Vector(name: "inline blanks around and between", request: "  GET   k  \r\n", expected: .command(["GET", "k"])),
        Vector(name: "inline tabs as blanks", request: "\tGET\tk\t\r\n", expected: .command(["GET", "k"])),
        Vector(name: "inline CR before CRLF ends the argument", request: "GET k\r\r\n", expected: .command(["GET", "k"])),
        Vector(name: "inline CR inside the line separates", request: "GET a\rb\r\n", expected: .command(["GET", "a", "b"])),
        Vector(name: "inline many arguments", request: "MGET a b c d e f g h i j\r\n",
               expected: .command(["MGET", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j"])),
        Vector(name: "inline double quotes keep blanks", request: "SET \"a b\" \"c  d\"\r\n",
               expected: .command(["SET", "a b", "c  d"])),
        Vector(name: "inline quoted command name", request: "\"GET\" k\r\n", expected: .command(["GET", "k"])),
        Vector(name: "inline \\x escapes", request: "SET k \"\\x41\\x4a\\x4A\\x00\"\r\n",
               expected: .command(["SET", "k", "AJJ\u{0}"])),
        Vector(name: "inline character escapes", request: "SET k \"a\\nb\\r\\t\\b\\a\\\\\\\"\\z\"\r\n",
               expected: .command(["SET", "k", "a\nb\r\t\u{8}\u{7}\\\"z"])),
        Vector(name: "inline incomplete \\x escape is x", request: "SET k \"\\x4\" \"\\xg1\"\r\n",
               expected: .command(["SET", "k", "x4", "xg1"])),
        Vector(name: "inline single quotes with \\'", request: "SET k 'it\\'s'\r\n", expected: .command(["SET", "k", "it's"])),
        Vector(name: "inline single quotes keep other escapes", request: "SET k 'a\\nb\\x41'\r\n",
               expected: .command(["SET", "k", "a\\nb\\x41"])),
        Vector(name: "inline double quote inside single quotes", request: "SET k 'say \"hi\"'\r\n",
               expected: .command(["SET", "k", "say \"hi\""])),
        Vector(name: "inline empty quoted arguments", request: "SET k \"\" ''\r\n", expected: .command(["SET", "k", "", ""])),
        Vector(name: "inline quote starting inside an argument", request: "GET a\"b c\"\r\n", expected: .command(["GET", "ab c"])),
        Vector(name: "inline closing quote followed by a tab", request: "SET k \"a\"\tb\r\n", expected: .command(["SET", "k", "a", "b"])),
        Vector(name: "inline closing quote followed by CR", request: "SET k \"a\"\rb\r\n", expected: .command(["SET", "k", "a", "b"])),
        Vector(name: "inline closing quote followed by \\v", request: "SET k \"a\"\u{0B}b\r\n",
               expected: .command(["SET", "k", "a", "b"])),
        Vector(name: "inline \\v and \\f inside an unquoted argument", request: "GET a\u{0B}b\u{0C}c\r\n",
               expected: .command(["GET", "a\u{0B}b\u{0C}c"])),
        Vector(name: "inline leading \\v and \\f are blanks", request: "\u{0B}\u{0C}GET k\r\n", expected: .command(["GET", "k"])),
        Vector(name: "inline empty line", request: "\r\n", expected: .nothing),
        Vector(name: "inline empty line, LF only", request: "\n", expected: .nothing),
        Vector(name: "inline line of blanks", request: " \t \u{0B} \r\n", expected: .nothing),
        // Malformed.
        Vector(name: "inline closing double quote followed by a non-blank", request: "SET k \"a\"b\r\n", expected: .malformed),
        Vector(name: "inline closing single quote followed by a non-blank", request: "SET k 'a'b\r\n", expected: .malformed),
        Vector(name: "inline unbalanced double quote", request: "SET k \"abc\r\n", expected: .malformed),
        Vector(name: "inline unbalanced single quote", request: "SET k 'abc\r\n", expected: .malformed),
        Vector(name: "inline escaped closing quote leaves it unbalanced", request: "SET k \"a\\\"\r\n", expected: .malformed),
        // redis looks for the line's LF with strchr, which stops at the NUL: it waits for more and never runs the
        // line (nor anything after it); closing the connection is the contract's reading.
        Vector(name: "inline NUL in an argument", request: "GET a\u{0}b\r\n", expected: .malformed),
        Vector(name: "inline NUL inside quotes", request: "GET \"a\u{0}b\"\r\n", expected: .malformed),
    ]

    static let malformedMultibulk: [Vector] = [
        Vector(name: "bulk header is a simple string", request: "*2\r\n$3\r\nGET\r\n+k\r\n", expected: .malformed),
        Vector(name: "bulk header is an integer", request: "*1\r\n:1\r\n", expected: .malformed),
        Vector(name: "bulk header is an array", request: "*1\r\n*1\r\n$4\r\nPING\r\n", expected: .malformed),
        Vector(name: "empty line where a bulk header belongs", request: "*2\r\n$3\r\nGET\r\n\r\n$1\r\nk\r\n", expected: .malformed),
        Vector(name: "count with a plus sign", request: "*+1\r\n$4\r\nPING\r\n", expected: .malformed),
        Vector(name: "count with a leading zero", request: "*01\r\n$4\r\nPING\r\n", expected: .malformed),
        Vector(name: "count not a number", request: "*x\r\n", expected: .malformed),
        Vector(name: "count with a space", request: "* 1\r\n$4\r\nPING\r\n", expected: .malformed),
        Vector(name: "count beyond Int64", request: "*99999999999999999999\r\n", expected: .malformed),
        // redis allows up to INT_MAX arguments to an authenticated client; the contract caps them.
        Vector(name: "more than 1,048,576 arguments", request: "*1048577\r\n", expected: .malformed),
        Vector(name: "bulk length with a leading zero", request: "*1\r\n$04\r\nPING\r\n", expected: .malformed),
        Vector(name: "bulk length $03", request: "*2\r\n$03\r\nGET\r\n$1\r\nk\r\n", expected: .malformed),
        Vector(name: "bulk length with a plus sign", request: "*1\r\n$+4\r\nPING\r\n", expected: .malformed),
        Vector(name: "bulk length -0", request: "*1\r\n$-0\r\n", expected: .malformed),
        Vector(name: "$-1 as an argument", request: "*2\r\n$3\r\nGET\r\n$-1\r\n", expected: .malformed),
        Vector(name: "$-1 as the command", request: "*1\r\n$-1\r\n", expected: .malformed),
        Vector(name: "empty bulk length", request: "*1\r\n$\r\n\r\n", expected: .malformed),
        // In these three redis skips the two bytes after the data unchecked (and runs GET k, PING, PIN); the
        // contract refuses them, so the server never reads bytes the policy did not see as a frame.
        Vector(name: "bulk data not followed by CRLF", request: "*2\r\n$3\r\nGETxx$1\r\nk\r\n", expected: .malformed),
        Vector(name: "last bulk data not followed by CRLF", request: "*1\r\n$4\r\nPINGxx", expected: .malformed),
        Vector(name: "bulk data longer than its length", request: "*1\r\n$3\r\nPING\r\n", expected: .malformed),
        Vector(name: "bulk data followed by LF only", request: "*2\r\n$3\r\nGET\n$1\r\nk\r\n", expected: .malformed),
        Vector(name: "count line ending in LF only", request: "*1\n$4\r\nPING\r\n", expected: .malformed),
        Vector(name: "bulk header ending in LF only", request: "*1\r\n$4\nPING\r\n", expected: .malformed),
        Vector(name: "count line ending in CR CR LF", request: "*1\r\r\n$4\r\nPING\r\n", expected: .malformed),
        Vector(name: "count header longer than 32 bytes with no LF yet", request: "*" + String(repeating: "1", count: 40),
               expected: .malformed),
        Vector(name: "bulk header longer than 32 bytes with no LF yet", request: "*1\r\n$" + String(repeating: "1", count: 40),
               expected: .malformed),
        Vector(name: "bulk length over 512 MiB", request: "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$536870913\r\n", expected: .malformed),
        Vector(name: "bulk length of a first argument over 512 MiB", request: "*1\r\n$536870913\r\n", expected: .malformed),
    ]

    static let vectors = multibulk + inline + malformedMultibulk


    // MARK: The reader

    /// What one read produced: the outcome and the arguments read (nil where an argument's bytes are absent).
    struct Reading: Equatable, CustomStringConvertible {
        var read: RedisRequestReader.Read
        var arguments: [[UInt8]?]
        var description: String {
            "\(read) \(arguments.map { $0.map { String(decoding: $0, as: UTF8.self).debugDescription } ?? "nil" })"
        }
    }

    static func read(_ pieces: [[UInt8]]) -> Reading {
        withInput(pieces) { input in
            var reader = RedisRequestReader()
            let arguments = RedisArguments()
            let read = reader.read(input, into: arguments)
            var words: [[UInt8]?] = []
            if case .command = read {
                words = (0..<arguments.count).map { index in arguments.withArgument(index) { Array($0) } }
            }
            arguments.detach()
            return Reading(read: read, arguments: words)
        }
    }

    /// `bytes` cut into pieces of 1…7 bytes by `seed`.
    static func cut(_ bytes: [UInt8], seed: UInt64) -> [[UInt8]] {
        var generator = SplitMix64(seed: seed)
        var pieces: [[UInt8]] = []
        var start = 0
        while start < bytes.count {
            let end = min(bytes.count, start + Int(generator.next() % 7) + 1)
            pieces.append(Array(bytes[start..<end]))
            start = end
        }
        return pieces
    }

    static func checkReader(_ vector: Vector, sourceLocation: SourceLocation = #_sourceLocation) {
        let request = Array(vector.request.utf8)
        let input = request + Array(following.utf8)
        let whole = read([input])
        switch vector.expected {
        case .command(let words):
            let expected = Reading(read: .command(length: request.count, lastArgumentBuffered: true),
                                   arguments: words.map { Array($0.utf8) })
            #expect(whole == expected, "whole", sourceLocation: sourceLocation)
            for seed: UInt64 in [1, 2, 3, 0x5eed] {
                #expect(read(cut(input, seed: seed)) == expected, "cut with seed \(seed)", sourceLocation: sourceLocation)
            }
        case .nothing:
            #expect(whole == Reading(read: .nothing(length: request.count), arguments: []), "whole",
                    sourceLocation: sourceLocation)
        case .malformed:
            #expect(read([request]).read == .malformed, "request alone", sourceLocation: sourceLocation)
            #expect(whole.read == .malformed, "whole", sourceLocation: sourceLocation)
            #expect(read(cut(input, seed: 7)).read == .malformed, "cut", sourceLocation: sourceLocation)
        }
        // Every prefix: waiting is fine, an error only for a malformed request, a MORE never reaches past the
        // request's end, and a command is only ever the whole request (its last argument possibly not arrived).
        var sawMalformed = false
        for length in 1..<request.count {
            let prefix = read([Array(request[..<length])])
            switch prefix.read {
            case .needMore(let n):
                #expect(!sawMalformed, "prefix \(length): MORE after an error", sourceLocation: sourceLocation)
                // (A malformed request has no end to respect: the reader may expect a longer element there.)
                #expect(n >= 1 && (vector.expected == .malformed || length + n <= request.count),
                        "prefix \(length): MORE \(n) of a \(request.count)-byte request", sourceLocation: sourceLocation)
            case .malformed:
                #expect(vector.expected == .malformed, "prefix \(length) malformed", sourceLocation: sourceLocation)
                sawMalformed = true
            case .nothing(let n):
                Issue.record("prefix \(length): nothing (\(n))", sourceLocation: sourceLocation)
            case .command(let n, let buffered):
                // The last argument (or its CRLF) may still be coming: the parser then waits for small ones. A
                // malformed request shows as a command until its fault arrives.
                #expect((n == request.count || (vector.expected == .malformed && !buffered)) && (!buffered || length >= n),
                        "prefix \(length): \(prefix)", sourceLocation: sourceLocation)
            }
        }
    }

    @Test(arguments: vectors)
    func reader(_ vector: Vector) {
        guard let finding = vector.finding else { return Self.checkReader(vector) }
        withKnownIssue(Comment(rawValue: finding)) { Self.checkReader(vector) }
    }

    // MARK: Through the datapath

    static func events(_ vector: Vector) -> [ConversationEvent] {
        switch vector.expected {
        case .command:
            return [
                .client(vector.request + denied),
                .expect(server: vector.request),
                .server("+OK\r\n"),
                .expect(client: "+OK\r\n" + RD.denied("del")),
            ]
        case .nothing:
            return [
                .client(vector.request + denied),
                .expect(server: vector.request, client: RD.denied("del")),
            ]
        case .malformed:
            return [.client(vector.request), .expectParserError]
        }
    }

    @Test(arguments: vectors)
    func datapath(_ vector: Vector) throws {
        guard let finding = vector.finding else {
            return try ConversationEvent.play(Self.events(vector), parser: "redis", policy: Self.policy)
        }
        withKnownIssue(Comment(rawValue: finding)) {
            try ConversationEvent.play(Self.events(vector), parser: "redis", policy: Self.policy)
        }
    }

    /// Inline lines near redis's 64 KiB limit: read by the reader only (byte-by-byte delivery of a 64 KiB line
    /// rescans it on every byte).
    @Test func inlineLength() {
        let fits = "SET k " + String(repeating: "v", count: 60_000) + "\r\n"
        Self.checkReader(Vector(name: "60 kB inline line", request: fits,
                                expected: .command(["SET", "k", String(repeating: "v", count: 60_000)])))
        let long = "SET k " + String(repeating: "v", count: 70_000) + "\r\n"
        #expect(Self.read([Array(long.utf8)]).read == .malformed)
        // Without its LF: refused once more than 64 KiB have arrived.
        let unterminated = Array(("SET k " + String(repeating: "v", count: 70_000)).utf8)
        #expect(Self.read([unterminated]).read == .malformed)
        #expect(Self.read([Array(unterminated[..<60_000])]).read == .needMore(1))
    }

    /// A small last argument is decided only with its CRLF in, whatever write the CRLF comes in.
    @Test(arguments: [
        ["*1\r\n$3\r\nPIN", "G\r\n"],
        ["*1\r\n$4\r\nPING", "xx"],
        ["*2\r\n$3\r\nGET\r\n$1\r\nk", "XY" + RD.command("GET", "k")],
    ])
    func lastArgumentTrailerInALaterWrite(_ writes: [String]) throws {
        let conversation = try Conversation(parser: "redis", policy: Self.policy, delivery: .whole)
        for write in writes { conversation.send(.client, write) }
        #expect(conversation.result == FILTER_PARSER_ERROR)
    }

    // MARK: Large last arguments

    static let megabyte = String(repeating: "0123456789abcdef", count: 65_536)  // 1 MiB

    struct Scenario: Sendable, CustomTestStringConvertible {
        let name: String
        let rules: [L7KeyValueRule]
        let events: [ConversationEvent]
        var finding: String?
        var testDescription: String { name }
    }

    static let setHeader = "*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$1048576\r\n"

    static let streaming: [Scenario] = [
        Scenario(name: "a 1 MiB value passes before it is buffered; the commands after it are decided",
                 rules: [["command": "set", "keyExact": "big"], ["command": "get"]], events: [
                    .client(setHeader + String(megabyte.prefix(200_000))),
                    .expect(server: setHeader + String(megabyte.prefix(200_000))),
                    .client(String(megabyte.dropFirst(200_000).prefix(500_000))),
                    .expect(server: String(megabyte.dropFirst(200_000).prefix(500_000))),
                    .client(String(megabyte.dropFirst(700_000)) + "\r\n" + RD.command("GET", "big")
                            + RD.command("SET", "other", "v") + RD.command("GET", "x")),
                    .expect(server: String(megabyte.dropFirst(700_000)) + "\r\n" + RD.command("GET", "big") + RD.command("GET", "x")),
                    .server("+OK\r\n" + RD.bulk("1") + "$-1\r\n"),
                    .expect(client: "+OK\r\n" + RD.bulk("1") + RD.denied("set") + "$-1\r\n"),
                 ]),
        Scenario(name: "a denied SET's 1 MiB value is dropped as it arrives",
                 rules: [["command": "set", "keyExact": "small"], ["command": "get"]], events: [
                    .client(setHeader + String(megabyte.prefix(300_000))),
                    .expect(client: RD.denied("set")),
                    .client(String(megabyte.dropFirst(300_000)) + "\r\n" + RD.command("GET", "big")),
                    .expect(server: RD.command("GET", "big")),
                    .server("$-1\r\n"),
                    .expect(client: "$-1\r\n"),
                 ]),
        Scenario(name: "a large key in the last argument is buffered and checked",
                 rules: [["command": "exists", "keyPrefix": "a"]], events: [
                    .client(RD.command("EXISTS", "a", "b" + String(megabyte.prefix(100_000)))
                            + RD.command("EXISTS", "a", "a" + String(megabyte.prefix(100_000)))),
                    .expect(server: RD.command("EXISTS", "a", "a" + String(megabyte.prefix(100_000))), client: RD.denied("exists")),
                    .server(":2\r\n"),
                    .expect(client: ":2\r\n"),
                 ]),
        Scenario(name: "a bulk length of exactly 512 MiB is allowed", rules: [["command": "set"]], events: [
                    .client("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$536870912\r\n" + String(megabyte.prefix(1000))),
                    .expect(server: "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$536870912\r\n" + String(megabyte.prefix(1000))),
                 ]),
        // Passed before it was buffered, a large value's two closing bytes pass unread — as redis reads them (it
        // skips two bytes after every bulk unchecked): the server frames the next command where the parser does.
        Scenario(name: "a streamed value's closing bytes pass unread, as redis reads them", rules: [["command": "set"]], events: [
                    .client(setHeader + megabyte + "XX" + RD.command("GET", "k")),
                    .expect(server: setHeader + megabyte + "XX"),
                    .server("+OK\r\n"),
                    .expect(client: "+OK\r\n" + RD.denied("get")),
                 ]),
    ]

    @Test(arguments: streaming)
    func largeLastArgument(_ scenario: Scenario) throws {
        guard let finding = scenario.finding else {
            return try ConversationEvent.play(scenario.events, parser: "redis", policy: RD.policy(scenario.rules))
        }
        withKnownIssue(Comment(rawValue: finding)) {
            try ConversationEvent.play(scenario.events, parser: "redis", policy: RD.policy(scenario.rules))
        }
    }
}
