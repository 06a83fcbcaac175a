import CProxylib
import Testing
@testable import ProxylibCore
import ProxylibParsers
import ProxylibTestSupport

/// Client and server exchanges through the C datapath: what the server receives, what the client receives,
/// in order, with every write delivered whole, byte by byte and randomly cut.
@Suite struct RedisConversationTests {
    typealias Event = ConversationEvent

    struct Scenario: Sendable, CustomTestStringConvertible {
        let name: String
        let rules: [L7KeyValueRule]
        var deny: [L7KeyValueRule] = []
        let events: [Event]
        var testDescription: String { name }
    }

    static let big = String(repeating: "0123456789abcdef", count: 8192)  // 128 KiB

    static let scenarios: [Scenario] = [
        Scenario(name: "a denial lands between the replies of pipelined commands",
                 rules: [["command": "get", "keyPrefix": "public:"]], events: [
                    .client(RD.command("GET", "public:a") + RD.command("GET", "secret") + RD.command("GET", "public:b")),
                    .expect(server: RD.command("GET", "public:a") + RD.command("GET", "public:b")),
                    .server(RD.bulk("1") + "$-1\r\n"),
                    .expect(client: RD.bulk("1") + RD.denied("get") + "$-1\r\n"),
                 ]),
        Scenario(name: "a denial with nothing outstanding is answered at once", rules: [["command": "@read"]], events: [
                    .client(RD.command("SET", "k", "v")),
                    .expect(client: RD.denied("set")),
                    .client(RD.command("GET", "k")),
                    .expect(server: RD.command("GET", "k")),
                    .server("$-1\r\n"),
                    .expect(client: "$-1\r\n"),
                 ]),
        Scenario(name: "every key of a multi-key command is checked", rules: [["command": "mset", "keyPrefix": "a:"]], events: [
                    .client(RD.command("MSET", "a:1", "x", "a:2", "y") + RD.command("MSET", "a:1", "x", "b:2", "y")),
                    .expect(server: RD.command("MSET", "a:1", "x", "a:2", "y")),
                    .server("+OK\r\n"),
                    .expect(client: "+OK\r\n" + RD.denied("mset")),
                 ]),
        Scenario(name: "EVAL's keys are counted by numkeys", rules: [["command": "eval", "keyPrefix": "a:"]], events: [
                    .client(RD.command("EVAL", "return 1", "2", "a:1", "a:2", "b:arg") + RD.command("EVAL", "return 1", "2", "a:1", "b:2")
                            + RD.command("EVAL", "return 1", "0")),
                    .expect(server: RD.command("EVAL", "return 1", "2", "a:1", "a:2", "b:arg")),
                    .server(":1\r\n"),
                    .expect(client: ":1\r\n" + RD.denied("eval") + RD.denied("eval")),
                 ]),
        Scenario(name: "inline commands are split as redis splits them", rules: [["command": "get", "keyExact": "a b"]], events: [
                    .client("GET \"a b\"\r\nGET 'a b'\r\nGET a\r\n\r\n"),
                    .expect(server: "GET \"a b\"\r\nGET 'a b'\r\n\r\n"),
                    .server("$1\r\nx\r\n$1\r\nx\r\n"),
                    .expect(client: "$1\r\nx\r\n$1\r\nx\r\n" + RD.denied("get")),
                 ]),
        Scenario(name: "a transaction that loses a command fails at EXEC", rules: [["command": "multi"], ["command": "exec"],
                                                                                     ["command": "get"]], events: [
                    .client(RD.command("MULTI") + RD.command("GET", "a") + RD.command("SET", "a", "1") + RD.command("EXEC")),
                    .expect(server: RD.command("MULTI") + RD.command("GET", "a") + RD.discard),
                    .server("+OK\r\n+QUEUED\r\n+OK\r\n"),
                    .expect(client: "+OK\r\n+QUEUED\r\n" + RD.denied("set") + RD.execAbort),
                    .client(RD.command("GET", "a")),
                    .expect(server: RD.command("GET", "a")),
                    .server("$-1\r\n"),
                    .expect(client: "$-1\r\n"),
                 ]),
        Scenario(name: "a transaction of allowed commands runs", rules: [["command": "@transaction"], ["command": "@string"]], events: [
                    .client(RD.command("MULTI") + RD.command("SET", "a", "1") + RD.command("GET", "a") + RD.command("EXEC")),
                    .expect(server: RD.command("MULTI") + RD.command("SET", "a", "1") + RD.command("GET", "a") + RD.command("EXEC")),
                    .server("+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n+OK\r\n$1\r\n1\r\n"),
                    .expect(client: "+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n+OK\r\n$1\r\n1\r\n"),
                 ]),
        Scenario(name: "RESP2 pub/sub: confirmations, messages, and a denial among them",
                 rules: [["channelPrefix": "news."], ["command": "ping"]], events: [
                    .client(RD.command("SUBSCRIBE", "news.a", "news.b") + RD.command("SUBSCRIBE", "secret") + RD.command("PING")),
                    .expect(server: RD.command("SUBSCRIBE", "news.a", "news.b") + RD.command("PING")),
                    .server("*3\r\n$9\r\nsubscribe\r\n$6\r\nnews.a\r\n:1\r\n*3\r\n$7\r\nmessage\r\n$6\r\nnews.a\r\n$2\r\nhi\r\n"
                            + "*3\r\n$9\r\nsubscribe\r\n$6\r\nnews.b\r\n:2\r\n*2\r\n$4\r\npong\r\n$0\r\n\r\n"),
                    .expect(client: "*3\r\n$9\r\nsubscribe\r\n$6\r\nnews.a\r\n:1\r\n*3\r\n$7\r\nmessage\r\n$6\r\nnews.a\r\n$2\r\nhi\r\n"
                            + "*3\r\n$9\r\nsubscribe\r\n$6\r\nnews.b\r\n:2\r\n" + RD.denied("subscribe") + "*2\r\n$4\r\npong\r\n$0\r\n\r\n"),
                    .client(RD.command("UNSUBSCRIBE") + RD.command("GET", "x")),
                    .expect(server: RD.command("UNSUBSCRIBE")),
                    .server("*3\r\n$11\r\nunsubscribe\r\n$6\r\nnews.a\r\n:1\r\n*3\r\n$11\r\nunsubscribe\r\n$6\r\nnews.b\r\n:0\r\n"),
                    .expect(client: "*3\r\n$11\r\nunsubscribe\r\n$6\r\nnews.a\r\n:1\r\n*3\r\n$11\r\nunsubscribe\r\n$6\r\nnews.b\r\n:0\r\n"
                            + RD.denied("get")),
                 ]),
        Scenario(name: "RESP3: HELLO, pushes between replies, every reply type", rules: [["command": "@read"], ["command": "hello"]], events: [
                    .client(RD.command("HELLO", "3") + RD.command("GET", "a") + RD.command("DEL", "a") + RD.command("HGETALL", "h")),
                    .expect(server: RD.command("HELLO", "3") + RD.command("GET", "a") + RD.command("HGETALL", "h")),
                    .server("%1\r\n+server\r\n+redis\r\n>2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\na\r\n|1\r\n+ttl\r\n:3\r\n"
                            + "=7\r\ntxt:abc\r\n%2\r\n$1\r\nf\r\n,1.5\r\n~2\r\n#t\r\n(123\r\n!3\r\nerr\r\n_\r\n"),
                    .expect(client: "%1\r\n+server\r\n+redis\r\n>2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\na\r\n|1\r\n+ttl\r\n:3\r\n"
                            + "=7\r\ntxt:abc\r\n" + RD.denied("del") + "%2\r\n$1\r\nf\r\n,1.5\r\n~2\r\n#t\r\n(123\r\n!3\r\nerr\r\n_\r\n"),
                 ]),
        Scenario(name: "large values pass as they arrive, both ways", rules: [["command": "set", "keyExact": "big"], ["command": "get"]], events: [
                    .client(RD.command("SET", "big", big) + RD.command("GET", "big") + RD.command("SET", "other", big)),
                    .expect(server: RD.command("SET", "big", big) + RD.command("GET", "big")),
                    .server("+OK\r\n" + RD.bulk(big)),
                    .expect(client: "+OK\r\n" + RD.bulk(big) + RD.denied("set")),
                 ]),
        Scenario(name: "db rules follow SELECT", rules: [["db": "1"], ["command": "select", "db": "2"]], events: [
                    .client(RD.command("GET", "a") + RD.command("SELECT", "1") + RD.command("GET", "a") + RD.command("SELECT", "3")),
                    .expect(server: RD.command("SELECT", "1") + RD.command("GET", "a"), client: RD.denied("get")),
                    .server("+OK\r\n$-1\r\n"),
                    .expect(client: "+OK\r\n$-1\r\n" + RD.denied("select")),
                 ]),
        Scenario(name: "commands the table does not know are matched by name only", rules: [["command": "json.get"]], events: [
                    .client(RD.command("JSON.GET", "doc") + RD.command("JSON.SET", "doc", "$", "1")),
                    .expect(server: RD.command("JSON.GET", "doc")),
                    .server("$2\r\n{}\r\n"),
                    .expect(client: "$2\r\n{}\r\n" + RD.deniedUnknown),
                 ]),
        Scenario(name: "a denial waits for the end of a message that is part way through",
                 rules: [["command": "subscribe"]], events: [
                    .client(RD.command("SUBSCRIBE", "ch")),
                    .expect(server: RD.command("SUBSCRIBE", "ch")),
                    .server("*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$10\r\n01234"),
                    // A small bulk passes whole: the message's head passes, its payload waits.
                    .expect(client: "*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n"),
                    .client(RD.command("PING")),
                    .expect(),
                    .server("56789\r\n"),
                    .expect(client: "$10\r\n0123456789\r\n" + RD.denied("ping")),
                 ]),
        Scenario(name: "CLIENT REPLY OFF and SKIP: denials are as silent as the server", rules: [["command": "client"], ["command": "get"]],
                 events: [
                    .client(RD.command("CLIENT", "REPLY", "OFF") + RD.command("SET", "a", "1") + RD.command("GET", "a")
                            + RD.command("CLIENT", "REPLY", "ON") + RD.command("CLIENT", "REPLY", "SKIP") + RD.command("SET", "b", "2")
                            + RD.command("SET", "c", "3")),
                    // The denied SET after SKIP is replaced by a PING, so the server skips that and not a later reply.
                    .expect(server: RD.command("CLIENT", "REPLY", "OFF") + RD.command("GET", "a") + RD.command("CLIENT", "REPLY", "ON")
                            + RD.command("CLIENT", "REPLY", "SKIP") + RD.command("PING")),
                    .server("+OK\r\n"),
                    .expect(client: "+OK\r\n" + RD.denied("set")),
                 ]),
        Scenario(name: "a failed SELECT restores the database", rules: [["command": "select"], ["command": "get", "db": "0"]], events: [
                    .client(RD.command("SELECT", "99")),
                    .expect(server: RD.command("SELECT", "99")),
                    .server("-ERR DB index is out of range\r\n"),
                    .expect(client: "-ERR DB index is out of range\r\n"),
                    .client(RD.command("GET", "a")),
                    .expect(server: RD.command("GET", "a")),
                 ]),
        Scenario(name: "a SELECT queued in MULTI applies after EXEC, and not after an aborted EXEC",
                 rules: [["command": "@transaction"], ["command": "select"], ["command": "get", "db": "0"]], events: [
                    .client(RD.command("MULTI") + RD.command("SELECT", "2") + RD.command("GET", "a") + RD.command("EXEC") + RD.command("GET", "a")),
                    .expect(server: RD.command("MULTI") + RD.command("SELECT", "2") + RD.discard + RD.command("GET", "a")),
                    .server("+OK\r\n+QUEUED\r\n+OK\r\n$-1\r\n"),
                    .expect(client: "+OK\r\n+QUEUED\r\n" + RD.denied("get") + RD.execAbort + "$-1\r\n"),
                    .client(RD.command("MULTI") + RD.command("SELECT", "3") + RD.command("EXEC")),
                    .expect(server: RD.command("MULTI") + RD.command("SELECT", "3") + RD.command("EXEC")),
                    .server("+OK\r\n+QUEUED\r\n_\r\n"),
                    .expect(client: "+OK\r\n+QUEUED\r\n_\r\n"),
                    .client(RD.command("GET", "a")),
                    .expect(server: RD.command("GET", "a")),
                 ]),
        Scenario(name: "RESP3 subscriptions: confirmations are pushes, other commands run between messages",
                 rules: [["command": "hello"], ["channelPrefix": "n."], ["command": "get"]], events: [
                    .client(RD.command("HELLO", "3") + RD.command("PSUBSCRIBE", "n.*") + RD.command("PSUBSCRIBE", "*") + RD.command("GET", "k")),
                    .expect(server: RD.command("HELLO", "3") + RD.command("PSUBSCRIBE", "n.*") + RD.command("GET", "k")),
                    .server("%1\r\n$5\r\nproto\r\n:3\r\n>3\r\n$10\r\npsubscribe\r\n$3\r\nn.*\r\n:1\r\n"
                            + ">4\r\n$8\r\npmessage\r\n$3\r\nn.*\r\n$3\r\nn.a\r\n$1\r\nx\r\n$1\r\nv\r\n"),
                    .expect(client: "%1\r\n$5\r\nproto\r\n:3\r\n>3\r\n$10\r\npsubscribe\r\n$3\r\nn.*\r\n:1\r\n" + RD.denied("psubscribe")
                            + ">4\r\n$8\r\npmessage\r\n$3\r\nn.*\r\n$3\r\nn.a\r\n$1\r\nx\r\n$1\r\nv\r\n"),
                    .client(RD.command("PUNSUBSCRIBE") + RD.command("SET", "k", "v")),
                    .expect(server: RD.command("PUNSUBSCRIBE")),
                    .server(">3\r\n$12\r\npunsubscribe\r\n$3\r\nn.*\r\n:0\r\n"),
                    .expect(client: ">3\r\n$12\r\npunsubscribe\r\n$3\r\nn.*\r\n:0\r\n" + RD.denied("set")),
                 ]),
        Scenario(name: "MONITOR: lines pass as they come, denials are answered at once", rules: [["command": "monitor"]], events: [
                    .client(RD.command("MONITOR")),
                    .expect(server: RD.command("MONITOR")),
                    .server("+OK\r\n+1700000000.000000 [0 127.0.0.1:5] \"get\" \"a\"\r\n"),
                    .expect(client: "+OK\r\n+1700000000.000000 [0 127.0.0.1:5] \"get\" \"a\"\r\n"),
                    .client(RD.command("GET", "a")),
                    .expect(client: RD.denied("get")),
                 ]),
        Scenario(name: "a reply with no request due passes (the server's refusal before closing)", rules: [[:]], events: [
                    .server("-ERR max number of clients reached\r\n"),
                    .expect(client: "-ERR max number of clients reached\r\n"),
                 ]),
        Scenario(name: "a malformed request closes the connection", rules: [[:]], events: [
                    .client("*2\r\n$3\r\nGET\r\n+a\r\n"),
                    .expectParserError,
                 ]),
    ]

    @Test(arguments: scenarios)
    func conversation(_ scenario: Scenario) throws {
        try ConversationEvent.play(scenario.events, parser: "redis", policy: RD.policy(scenario.rules, deny: scenario.deny))
    }
}
