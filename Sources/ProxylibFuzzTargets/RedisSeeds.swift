/// Seed scripts for `datapath-redis`: conversations under the oracle's policy (GET/SET/MGET/MSET of keys
/// starting with `a`, GET anything in database 1, PING, SELECT, MULTI/EXEC/DISCARD, CLIENT REPLY, SUBSCRIBE to
/// `news…`, UNSUBSCRIBE, MONITOR but in database 3, JSON.GET; never a key containing `secret` for string
/// commands; remote 7 also @read in database 0 and DEL; nothing from remote 9 but AUTH and HELLO), multibulk
/// and inline, RESP2 and RESP3 replies, cut at awkward points, and malformed requests and replies.
enum RedisSeeds {
    typealias Step = FuzzSeeds.Step

    /// A multibulk request.
    static func command(_ words: String...) -> [UInt8] { multibulk(words.map { Array($0.utf8) }) }

    static func multibulk(_ words: [[UInt8]]) -> [UInt8] {
        var bytes = Array("*\(words.count)\r\n".utf8)
        for word in words { bytes += Array("$\(word.count)\r\n".utf8) + word + [0x0D, 0x0A] }
        return bytes
    }

    static func bulk(_ text: String) -> [UInt8] { Array("$\(text.utf8.count)\r\n\(text)\r\n".utf8) }

    static func denied(_ command: String) -> [UInt8] {
        Array("-NOPERM the network policy does not allow '\(command)'\r\n".utf8)
    }

    /// Run once before the first input (`DatapathFuzzTarget.Profile.warmUp`): the command table, the policy's
    /// rules and a denial used once.
    static var warmUp: [[UInt8]] {
        [FuzzSeeds.script([
            .clientBytes(command("GET", "a1") + command("SET", "b", "x") + command("MGET", "a1", "a2")),
            .server("$1\r\nx\r\n*2\r\n$-1\r\n$-1\r\n"),
            .client("SUBSCRIBE news1\r\nCLIENT REPLY ON\r\nJSON.GET a\r\nSELECT 1\r\n"),
        ])]
    }

