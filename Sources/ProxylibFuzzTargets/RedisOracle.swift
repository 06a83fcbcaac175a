import ProxylibCore

/// redis: follows each connection write by write with its own reading of RESP (`RedisWire`: multibulk and
/// inline requests split as redis's `sdssplitargs` splits them, RESP2/RESP3 replies framed as they arrive), no
/// parser code, and checks against the contract (/work/redis-contract.md):
///
/// - what reaches the server is whole client requests in order (`*0`, `*-1` and empty inline lines pass), and
///   in place of the EXEC of a transaction that lost a denied command, `*1\r\n$7\r\nDISCARD\r\n`;
/// - fail-closed: no request reaches the server that the policy below denies, judged in the database the
///   contract's model of the connection gives (SELECT optimistic, undone by an error reply to it while no later
///   SELECT was sent; a SELECT queued in MULTI applies to the commands queued after it and, after EXEC, to the
///   connection, undone by an error or null answer to EXEC) — from the command name, the keys of GET, SET,
///   MGET, MSET and DEL, SUBSCRIBE's channels, and for every other command the policy's command-only rules;
/// - a request the policy certainly allows is not dropped;
/// - every dropped request is answered by exactly one `-NOPERM …` naming its command (the EXEC of a spoilt
///   transaction by `-EXECABORT …` in place of DISCARD's reply), none when CLIENT REPLY OFF/SKIP says the
///   server would not have replied: the bytes the library writes towards the client are those denials, in
///   request order;
/// - the client gets the server's replies byte for byte and in order, each denial exactly where its request's
///   reply would have been (a reply answers the oldest request; one that begins while no request is owed passes
///   as it is, and nothing is written into it); a connection fails on a client write only when that write
///   completes a malformed request (or an EXEC needs a DISCARD the 16-byte inject buffer cannot hold), and on a
///   server write only on a malformed reply.
///
/// The reply order is followed until the connection subscribes (a passed (P|S)(UN)SUBSCRIBE), MONITORs, sets
/// CLIENT REPLY inside MULTI, or the server sends a RESP3 push, a malformed reply, and until a request with a
/// large last argument is not passed at its header (the oracle cannot tell a drop from a wait): from then on
/// only what reaches the server, the databases (any the connection has selected), and — but for the last case
/// — the denials written are checked.
///
/// Policy (endpoint 1.1.1.1, port 80, both directions):
///   any remote: {get, keyPrefix a}, {set, keyPrefix a}, {mget, keyPrefix a}, {mset, keyPrefix a}, {get, db 1},
///               {ping}, {select}, {multi}, {exec}, {discard}, {client|reply}, {subscribe, channelPrefix news},
///               {unsubscribe}, {monitor}, {json.get} (a module command, unknown to redis 7.4)
///   deny:       {@string, keyRegex secret}, {@dangerous, db 3}
///   remote 7:   {@read, db 0}, {del}
///   remote 9:   deny everything (AUTH and HELLO still pass, as they always do)
/// Commands outside its model that remote 7 sends in database 0 may pass (the oracle does not know every
/// command's categories); from any other remote or database they may not.
struct RedisOracle: RequestOracle {
    var rules: (allow: [L7KeyValueRule], deny: [L7KeyValueRule], allowSeven: [L7KeyValueRule]) {
        ([["command": "get", "keyPrefix": "a"], ["command": "set", "keyPrefix": "a"], ["command": "mget", "keyPrefix": "a"],
          ["command": "mset", "keyPrefix": "a"], ["command": "get", "db": "1"], ["command": "ping"], ["command": "select"],
          ["command": "multi"], ["command": "exec"], ["command": "discard"], ["command": "client|reply"],
          ["command": "subscribe", "channelPrefix": "news"], ["command": "unsubscribe"], ["command": "monitor"],
          ["command": "json.get"]],
         [["command": "@string", "keyRegex": "secret"], ["command": "@dangerous", "db": "3"]],
         [["command": "@read", "db": "0"], ["command": "del"]])
    }

    /// Parser divergences the oracle lets through while they are being fixed (see HARDENING.md).
    struct Tolerances {
        /// An EXEC answered `*-1` (RESP2's null: a WATCHed key changed, nothing ran) is taken as a success: the
        /// database a SELECT queued in the transaction is kept.
        var execNullArrayKeepsSelect = false
        /// A denial while no reply is owed is written at once, even while a reply that answers no request (an
        /// unsolicited aggregate, a push) is on its way: into its middle when part of it has passed, or (when the
        /// denial does not fit the inject buffer at once) its head before the reply and its rest after it.
        var denialInsideUnsolicitedReply = false
        /// CLIENT REPLY with another word than ON/OFF/SKIP, or with more or fewer arguments (redis answers an
        /// error, silently when replies are off or skipped), read as the parser reads it: OFF/SKIP/ON by its
        /// third argument, any other answered.
        var clientReplyAsParsed = false
    }

