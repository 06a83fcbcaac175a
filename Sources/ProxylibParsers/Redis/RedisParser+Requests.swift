import ProxylibCore

extension RedisParser {
    /// The DISCARD sent to the server in place of the EXEC of a transaction that lost a denied command.
    static let discardProbe: StaticString = "*1\r\n$7\r\nDISCARD\r\n"
    /// Sent in place of a denied command whose reply CLIENT REPLY SKIP told the server to skip.
    static let skipProbe: StaticString = "*1\r\n$4\r\nPING\r\n"

    func onRequest(_ input: InputView) -> ParserOp {
        if let drop = pendingDrop {
            pendingDrop = nil
            return .drop(drop)
        }
        guard !input.isEmpty else { return .nop }
        defer { facts.arguments.detach() }
        switch reader.read(input, into: facts.arguments) {
        case .needMore(let n):
            return .more(n)
        case .malformed:
            Diagnostics.debug("redis: connection \(connection.id): malformed request")
            return .error(.invalidFrameType)
        case .nothing(let length):
            return .pass(length)
        case .command(let length, let lastArgumentBuffered):
            return decide(length: length, lastArgumentBuffered: lastArgumentBuffered, input: input)
        }
    }

    private func decide(length: Int, lastArgumentBuffered: Bool, input: InputView) -> ParserOp {
        let arguments = facts.arguments
        let missing = max(length - input.count, 1)
        if !lastArgumentBuffered && (arguments.count <= 2 || (arguments.length(of: arguments.count - 1) ?? 0) < RedisRequestReader.streamedArgumentLength) {
            return .more(missing)
        }
        guard gatherFacts(lastArgumentBuffered: lastArgumentBuffered) else { return .more(missing) }

        let role = facts.role
        // Authentication is never refused here (clients must be able to connect), and never logged with its
        // arguments. (Un)subscribing inside MULTI is refused whatever the policy: its confirmations would come
        // inside EXEC's reply, where the subscriptions they start could not be followed.
        let allowed: Bool
        if role == .auth || role == .hello {
            allowed = true
        } else if transaction.isOpen && role.subscriptionKind != nil {
            allowed = false
        } else {
            allowed = connection.matches(RedisRequest(facts: facts))
        }
        if connection.logsAccess {
            connection.log(allowed ? .request : .denied, .generic(proto: RedisParser.name, fields: requestLogFields()))
        }
        return allowed ? pass(length: length) : deny(length: length)
    }

    /// Fills `facts` for the policy: command, categories, keys, channels, databases. False when an argument
    /// the decision reads has not arrived.
    private func gatherFacts(lastArgumentBuffered: Bool) -> Bool {
        let arguments = facts.arguments
        let last = arguments.count - 1
        facts.command = RedisCommandLookup.resolve(arguments)
        let role = facts.command.map(RedisCommandRole.of) ?? .plain
        facts.role = role
        facts.categories = facts.command?.spec.categories ?? []
        facts.channelsArePatterns = role == .psubscribe
        if let command = facts.command {
            switch RedisKeyFinder.findKeys(command, role: role, in: arguments, into: &facts.keys) {
            case .complete: facts.keysComplete = true
            case .incomplete: facts.keysComplete = false
            case .needMore: return false
            }
        } else {
            facts.keys.removeAll()
            facts.keysComplete = false
        }
        RedisKeyFinder.findChannels(role: role, in: arguments, into: &facts.channels)
        if !lastArgumentBuffered && (facts.keys.contains(Int32(last)) || facts.channels.contains(Int32(last))) {
            return false
        }
        facts.db = transaction.isOpen ? (transaction.selectedDB ?? db) : db
        facts.otherDB = nil
        facts.allDatabases = false
        switch role {
        case .select:
            facts.db = arguments.integer(at: 1) ?? -1
        case .move:
            facts.otherDB = arguments.integer(at: 2) ?? -1
        case .copy:
            var index = 3
            while index < arguments.count - 1 {
                if arguments.argument(index, equalsIgnoringCase: "db") {
                    facts.otherDB = arguments.integer(at: index + 1) ?? -1
                    break
                }
                index += 1
            }
        case .swapdb:
            facts.db = arguments.integer(at: 1) ?? -1
            facts.otherDB = arguments.integer(at: 2) ?? -1
        case .flushall:
            facts.allDatabases = true
        default:
            break
        }
        return true
    }

    // MARK: Allowed

