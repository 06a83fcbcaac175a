/// What the parser itself must know about a command beyond the table: the commands that change the
/// connection's state (db, transaction, protocol, reply mode, subscriptions), carry channels, or reach other
/// databases. Resolved once per table entry, so a request costs one array read.
enum RedisCommandRole: UInt8, Sendable {
    case plain
    case auth, hello
    case select, multi, exec, discard, reset, quit, monitor
    case clientReply
    case subscribe, psubscribe, ssubscribe
    case unsubscribe, punsubscribe, sunsubscribe
    case publish, spublish
    case move, copy, swapdb, flushall
    case sort, sortReadOnly, migrate, geoRadius

    /// The role of each entry of `RedisCommandTable.commands`, and of `subcommands` (CLIENT REPLY).
    private static let commandRoles: [RedisCommandRole] = RedisCommandTable.commands.map { role(named: $0.name) }

    static func of(_ ref: RedisCommandRef) -> RedisCommandRole {
        if ref.subcommand >= 0 {
            guard let container = ref.containerSpec, ASCIICase.equals(container.name.rawBuffer, "client"),
                  ASCIICase.equals(ref.spec.name.rawBuffer, "reply")
            else { return .plain }
            return .clientReply
        }
        let index = Int(ref.command)
        return index < commandRoles.count ? commandRoles[index] : .plain
    }

    private static func role(named name: StaticString) -> RedisCommandRole {
        switch name.description {
        case "auth": return .auth
        case "hello": return .hello
        case "select": return .select
        case "multi": return .multi
        case "exec": return .exec
        case "discard": return .discard
        case "reset": return .reset
        case "quit": return .quit
        case "monitor": return .monitor
        case "subscribe": return .subscribe
        case "psubscribe": return .psubscribe
        case "ssubscribe": return .ssubscribe
        case "unsubscribe": return .unsubscribe
        case "punsubscribe": return .punsubscribe
        case "sunsubscribe": return .sunsubscribe
        case "publish": return .publish
        case "spublish": return .spublish
        case "move": return .move
        case "copy": return .copy
        case "swapdb": return .swapdb
        case "flushall": return .flushall
        case "sort": return .sort
        case "sort_ro": return .sortReadOnly
        case "migrate": return .migrate
        case "georadius", "georadiusbymember": return .geoRadius
        default: return .plain
        }
    }

    /// The subscription kind a (un)subscribe command and its confirmations belong to.
    var subscriptionKind: RedisSubscriptionKind? {
        switch self {
        case .subscribe, .unsubscribe: return .channel
        case .psubscribe, .punsubscribe: return .pattern
        case .ssubscribe, .sunsubscribe: return .shard
        default: return nil
        }
    }

    var isUnsubscribe: Bool { self == .unsubscribe || self == .punsubscribe || self == .sunsubscribe }
    var isSubscribe: Bool { self == .subscribe || self == .psubscribe || self == .ssubscribe }
}

enum RedisSubscriptionKind: UInt8, Sendable {
    case channel, pattern, shard
}

extension StaticString {
    var rawBuffer: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: utf8Start, count: utf8CodeUnitCount)
    }
}