    var tolerances = Tolerances()

    func checkForwarded(_ stream: [UInt8], written: [UInt8], remote: UInt32) throws(FuzzViolation) {
        let event = DatapathEvent(source: .client, input: written, endStream: false, toServer: stream, toClient: [],
                                  injectedToClient: [], injectedToServer: [], failed: false)
        try checkConnection(ConnectionRecord(events: [event], forwarded: stream, written: written), remote: remote)
    }

    func checkConnection(_ connection: ConnectionRecord, remote: UInt32) throws(FuzzViolation) {
        var replay = RedisReplay(remote: remote, tolerances: tolerances)
        for event in connection.events {
            try replay.apply(event)
        }
    }

    // MARK: The policy, recomputed

    enum Verdict: Hashable {
        case allowed, denied
        /// The oracle cannot tell (a command outside its model, keys redis itself would not look for).
        case uncertain
        /// The decision needs an argument that has not arrived.
        case unreadable
    }

    static func lower(_ bytes: [UInt8]) -> [UInt8] {
        bytes.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }
    }

    static func word(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// Commands that are not in @read (write commands, connection, transaction and pub/sub commands; from
    /// redis's command documentation), and the ones whose state the oracle models: remote 7's @read rule never
    /// lets them through.
    static let notRead: Set<[UInt8]> = Set([
        "set", "setnx", "setex", "psetex", "mset", "msetnx", "append", "incr", "incrby", "decr", "decrby",
        "incrbyfloat", "getset", "getdel", "getex", "setrange", "del", "unlink", "expire", "pexpire", "expireat",
        "pexpireat", "persist", "rename", "renamenx", "move", "copy", "lpush", "rpush", "lpushx", "rpushx", "lpop",
        "rpop", "linsert", "lset", "lrem", "ltrim", "sadd", "srem", "spop", "smove", "hset", "hsetnx", "hmset",
        "hdel", "hincrby", "hincrbyfloat", "zadd", "zrem", "zincrby", "pfadd", "pfmerge", "setbit", "flushall",
        "flushdb", "swapdb", "restore", "xadd", "xdel", "xtrim", "sort", "migrate", "ping", "echo", "select",
        "multi", "exec", "discard", "watch", "unwatch", "monitor", "subscribe", "unsubscribe", "psubscribe",
        "punsubscribe", "ssubscribe", "sunsubscribe", "publish", "spublish", "reset", "quit", "hello", "auth",
        "info", "client", "config",
    ].map(word))
    /// Commands of redis 7.4 without subcommands whose names the oracle knows: a denial names them as they are.
    static let plainNames: Set<[UInt8]> = notRead.union([word("get"), word("mget")]).subtracting([word("client"), word("config")])

    static let prefix = word("a")
    static let secret = word("secret")
    static let news = word("news")

    static func contains(_ needle: [UInt8], in haystack: [UInt8]) -> Bool {
        ByteText.find(needle, in: haystack, from: 0) != nil
    }

    /// The verdict on a request from `remote` when the connection may be in any of `databases`: allowed or
    /// denied when it is so in all of them.
    static func verdict(_ arguments: [[UInt8]?], databases: Set<Int64>, remote: UInt32) -> Verdict {
        guard let first = arguments.first, let nameBytes = first else { return .uncertain }
        let name = lower(nameBytes)
        if name == word("auth") || name == word("hello") { return .allowed }
        if remote == 9 { return .denied }
        var verdicts = Set<Verdict>()
        for db in databases.isEmpty ? [0] : databases {
            verdicts.insert(verdict(name, arguments, db: db, remote: remote))
        }
        if verdicts.count == 1, let only = verdicts.first { return only }
        return verdicts.contains(.unreadable) ? .unreadable : .uncertain
    }

    private static func verdict(_ name: [UInt8], _ arguments: [[UInt8]?], db: Int64, remote: UInt32) -> Verdict {
        let rest = Array(arguments.dropFirst())
        switch String(decoding: name, as: UTF8.self) {
        case "get", "set", "mget", "mset":
            // Keys: GET/SET the first argument, MGET all, MSET every other one.
            var positions = Array(rest.indices)
            if name == word("get") || name == word("set") { positions = Array(positions.prefix(1)) }
            if name == word("mset") { positions = positions.filter { $0 % 2 == 0 } }
            var keys: [[UInt8]] = []
            for index in positions {
                guard let key = rest[index] else { return .unreadable }
                keys.append(key)
            }
            // {@string, keyRegex secret} denies.
            if keys.contains(where: { contains(secret, in: $0) }) { return .denied }
            let prefixed = !keys.isEmpty && keys.allSatisfy { $0.starts(with: prefix) }
            var allowed = prefixed
            if name == word("get") && db == 1 { allowed = true }
            if (name == word("get") || name == word("mget")) && remote == 7 && db == 0 { allowed = true }
            // Without a key redis finds no key either (an arity error): the deny rule may or may not count the
            // key list as complete.
            if allowed && keys.isEmpty { return .uncertain }
            return allowed ? .allowed : .denied
        case "del":
            return remote == 7 ? .allowed : .denied
        case "monitor":
            // {@dangerous, db 3}.
            return db == 3 ? .denied : .allowed
        case "ping", "select", "multi", "exec", "discard", "unsubscribe", "json.get":
            return .allowed
        case "client":
            guard let sub = rest.first else { return .denied }
            guard let sub else { return .unreadable }
            return lower(sub) == word("reply") ? .allowed : .denied
        case "subscribe":
            guard !rest.isEmpty else { return .denied }
            var allNews = true
            for channel in rest {
                guard let channel else { return .unreadable }
                if !channel.starts(with: news) { allNews = false }
            }
            return allNews ? .allowed : .denied
        default:
            if notRead.contains(name) { return .denied }
            return remote == 7 && db == 0 ? .uncertain : .denied
        }
    }

    static let denialPrefix = word("-NOPERM the network policy does not allow '")
    static let unnamedDenial = word("-NOPERM the network policy does not allow this command\r\n")
    static let execAbort = word("-EXECABORT Transaction discarded: a queued command was denied by policy\r\n")
    static let discardProbe = word("*1\r\n$7\r\nDISCARD\r\n")
    static let subscriptionCommands: Set<[UInt8]> = Set(["subscribe", "psubscribe", "ssubscribe", "unsubscribe",
                                                         "punsubscribe", "sunsubscribe"].map(word))
    static let skipProbe = word("*1\r\n$4\r\nPING\r\n")

    /// The texts a denial of `arguments` may have: the command's name for the commands the oracle knows; for
    /// others the name, the name with its subcommand, or none (a command redis does not know).
    static func denialTexts(_ arguments: [[UInt8]?]) -> [[UInt8]] {
        let name = lower((arguments.first ?? nil) ?? [])
        func named(_ text: [UInt8]) -> [UInt8] { denialPrefix + text + word("'\r\n") }
        if plainNames.contains(name) { return [named(name)] }
        if name == word("json.get") { return [unnamedDenial] }
        var texts = [named(name), unnamedDenial]
        if arguments.count > 1, let sub = arguments[1] { texts.append(named(name + word("|") + lower(sub))) }
        return texts
    }
}