    private func pass(length: Int) -> ParserOp {
        let role = facts.role
        var intent = RedisIntent(.allowed, command: facts.command, role: role)
        if facts.command == nil && connection.logsAccess {
            intent.unknownName = facts.arguments.withArgument(0) { RedisLoggedName($0) } ?? RedisLoggedName()
        }
        if transaction.isOpen {
            switch role {
            case .exec:
                let ended = transaction
                transaction = RedisTransaction()
                if ended.isAborted { return abortExec(length: length) }
                if let selected = ended.selectedDB {
                    intent.selects = select(selected)
                }
            case .discard:
                transaction = RedisTransaction()
            case .select:
                // Queued: it takes effect when EXEC runs the transaction.
                if let selected = facts.arguments.integer(at: 1), selected >= 0 { transaction.selectedDB = selected }
            case .reset:
                resetRequestState()
            default:
                break
            }
            return queue(intent, length: length)
        }
        switch role {
        case .multi:
            transaction = RedisTransaction(isOpen: true)
        case .select:
            if let selected = facts.arguments.integer(at: 1), selected >= 0 { intent.selects = select(selected) }
        case .reset:
            resetRequestState()
        case .clientReply where facts.arguments.count == 3:
            // (Any other count is an arity error: redis changes nothing and answers it.)
            if facts.arguments.argument(2, equalsIgnoringCase: "off") {
                replyMode = .off
                return .pass(length)
            }
            if facts.arguments.argument(2, equalsIgnoringCase: "skip") {
                if replyMode == .on { replyMode = .skipNext }
                return .pass(length)
            }
            if facts.arguments.argument(2, equalsIgnoringCase: "on") {
                // ON is answered even when replies were off.
                replyMode = .on
                replies.append(intent)
                return .pass(length)
            }
            // Any other word is an error reply, sent only if replies are on.
        case .subscribe, .psubscribe, .ssubscribe, .unsubscribe, .punsubscribe, .sunsubscribe:
            let channels = facts.arguments.count - 1
            if channels > 0 {
                intent.repliesDue = Int32(clamping: channels)
            } else {
                intent.untilNoneLeft = true
            }
        default:
            break
        }
        return queue(intent, length: length)
    }

    /// Queues the reply the server owes, unless it will send none.
    private func queue(_ intent: RedisIntent, length: Int) -> ParserOp {
        switch replyMode {
        case .off:
            return .pass(length)
        case .skipNext:
            replyMode = .on
            return .pass(length)
        case .on:
            if !monitoring { replies.append(intent) }
            return .pass(length)
        }
    }

    private func select(_ selected: Int64) -> RedisSelection {
        selectGeneration &+= 1
        let selection = RedisSelection(selected: selected, previous: db, generation: selectGeneration)
        db = selected
        return selection
    }

    private func resetRequestState() {
        db = 0
        selectGeneration &+= 1
        transaction = RedisTransaction()
        replyMode = .on
    }

    /// EXEC of a transaction that lost a command: DISCARD goes to the server in its place (so the server
    /// leaves MULTI without running the rest), and DISCARD's reply is swapped for EXECABORT.
    private func abortExec(length: Int) -> ParserOp {
        let probe = Self.discardProbe.rawBuffer
        if replyMode != .on {
            // The server will not answer the DISCARD, and the client reads no EXECABORT either.
            guard connection.injectSpace(reply: false) >= probe.count else { return .error(.invalidFrameLength) }
            if replyMode == .skipNext { replyMode = .on }
            connection.inject(reply: false, probe)
            pendingDrop = length
            return .inject(probe.count)
        }
        let intent = RedisIntent(.probe, command: facts.command, role: .exec, denial: .execAbort)
        guard replies.substitute(intent, probe: probe, connection: connection) else {
            Diagnostics.debug("redis: connection \(connection.id): no room to replace an aborted EXEC")
            return .error(.invalidFrameLength)
        }
        pendingDrop = length
        return .inject(probe.count)
    }

    // MARK: Denied

    private func deny(length: Int) -> ParserOp {
        if transaction.isOpen && facts.role != .discard {
            // Redis fails the transaction of a command its ACL refuses.
            transaction.isAborted = true
        }
        switch replyMode {
        case .off:
            return .drop(length)
        case .skipNext:
            replyMode = .on
            // The server owes one skipped reply: a PING takes the denied command's place, so the skip falls on
            // it and not on the next command that reaches the server.
            let probe = Self.skipProbe.rawBuffer
            guard connection.injectSpace(reply: false) >= probe.count else { return .error(.invalidFrameLength) }
            connection.inject(reply: false, probe)
            pendingDrop = length
            return .inject(probe.count)
        case .on:
            break
        }
        let intent = RedisIntent(.denied, command: facts.command, role: facts.role)
        if case .none = currentReply {} else {
            // A reply answering nobody (a message, a push, a monitor line) is part way through: the denial
            // waits for its end rather than cutting into it.
            replies.append(intent)
            return .drop(length)
        }
        let nothing = UnsafeRawBufferPointer(start: nil, count: 0)
        _ = replies.deny(intent, denial: RedisDenial.noPermission.reply(for: facts.command), probe: nothing,
                         connection: connection)
        return .drop(length)
    }

    private func requestLogFields() -> L7Fields {
        let command = logText.command(facts)
        let keys = facts.role == .auth || facts.role == .hello ? LogText("") : logText.keys(facts)
        let keysField = facts.keys.isEmpty && !facts.channels.isEmpty ? "channels" : "keys"
        return L7Fields(("command", command), (keysField, keys), ("db", logText.database(facts.db)))
    }
}
