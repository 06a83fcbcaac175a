import ProxylibCore

/// The request a redis rule sees: the command (known from the table, or only by its name), its ACL
/// categories, its keys and channels (argument positions, read in place), and the databases it works in.
/// Built per request over the connection's reused `RedisRequestFacts`; valid during the policy check only.
struct RedisRequest {
    let facts: RedisRequestFacts
}

/// The per-connection storage behind `RedisRequest`, refilled for every request.
final class RedisRequestFacts {
    let arguments = RedisArguments()
    /// Nil for a command the table does not know (a module's, a newer redis's).
    var command: RedisCommandRef?
    var role = RedisCommandRole.plain
    var categories = RedisACLCategories()
    var keys = ReusedList<Int32>(capacity: 8)
    var keysComplete = true
    var channels = ReusedList<Int32>(capacity: 4)
    var channelsArePatterns = false
    /// The database the command runs in (SELECT: the one it selects).
    var db: Int64 = 0
    /// Another database the command reaches (MOVE, COPY … DB, SWAPDB).
    var otherDB: Int64?
    /// The command reaches every database (FLUSHALL).
    var allDatabases = false

    var hasChannels: Bool { role == .publish || role == .spublish || role.isSubscribe }

    /// Calls `body` with each key until it returns false; returns whether every call returned true.
    func allKeys(_ body: (UnsafeRawBufferPointer) -> Bool) -> Bool {
        all(keys, body)
    }

    func allChannels(_ body: (UnsafeRawBufferPointer) -> Bool) -> Bool {
        all(channels, body)
    }

    private func all(_ positions: ReusedList<Int32>, _ body: (UnsafeRawBufferPointer) -> Bool) -> Bool {
        // An argument that is not there fails the check (the parser reads keys before deciding).
        positions.allSatisfy { arguments.withArgument(Int($0), body) == true }
    }

    /// Whether the command name (argument 0) equals `lowercased` ignoring ASCII case.
    func nameEquals(_ lowercased: [UInt8]) -> Bool {
        arguments.withArgument(0) { name in
            name.count == lowercased.count && zip(name, lowercased).allSatisfy { ASCIICase.lower($0) == $1 }
        } ?? false
    }
}