/// The oracle's model of one connection, advanced write by write.
struct RedisReplay {
    let remote: UInt32
    let tolerances: RedisOracle.Tolerances

    init(remote: UInt32, tolerances: RedisOracle.Tolerances) {
        self.remote = remote
        self.tolerances = tolerances
    }

    // Requests.
    private var client: [UInt8] = []
    private var clientAt = 0
    private var forwarded: [UInt8] = []
    private var forwardedAt = 0
    /// A request decided before its last bytes arrived.
    private struct Tail {
        /// Its bytes still to come.
        var remaining: Int
        /// Whether it passed; nil: the oracle cannot tell yet (it may still pass whole once in).
        var passed: Bool?
        var start: Int
        var length: Int
    }
    private var tail: Tail?
    /// Why the parser may fail the connection although the oracle read no malformed request: a CRLF that arrived
    /// after its request was decided is not CRLF (a parser that waited for it refuses it, one that decided
    /// without it passes or drops it unread, as redis skips it unread).
    private var mayFail: String?
    /// A denied request waits for its CRLF: the parser may have dropped it, or drop it when the CRLF is in.
    private var denialMayWait = false
    /// No more requests are read (after malformed input or an undecidable one).
    private var requestsStopped = false
    private var malformedRequest: String?

    // Replies.
    private var server: [UInt8] = []
    private var framer = RedisWire.ReplyFramer()
    private var malformedReply: String?
    private var replyType: UInt8 = 0

    // The connection as the contract shapes it.
    private var databases: Set<Int64> = [0]
    private var seenDatabases: Set<Int64> = [0]
    private var generation = 0
    private struct Transaction {
        var aborted = false
        var selected: Int64?
    }
    private var transaction: Transaction?
    private enum ReplyMode { case on, off, skipNext }
    private var replyMode = ReplyMode.on

