import ProxylibCore

extension RedisParser {
    func onReply(_ input: InputView) -> ParserOp {
        if case .none = currentReply {
            if monitoring {
                // Requests sent before MONITOR took effect are answered among the monitor lines.
                while let front = replies.first, front.verdict == .allowed { replies.removeFirst() }
            }
            if let op = replies.injectDueDenials(into: connection, denial: { $0.denial.reply(for: $0.command) }) {
                return op
            }
            guard !input.isEmpty else { return .nop }
            if let op = beginReply(input) { return op }
        }
        switch framer.advance(input, from: 0) {
        case .needMore(let n):
            return .more(n)
        case .malformed:
            Diagnostics.debug("redis: connection \(connection.id): malformed reply")
            return .error(.invalidFrameType)
        case .advanced(let end, let complete):
            let target = currentReply
            if complete {
                currentReply = .none
                finishReply(target, input: input)
            }
            if case .probe = target { return .drop(end) }
            return .pass(end)
        }
    }

    /// Decides whom the reply at the front of `input` answers. Returns an op when the reply is handled whole
    /// here (a subscription confirmation) or more bytes are needed to tell.
    private func beginReply(_ input: InputView) -> ParserOp? {
        guard let type = input[0] else { return .nop }
        replyIsConfirmation = false
        replyIsNullArray = false
        replyType = type
        if monitoring {
            currentReply = .unsolicited
            return nil
        }
        let isPush = type == UInt8(ascii: ">")
        let mayBePubSub = isPush || (type == UInt8(ascii: "*") && !resp3 && (subscriptions.isSubscribed || frontIsSubscription))
        if mayBePubSub {
            switch RESPPubSubHead.read(input, scratch: &headScratch) {
            case .needMore(let n):
                return .more(n)
            case .malformed:
                return .error(.invalidFrameType)
            case .confirmation(let kind, let unsubscribe, let count):
                subscriptions.confirm(kind, unsubscribe: unsubscribe, count: count)
                currentReply = confirms(kind, unsubscribe: unsubscribe) ? .intent : .unsolicited
                return nil
            case .kind(let kind):
                switch kind {
                case .message:
                    currentReply = .unsolicited
                    return nil
                case .confirmation:
                    // A confirmation of an unexpected shape: passed, answering nobody.
                    currentReply = .unsolicited
                    return nil
                case .pong, .other:
                    if isPush {
                        currentReply = .unsolicited
                        return nil
                    }
                }
            }
        }
        guard let front = replies.first else {
            // A reply with no request due (e.g. redis's error before closing a connection it refuses).
            currentReply = .unsolicited
            return nil
        }
        currentReply = front.verdict == .probe ? .probe : .intent
        if front.role == .exec && type == UInt8(ascii: "*") {
            // RESP2's null array: a WATCHed key changed and nothing ran.
            switch RESPHeader.read(input, at: 0, scratch: &headScratch) {
            case .needMore(let n):
                currentReply = .none
                return .more(n)
            case .malformed:
                return .error(.invalidFrameType)
            case .header(_, let count, _):
                replyIsNullArray = count == -1
            }
        }
        return nil
    }

    private var frontIsSubscription: Bool {
        guard let front = replies.first else { return false }
        return front.role.subscriptionKind != nil && front.verdict == .allowed
    }

    /// Whether the oldest request is the (un)subscription this confirmation answers; counts it down.
    private func confirms(_ kind: RedisSubscriptionKind, unsubscribe: Bool) -> Bool {
        guard let front = replies.first, front.verdict == .allowed, front.role.subscriptionKind == kind,
              front.role.isUnsubscribe == unsubscribe else { return false }
        replyIsConfirmation = true
        return true
    }

    private func finishReply(_ target: RedisReplyTarget, input: InputView) {
        switch target {
        case .none, .unsolicited:
            return
        case .probe:
            replies.probeAnswered()
            return
        case .intent:
            break
        }
        guard var front = replies.first else { return }
        if replyIsConfirmation {
            // One confirmation of several.
            let done: Bool
            if front.untilNoneLeft {
                done = subscriptions.count(of: front.role.subscriptionKind ?? .channel) == 0
            } else {
                front.repliesDue -= 1
                done = front.repliesDue <= 0
            }
            if !done {
                replies.updateFirst { $0 = front }
                return
            }
        }
        replies.removeFirst()
        applyOutcome(of: front, replyType: replyType)
        if connection.logsAccess {
            let name = front.command.map { command in command.withName { LogText(decoding: $0) } } ?? front.unknownName.logText
            connection.log(.response, .generic(proto: RedisParser.name, fields: L7Fields(("command", name))))
        }
    }

    /// What a reply tells about the connection's state: a SELECT or EXEC that failed, HELLO's protocol,
    /// MONITOR's start, RESET.
    private func applyOutcome(of intent: RedisIntent, replyType: UInt8) {
        let isError = replyType == UInt8(ascii: "-") || replyType == UInt8(ascii: "!")
        if let selection = intent.selects {
            // EXEC answers null when a WATCHed key changed: nothing ran, the SELECT with it.
            let failed = isError || (intent.role == .exec && (replyType != UInt8(ascii: "*") || replyIsNullArray))
            if failed && selection.generation == selectGeneration { db = selection.previous }
        }
        switch intent.role {
        case .hello:
            if replyType == UInt8(ascii: "%") { resp3 = true } else if replyType == UInt8(ascii: "*") { resp3 = false }
        case .monitor:
            if !isError { monitoring = true }
        case .reset:
            if !isError {
                subscriptions.reset()
                resp3 = false
                monitoring = false
            }
        default:
            break
        }
    }
}
