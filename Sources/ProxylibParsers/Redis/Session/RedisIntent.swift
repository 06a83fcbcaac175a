import ProxylibCore

/// A request whose reply is still due, as the reply side sees it.
struct RedisIntent: OrderedIntent {
    var verdict: IntentVerdict
    /// Redis answers every request it reads (CLIENT REPLY OFF/SKIP requests are not queued at all).
    var quiet: Bool { false }
    let command: RedisCommandRef?
    let role: RedisCommandRole
    /// Replies still due: one for most commands, one per channel for (un)subscribing with arguments.
    var repliesDue: Int32 = 1
    /// UNSUBSCRIBE (and its pattern and shard forms) without arguments: confirmations come until none of
    /// that kind is left.
    var untilNoneLeft = false
    /// The database this request's success selects (SELECT; EXEC of a transaction that SELECTs), and the
    /// one to return to when its reply is an error.
    var selects: RedisSelection?
    let denial: RedisDenial
    /// The name of a command the table does not know, for its Response log entry (kept only when logging).
    var unknownName = RedisLoggedName()

    init(_ verdict: IntentVerdict, command: RedisCommandRef?, role: RedisCommandRole, denial: RedisDenial = .noPermission) {
        self.verdict = verdict
        self.command = command
        self.role = role
        self.denial = denial
    }
}

/// Up to 32 bytes of a name, held in place so that an intent stays plain data (copied without reference
/// counting on every look at the queue).
struct RedisLoggedName {
    private var bytes: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    private var count: UInt8 = 0

    init() {}

    init(_ name: UnsafeRawBufferPointer) {
        let kept = min(name.count, 32)
        withUnsafeMutableBytes(of: &bytes) { target in
            if let base = target.baseAddress, let source = name.baseAddress, kept > 0 {
                base.copyMemory(from: source, byteCount: kept)
            }
        }
        count = UInt8(kept)
    }

    var logText: LogText {
        var copy = bytes
        let length = Int(count)
        return withUnsafeBytes(of: &copy) { LogText(decoding: UnsafeRawBufferPointer(rebasing: $0[..<length])) }
    }
}

/// A SELECT in flight: redis runs the commands behind it in `selected` unless its reply is an error.
struct RedisSelection {
    let selected: Int64
    let previous: Int64
    /// Which SELECT this was; a failing SELECT restores `previous` only if no later one was sent.
    let generation: UInt32
}

/// What the client reads in place of a denied request's reply.
enum RedisDenial {
    /// `-NOPERM …` naming the command, the error redis itself answers when its ACL denies a command.
    case noPermission
    /// `-EXECABORT …`: the EXEC of a transaction one of whose commands was denied.
    case execAbort

    func reply(for command: RedisCommandRef?) -> InjectedReply {
        var bytes: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        return withUnsafeMutableBytes(of: &bytes) { raw in
            var length = 0
            func append(_ part: UnsafeRawBufferPointer) {
                let count = min(part.count, raw.count - length)
                guard count > 0, let base = raw.baseAddress, let source = part.baseAddress else { return }
                (base + length).copyMemory(from: source, byteCount: count)
                length += count
            }
            switch self {
            case .execAbort:
                append(Self.execAbortText.rawBuffer)
            case .noPermission:
                if let command {
                    append(Self.namedPrefix.rawBuffer)
                    command.withName { append($0) }
                    append(Self.namedSuffix.rawBuffer)
                } else {
                    append(Self.unnamedText.rawBuffer)
                }
            }
            return InjectedReply(UnsafeRawBufferPointer(rebasing: raw[..<length]))
        }
    }

    private static let namedPrefix: StaticString = "-NOPERM the network policy does not allow '"
    private static let namedSuffix: StaticString = "'\r\n"
    private static let unnamedText: StaticString = "-NOPERM the network policy does not allow this command\r\n"
    private static let execAbortText: StaticString =
        "-EXECABORT Transaction discarded: a queued command was denied by policy\r\n"
}