    /// Why the reply order is no longer followed (nil: it is).
    private(set) var loose: String?
    /// The denials written are no longer checked.
    private var denialsLost = false

    private struct Selection {
        var previous: Set<Int64>
        var generation: Int
        var exec: Bool
    }

    /// What the client is owed, oldest first.
    private enum Owed {
        case reply(Selection?)
        case denial([[UInt8]])
        /// The DISCARD sent in place of an EXEC: its reply is swallowed and EXECABORT written instead.
        case probe
    }

    private var owed: [Owed] = []
    private enum Current { case reply(Selection?), probe, unsolicited }
    /// The reply the server is sending, as the oracle attributes it.
    private var current: Current?

    /// The client's stream as it must be: server bytes (a reply, `end` nil until it is framed whole), server
    /// bytes the client never sees, and denials (the texts they may have).
    private enum Segment {
        case server(start: Int, end: Int?)
        case skip
        case text([[UInt8]])
    }

    private var expected: [Segment] = []
    private var segment = 0
    private var segmentOffset = 0
    private var candidates: [[UInt8]]?

    /// The denials the library must write, in request order, and what it wrote.
    private var denials: [[[UInt8]]] = []
    private var denialIndex = 0
    private var denialOffset = 0
    private var denialCandidates: [[UInt8]]?
    private var injected: [UInt8] = []
    private var injectedAt = 0

    private func fail(_ text: String) -> FuzzViolation {
        FuzzViolation("redis (remote \(remote)): \(text)")
    }

    mutating func apply(_ event: DatapathEvent) throws(FuzzViolation) {
        switch event.source {
        case .client:
            try clientWrote(event)
            if event.failed { return }
        case .server:
            try serverWrote(event)
            if event.failed { return }
        case .flush:
            break
        }
        if loose == nil { try readToClient(event.toClient) }
        injected += event.injectedToClient
        try readInjected()
    }

    // MARK: Requests

    private mutating func clientWrote(_ event: DatapathEvent) throws(FuzzViolation) {
        client += event.input
        if event.failed {
            // The datapath took back what this write sent on; the connection is closed.
            if failureReason() != nil { return }
            throw fail("the connection failed on a client write that completes no malformed request: \(ByteText.show(event.input[...]))")
        }
        forwarded += event.toServer
        try readRequests()
        if forwardedAt < forwarded.count {
            throw fail("bytes reached the server that are not the client's next whole request: \(ByteText.show(forwarded[forwardedAt...]))")
        }
    }

    private mutating func expectForwarded(_ bytes: ArraySlice<UInt8>, _ what: String) throws(FuzzViolation) {
        guard forwarded.count - forwardedAt >= bytes.count,
              forwarded[forwardedAt..<(forwardedAt + bytes.count)].elementsEqual(bytes) else {
            throw fail("\(what) did not reach the server: \(ByteText.show(bytes))")
        }
        forwardedAt += bytes.count
    }

    private func forwardedStarts(with bytes: ArraySlice<UInt8>) -> Bool {
        forwarded.count - forwardedAt >= bytes.count
            && forwarded[forwardedAt..<(forwardedAt + bytes.count)].elementsEqual(bytes)
    }

    private mutating func readRequests() throws(FuzzViolation) {
        if var pending = tail {
            let n = min(pending.remaining, client.count - clientAt)
            let end = pending.start + pending.length
            checkLateCRLF(end: end)
            switch pending.passed {
            case true?:
                try expectForwarded(client[clientAt..<(clientAt + n)], "the rest of a request that passed")
            case false?:
                break
            case nil:
                // It may pass whole once it is in (a parser that waited for it).
                if n == pending.remaining && forwardedStarts(with: client[pending.start..<end]) {
                    forwardedAt += pending.length
                }
            }
            clientAt += n
            pending.remaining -= n
            tail = pending.remaining > 0 ? pending : nil
            if tail != nil { return }
            denialMayWait = false
        }
        while !requestsStopped {
            switch RedisWire.readRequest(client, at: clientAt) {
            case .needMore:
                return
            case .malformed(let why):
                malformedRequest = why
                requestsStopped = true
                return
            case .nothing(let length):
                try expectForwarded(client[clientAt..<(clientAt + length)], "a request without a command")
                clientAt += length
            case .command(let command):
                switch command.tail {
                case .whole:
                    try decide(command, available: command.length)
                case .crlfPending:
                    // The parser may decide now (when it is called with the data in) or wait for the CRLF (when
                    // an earlier MORE asked for it): a pass shows; a drop may be either.
                    let available = client.count - clientAt
                    checkLateCRLF(end: clientAt + command.length)
                    if forwardedStarts(with: client[clientAt..<(clientAt + available)]) || isAbortedExec(command)
                        && forwardedStarts(with: RedisOracle.discardProbe[...]) {
                        try decide(command, available: available)
                        return
                    }
                    switch verdictOf(command) {
                    case .allowed:
                        return
                    case .denied:
                        // Dropped now or when the CRLF is in: its denial has the same place either way, unless a
                        // reply that answers no request comes in between.
                        try decide(command, available: available)
                        denialMayWait = true
                        return
                    case .uncertain, .unreadable:
                        goLoose("a request whose CRLF is still to come, neither certainly allowed nor denied, did not pass")
                        denialsLost = true
                        let start = clientAt
                        clientAt += available
                        tail = Tail(remaining: command.length - available, passed: nil, start: start, length: command.length)
                        return
                    }
                case .dataPending(let length):
                    guard command.arguments.count > 2, length >= RedisWire.streamedArgument else { return }
                    // Decided at its header when the parser is called then and the decision does not read the
                    // last argument.
                    if forwarded.count > forwardedAt {
                        try decide(command, available: client.count - clientAt)
                    } else if verdictOf(command) != .allowed {
                        // Dropped, or waiting: the oracle cannot tell.
                        goLoose("a request with a large last argument did not pass at its header")
                        denialsLost = true
                    }
                    return
                }
            }
        }
    }