    static func scripts() -> [[UInt8]] {
        func script(setup: UInt8 = 0, _ steps: [Step]) -> [UInt8] { FuzzSeeds.script(setup: setup, steps) }
        func setup(remote: UInt8 = 0, ops: UInt8 = 0, inject: UInt8 = 0) -> UInt8 {
            FuzzSeeds.setup(remote: remote, ops: ops, inject: inject)
        }
        func c(_ bytes: [UInt8]) -> Step { .clientBytes(bytes) }
        func s(_ text: String) -> Step { .server(text) }
        let big = [UInt8](repeating: 0x78, count: 300)
        return [
            // Allowed GET and SET, a denial between their replies.
            script([c(command("GET", "a1") + command("GET", "b") + command("SET", "a2", "v")),
                    s("$1\r\nv\r\n+OK\r\n")]),
            // Inline commands: quotes, escapes, blanks; a key containing "secret" (denied for string commands).
            script([.client("GET \"a\\x41\"\r\nSET 'a b' \"x y\"\r\nget secret\r\n  ping   \r\nPING \"hi\\n\"\r\n\r\n"),
                    s("$-1\r\n+OK\r\n+PONG\r\n$3\r\nhi\n\r\n")]),
            // MGET / MSET / DEL: all keys must match; remote 1 may not DEL.
            script([c(command("MGET", "a1", "a2") + command("MGET", "a1", "b") + command("MSET", "a1", "1", "a2", "2")
                      + command("MSET", "a1", "1", "b", "2") + command("DEL", "a1") + command("MSET", "a1", "asecret")),
                    s("*2\r\n$1\r\n1\r\n$-1\r\n+OK\r\n+OK\r\n")]),
            // Databases: GET of any key in db 1; a failed SELECT is undone by its error reply.
            script([c(command("SELECT", "1") + command("GET", "b")), s("+OK\r\n$-1\r\n"),
                    c(command("SELECT", "99")), s("-ERR DB index is out of range\r\n"),
                    c(command("GET", "b") + command("SELECT", "0") + command("GET", "b")), s("+OK\r\n")]),
            // MULTI/EXEC: a denied command spoils the transaction; EXEC becomes DISCARD and EXECABORT comes back.
            script([c(command("MULTI") + command("GET", "a1") + command("GET", "b") + command("EXEC")),
                    s("+OK\r\n+QUEUED\r\n"), s("+OK\r\n"),
                    c(command("MULTI") + command("SET", "a1", "x") + command("EXEC")),
                    s("+OK\r\n+QUEUED\r\n*1\r\n+OK\r\n")]),
            // A SELECT queued in MULTI reaches the connection after EXEC; an EXEC error undoes it.
            script([c(command("MULTI") + command("SELECT", "1") + command("GET", "b") + command("EXEC")),
                    s("+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n+OK\r\n$-1\r\n"),
                    c(command("GET", "b") + command("MULTI") + command("SELECT", "0") + command("EXEC")),
                    s("$-1\r\n+OK\r\n+QUEUED\r\n-EXECABORT Transaction discarded\r\n"),
                    c(command("GET", "b") + command("DISCARD"))]),
            // CLIENT REPLY: OFF and SKIP silence replies and denials alike; ON is answered.
            script([c(command("CLIENT", "REPLY", "OFF") + command("GET", "a1") + command("GET", "b")
                      + command("CLIENT", "REPLY", "ON") + command("GET", "b")),
                    s("+OK\r\n"),
                    c(command("CLIENT", "REPLY", "SKIP") + command("GET", "b") + command("GET", "a1")),
                    s("$-1\r\n"), c(command("CLIENT", "REPLY", "bogus") + command("CLIENT", "KILL", "x"))]),
            // Remote 7: @read in db 0 (STRLEN outside the oracle's model), DEL; not SET, not in db 2.
            script(setup: setup(remote: 1), [
                c(command("GET", "b") + command("STRLEN", "b") + command("SET", "b", "1") + command("DEL", "b", "c")),
                s("$-1\r\n:0\r\n:2\r\n"),
                c(command("SELECT", "2") + command("GET", "b") + command("FOO", "bar")), s("+OK\r\n")]),
            // Remote 9: nothing but AUTH and HELLO.
            script(setup: setup(remote: 2), [
                .client("AUTH user pass\r\nGET a1\r\nHELLO 3\r\nPING\r\n"), s("+OK\r\n%1\r\n+server\r\n+redis\r\n")]),
            script(setup: setup(remote: 3), [c(command("GET", "a1") + command("JSON.GET", "doc")), s("$1\r\nx\r\n[]")]),
            // RESP3: HELLO 3, a map, nulls, an attribute, verbatim and big numbers, a push, doubles.
            script([c(command("HELLO", "3") + command("GET", "a1") + command("GET", "a2") + command("GET", "a3")),
                    s("%1\r\n$6\r\nserver\r\n$5\r\nredis\r\n_\r\n|1\r\n+key\r\n+val\r\n$1\r\nx\r\n"),
                    s("=7\r\ntxt:abc\r\n"),
                    c(command("PING") + command("GET", "a4")), s("(12345678901234567890\r\n,1.5\r\n#t\r\n"),
                    s(">2\r\n$10\r\ninvalidate\r\n*1\r\n$2\r\na1\r\n")]),
            // Subscribing to news channels; other channels denied; messages and confirmations.
            script([c(command("SUBSCRIBE", "news1", "news2") + command("SUBSCRIBE", "other")),
                    s("*3\r\n$9\r\nsubscribe\r\n$5\r\nnews1\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$5\r\nnews2\r\n:2\r\n"),
                    s("*3\r\n$7\r\nmessage\r\n$5\r\nnews1\r\n$2\r\nhi\r\n"),
                    c(command("UNSUBSCRIBE") + command("PSUBSCRIBE", "news*")),
                    s("*3\r\n$11\r\nunsubscribe\r\n$5\r\nnews1\r\n:1\r\n*3\r\n$11\r\nunsubscribe\r\n$5\r\nnews2\r\n:0\r\n")]),
            // MONITOR; in db 3 it is denied.
            script([c(command("MONITOR")), s("+OK\r\n+1700000000.1 [0 1.2.3.4:5] \"GET\" \"a\"\r\n"),
                    c(command("GET", "b")), s("+1700000000.2 [0 1.2.3.4:5] \"PING\"\r\n")]),
            script([c(command("SELECT", "3") + command("MONITOR") + command("PING")), s("+OK\r\n+PONG\r\n")]),
            // A large last argument passes at its header when its decision does not read it.
            script([c(Array("*3\r\n$3\r\nSET\r\n$2\r\na1\r\n$70000\r\n".utf8) + big), c(big)]),
            script([c(Array("*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$70000\r\n".utf8) + big), c(big)]),
            // Cut at awkward points: inside a header, a bulk, its CRLF; replies cut inside a bulk and an array.
            script([c(Array("*2\r\n$3\r".utf8)), c(Array("\nGET\r\n$2\r\na".utf8)), c(Array("1\r".utf8)),
                    c(Array("\n*1\r\n$4\r\nPING\r\n".utf8)),
                    s("$10\r\n01234"), s("56789\r\n+PO"), s("NG\r\n")]),
            script([c(command("MGET", "a1", "a2") + command("GET", "b")), s("*2\r\n$3\r\nabc\r\n"), s("$-1\r\n")]),
            // Small inject buffer, one op per call: denials written in pieces.
            script(setup: setup(ops: 1, inject: 3), [
                c(command("GET", "b") + command("GET", "c") + command("GET", "a1") + command("GET", "d")),
                .flushReplyInject, s("$1\r\nx\r\n"), .flushReplyInject, .flushReplyInject]),
            script(setup: setup(ops: 2, inject: 2), [
                c(command("MULTI") + command("GET", "b") + command("EXEC")), s("+OK\r\n"), s("+OK\r\n")]),
            // Requests without a command; a reply nobody asked for.
            script([.client("*0\r\n*-1\r\n\r\n \r\n"), s("-ERR max number of clients reached\r\n"),
                    c(command("PING")), s("+PONG\r\n")]),
            // Malformed requests.
            script([c(command("PING")), c(Array("*1\r\n$3\r\nGETxx".utf8))]),
            script([c(Array("*2\r\n:1\r\n".utf8))]),
            script([.client("GET \"a1\r\n")]),
            script([.client("GET \"a1\"x\r\n")]),
            script([c(Array("*1\r\n$04\r\nPING\r\n".utf8))]),
            script([c(Array("*1\r\n$4\r\nPING\n".utf8))]),
            script([c(Array("GET a\u{0}1\r\n".utf8))]),
            // Malformed replies.
            script([c(command("PING")), s("+PONG\n")]),
            script([c(command("GET", "a1")), s("$3\r\nabcde\r\n")]),
            script([c(command("GET", "a1")), s("?\r\n")]),
            script([.client("PING\r\n", endStream: true), .bothEnd]),
            script([c(command("GET", "a1")), .closeMidFrame, c(command("GET", "b"))]),
        ]
    }
}