    /// The CRLF ending at `end`, as far as it is in: when it is not CRLF, a parser that waited for it fails.
    private mutating func checkLateCRLF(end: Int) {
        var index = max(end - 2, 0)
        while index < min(end, client.count) {
            if client[index] != (index == end - 2 ? RedisWire.cr : RedisWire.lf) {
                mayFail = "a request's CRLF arrived after its decision and is not CRLF"
            }
            index += 1
        }
    }

    private func verdictOf(_ command: RedisWire.Command) -> RedisOracle.Verdict {
        let name = RedisOracle.lower((command.arguments.first ?? nil) ?? [])
        return verdict(name, command.arguments, inTransaction: transaction != nil)
    }

    /// The policy's verdict, and the parser's own refusal of (un)subscribing inside MULTI.
    private func verdict(_ name: [UInt8], _ arguments: [[UInt8]?], inTransaction: Bool) -> RedisOracle.Verdict {
        if inTransaction && RedisOracle.subscriptionCommands.contains(name) { return .denied }
        return RedisOracle.verdict(arguments, databases: decisionDatabases(name, arguments), remote: remote)
    }

    /// The databases a request is decided in.
    private func decisionDatabases(_ name: [UInt8], _ arguments: [[UInt8]?]) -> Set<Int64> {
        if name == RedisOracle.word("select") {
            let argument = arguments.count > 1 ? arguments[1] : nil
            return [argument.flatMap { RedisWire.strictInteger($0) } ?? -1]
        }
        if let transaction, let selected = transaction.selected { return [selected] }
        return databases
    }

    private func isAbortedExec(_ command: RedisWire.Command) -> Bool {
        transaction?.aborted == true && RedisOracle.lower((command.arguments.first ?? nil) ?? []) == RedisOracle.word("exec")
            && verdictOf(command) != .denied
    }

    private mutating func decide(_ command: RedisWire.Command, available: Int) throws(FuzzViolation) {
        let arguments = command.arguments
        let name = RedisOracle.lower((arguments.first ?? nil) ?? [])
        let bytes = client[clientAt..<(clientAt + available)]
        let verdict = self.verdict(name, arguments, inTransaction: transaction != nil)
        defer { clientAt += available }
        // The EXEC of a transaction that lost a command: DISCARD in its place.
        if name == RedisOracle.word("exec"), let transaction, transaction.aborted, verdict != .denied {
            if forwardedStarts(with: RedisOracle.discardProbe[...]) {
                forwardedAt += RedisOracle.discardProbe.count
                self.transaction = nil
                tail = available < command.length
                    ? Tail(remaining: command.length - available, passed: false, start: clientAt, length: command.length) : nil
                if loose == nil { owed.append(.probe) }
                denials.append([RedisOracle.execAbort])
                return
            }
            throw fail("the EXEC of a transaction that lost a denied command was not replaced by DISCARD: \(ByteText.show(bytes)), the server got \(ByteText.show(forwarded[forwardedAt...]))")
        }
        let passed = forwardedStarts(with: bytes)
        tail = available < command.length
            ? Tail(remaining: command.length - available, passed: passed, start: clientAt, length: command.length) : nil
        if passed {
            switch verdict {
            case .denied:
                throw fail("a request the policy denies reached the server (databases \(decisionDatabases(name, arguments).sorted())): \(ByteText.show(bytes))")
            case .unreadable:
                throw fail("a request passed before an argument its decision needs arrived: \(ByteText.show(bytes))")
            case .allowed, .uncertain:
                break
            }
            forwardedAt += available
            requestPassed(name, command)
        } else {
            if verdict == .allowed {
                throw fail("a request the policy allows did not reach the server (databases \(decisionDatabases(name, arguments).sorted())): \(ByteText.show(bytes))")
            }
            if replyMode == .skipNext && transaction == nil {
                // The server owes a skipped reply: a PING takes the denied request's place so the skip falls on it.
                guard forwardedStarts(with: RedisOracle.skipProbe[...]) else {
                    throw fail("a request denied under CLIENT REPLY SKIP was not replaced by PING: \(ByteText.show(bytes)), the server got \(ByteText.show(forwarded[forwardedAt...]))")
                }
                forwardedAt += RedisOracle.skipProbe.count
            }
            requestDropped(name, command)
        }
    }

    private func argument(_ command: RedisWire.Command, _ index: Int) -> [UInt8]? {
        index < command.arguments.count ? command.arguments[index] : nil
    }

    private mutating func requestPassed(_ name: [UInt8], _ command: RedisWire.Command) {
        let w = RedisOracle.word
        var selection: Selection?
        let isClientReply = name == w("client") && argument(command, 1).map(RedisOracle.lower) == w("reply")
        let subscribes = ["subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe"].map(w)
        if subscribes.contains(name) { goLoose("the connection (un)subscribes") }
        if name == w("monitor") { goLoose("MONITOR") }
        if var open = transaction {
            switch name {
            case w("exec"):
                transaction = nil
                if let selected = open.selected { selection = select(selected, exec: true) }
            case w("discard"):
                transaction = nil
            case w("select"):
                if let selected = argument(command, 1).flatMap({ RedisWire.strictInteger($0) }), selected >= 0 {
                    open.selected = selected
                    transaction = open
                }
            case w("reset"):
                reset()
            default:
                if isClientReply { goLoose("CLIENT REPLY inside MULTI") }
            }
            owe(selection)
            return
        }
        switch name {
        case w("multi"):
            transaction = Transaction()
        case w("select"):
            if let selected = argument(command, 1).flatMap({ RedisWire.strictInteger($0) }), selected >= 0 {
                selection = select(selected, exec: false)
            }
        case w("reset"):
            reset()
        default:
            if isClientReply {
                clientReply(command)
                return
            }
        }
        owe(selection)
    }

    /// CLIENT REPLY ON|OFF|SKIP as redis runs it (exactly three arguments; anything else an error, which the
    /// client does not get while replies are off or skipped).
    private mutating func clientReply(_ command: RedisWire.Command) {
        let w = RedisOracle.word
        let mode = argument(command, 2).map(RedisOracle.lower)
        if command.arguments.count == 3 || tolerances.clientReplyAsParsed {
            switch mode {
            case w("on"):
                replyMode = .on
                if loose == nil { owed.append(.reply(nil)) }
                return
            case w("off"):
                replyMode = .off
                return
            case w("skip"):
                if replyMode == .on { replyMode = .skipNext }
                return
            default:
                if tolerances.clientReplyAsParsed {
                    if loose == nil { owed.append(.reply(nil)) }
                    return
                }
            }
        }
        owe(nil)
    }

    /// A passed request's reply, unless replies are off or this one is skipped.
    private mutating func owe(_ selection: Selection?) {
        switch replyMode {
        case .off:
            return
        case .skipNext:
            replyMode = .on
            return
        case .on:
            if loose == nil {
                owed.append(.reply(selection))
                drain()
            }
        }
    }

    private mutating func requestDropped(_ name: [UInt8], _ command: RedisWire.Command) {
        if var open = transaction, name != RedisOracle.word("discard") {
            open.aborted = true
            transaction = open
        }
        switch replyMode {
        case .off:
            return
        case .skipNext:
            replyMode = .on
            return
        case .on:
            break
        }
        let texts = RedisOracle.denialTexts(command.arguments)
        denials.append(texts)
        guard loose == nil else { return }
        if case .unsolicited? = current, owed.isEmpty, let last = expected.indices.last,
           case .server(let start, nil) = expected[last] {
            if tolerances.denialInsideUnsolicitedReply {
                // Where the parser puts it depends on the inject buffer's size, which the oracle does not know.
                goLoose("a denial while a reply that answers no request is on its way (tolerated)")
                return
            }
            // No reply is owed and none of the reply that answers nobody has passed: the denial may go before it
            // or after it (the parser holds it back once that reply has begun to arrive), both clean places.
            // Inside it is a violation.
            if framer.at <= start {
                goLoose("a denial beside a reply that answers no request and has not begun to pass")
                return
            }
        }
        owed.append(.denial(texts))
        drain()
    }

    private mutating func select(_ selected: Int64, exec: Bool) -> Selection {
        generation += 1
        let selection = Selection(previous: databases, generation: generation, exec: exec)
        if loose == nil { databases = [selected] } else { databases.insert(selected) }
        seenDatabases.insert(selected)
        return selection
    }

    private mutating func reset() {
        generation += 1
        if loose == nil { databases = [0] } else { databases.insert(0) }
        transaction = nil
        replyMode = .on
    }

    private mutating func goLoose(_ why: String) {
        guard loose == nil else { return }
        loose = why
        databases.formUnion(seenDatabases)
        owed = []
        current = nil
    }

    /// Why a client write may fail: it completes a malformed request, or an EXEC whose DISCARD the inject
    /// buffer may not hold (nil: no reason). What the write sent on was taken back, so what passed is guessed
    /// from the verdicts.
    private func failureReason() -> String? {
        if let malformedRequest { return malformedRequest }
        if let mayFail { return mayFail }
        if let malformedReply { return malformedReply }
        if requestsStopped { return "an undecidable request" }
        var at = clientAt
        if let tail {
            let end = tail.start + tail.length
            var index = max(clientAt, end - 2)
            while index < min(end, client.count) {
                if client[index] != (index == end - 2 ? RedisWire.cr : RedisWire.lf) {
                    return "a request's CRLF arrived after its decision and is not CRLF"
                }
                index += 1
            }
            at += tail.remaining
        }
        var transaction = self.transaction
        while at < client.count {
            switch RedisWire.readRequest(client, at: at) {
            case .needMore:
                return nil
            case .malformed(let why):
                return why
            case .nothing(let length):
                at += length
            case .command(let command):
                let name = RedisOracle.lower((command.arguments.first ?? nil) ?? [])
                let verdict = self.verdict(name, command.arguments, inTransaction: transaction != nil)
                if var open = transaction {
                    if name == RedisOracle.word("exec") {
                        if open.aborted || verdict != .allowed { return "an EXEC to be replaced by DISCARD" }
                        transaction = nil
                    } else if name == RedisOracle.word("discard") {
                        transaction = nil
                    } else if verdict != .allowed {
                        open.aborted = true
                        transaction = open
                    }
                } else if name == RedisOracle.word("multi") && verdict != .denied {
                    transaction = Transaction()
                }
                if command.tail != .whole { return nil }
                at += command.length
            }
        }
        return nil
    }

    // MARK: Replies

    private mutating func serverWrote(_ event: DatapathEvent) throws(FuzzViolation) {
        server += event.input
        let wasFollowing = loose == nil
        var malformedNow = false
        for step in framer.advance(server) {
            switch step {
            case .began(let at, let type):
                replyType = type
                if type == UInt8(ascii: ">") { goLoose("a RESP3 push") }
                if denialMayWait { goLoose("a reply began while a denied request waited for its CRLF") }
                if loose == nil { beginReply(at) }
            case .completed(let end, let null, let decorated):
                if loose == nil { completeReply(end, null: null, decorated: decorated) }
            case .malformed(_, let why):
                malformedReply = why
                // (A push's head is read before it is framed: a malformed push may wait for more bytes.)
                malformedNow = loose == nil
                goLoose("a malformed reply")
            }
        }
        if event.failed {
            if wasFollowing && malformedReply == nil {
                throw fail("the connection failed on a server write and the replies so far are well-formed: \(ByteText.show(event.input[...]))")
            }
            return
        }
        if malformedNow {
            throw fail("a malformed reply (\(malformedReply ?? "")) did not fail the connection: \(ByteText.show(event.input[...]))")
        }
    }

    /// Denials due now (no reply being sent, the oldest owed) go to the client's stream.
    private mutating func drain() {
        guard current == nil else { return }
        while case .denial(let texts)? = owed.first {
            expected.append(.text(texts))
            owed.removeFirst()
        }
    }

    private mutating func beginReply(_ at: Int) {
        drain()
        switch owed.first {
        case .reply(let selection)?:
            current = .reply(selection)
            expected.append(.server(start: at, end: nil))
        case .probe?:
            current = .probe
            expected.append(.skip)
        case .denial?, nil:
            current = .unsolicited
            expected.append(.server(start: at, end: nil))
        }
    }

    private mutating func completeReply(_ end: Int, null: Bool, decorated: Bool) {
        if let last = expected.indices.last, case .server(let start, nil) = expected[last] {
            expected[last] = .server(start: start, end: end)
        }
        switch current {
        case .reply(let selection)?:
            owed = Array(owed.dropFirst())
            if let selection { replied(selection, null: null, decorated: decorated) }
        case .probe?:
            owed = Array(owed.dropFirst())
            expected.append(.text([RedisOracle.execAbort]))
        case .unsolicited?, nil:
            break
        }
        current = nil
        drain()
    }

    /// The reply to a SELECT (or an EXEC running one): an error undoes it, and for EXEC a null too, while no
    /// later SELECT was sent; an answer that says neither clearly leaves both databases possible.
    private mutating func replied(_ selection: Selection, null: Bool, decorated: Bool) {
        guard selection.generation == generation else { return }
        let error = replyType == UInt8(ascii: "-") || replyType == UInt8(ascii: "!")
        if decorated {
            databases.formUnion(selection.previous)
        } else if selection.exec {
            if error || null {
                if null && replyType == UInt8(ascii: "*") && tolerances.execNullArrayKeepsSelect { return }
                databases = selection.previous
            } else if replyType != UInt8(ascii: "*") {
                databases.formUnion(selection.previous)
            }
        } else if error {
            databases = selection.previous
        }
    }

    // MARK: What the client gets

    private mutating func readToClient(_ bytes: [UInt8]) throws(FuzzViolation) {
        var i = 0
        while i < bytes.count {
            guard segment < expected.count else {
                throw fail("the client got bytes that no reply or denial due accounts for: \(ByteText.show(bytes[i...]))")
            }
            switch expected[segment] {
            case .skip:
                segment += 1
                segmentOffset = 0
            case .server(let start, let end):
                let from = start + segmentOffset
                if let end, from >= end {
                    segment += 1
                    segmentOffset = 0
                    continue
                }
                let limit = min(end ?? Int.max, server.count)
                let n = min(limit - from, bytes.count - i)
                guard n > 0, server[from..<(from + n)].elementsEqual(bytes[i..<(i + n)]) else {
                    let owedText = describeOwed()
                    throw fail("the client got bytes that are not the next bytes of the server's reply (\(owedText)): \(ByteText.show(bytes[i...])), the server's next: \(ByteText.show(server[min(from, server.count)...]))")
                }
                segmentOffset += n
                i += n
            case .text(let texts):
                let live = candidates ?? texts
                let (survivors, n, done) = Self.match(live, offset: segmentOffset, bytes[i...])
                guard !survivors.isEmpty else {
                    throw fail("the client got \(ByteText.show(bytes[i...])) where the denial \(ByteText.show(texts[0][...])) was due (\(describeOwed()))")
                }
                i += n
                segmentOffset += n
                if done {
                    segment += 1
                    segmentOffset = 0
                    candidates = nil
                } else {
                    candidates = survivors
                }
            }
        }
    }

    private func describeOwed() -> String {
        var parts: [String] = []
        for item in owed {
            switch item {
            case .reply: parts.append("reply")
            case .denial: parts.append("denial")
            case .probe: parts.append("DISCARD's reply")
            }
        }
        return "owed: [\(parts.joined(separator: ", "))]"
    }

    /// Matches `bytes` against the texts still possible at `offset`: the survivors, how many bytes they
    /// account for, and whether one ended there.
    private static func match(_ texts: [[UInt8]], offset: Int, _ bytes: ArraySlice<UInt8>) -> ([[UInt8]], Int, Bool) {
        var survivors: [[UInt8]] = []
        var consumed = Int.max
        for text in texts where text.count > offset {
            let m = min(text.count - offset, bytes.count)
            if text[offset..<(offset + m)].elementsEqual(bytes.prefix(m)) {
                survivors.append(text)
                consumed = min(consumed, m)
            }
        }
        guard !survivors.isEmpty else { return ([], 0, false) }
        let done = survivors.contains { $0.count == offset + consumed }
        return (survivors, consumed, done)
    }

    /// The bytes the library wrote towards the client are the denials due, in request order.
    private mutating func readInjected() throws(FuzzViolation) {
        guard !denialsLost else { return }
        while injectedAt < injected.count {
            guard denialIndex < denials.count else {
                throw fail("the library wrote bytes towards the client that answer no dropped request: \(ByteText.show(injected[injectedAt...]))")
            }
            let live = denialCandidates ?? denials[denialIndex]
            let (survivors, n, done) = Self.match(live, offset: denialOffset, injected[injectedAt...])
            guard !survivors.isEmpty else {
                throw fail("the library wrote \(ByteText.show(injected[injectedAt...])) where the denial \(ByteText.show(denials[denialIndex][0][...])) was due")
            }
            injectedAt += n
            denialOffset += n
            if done {
                denialIndex += 1
                denialOffset = 0
                denialCandidates = nil
            } else {
                denialCandidates = survivors
            }
        }
    }
}
