/// What redis's command metadata says about one command: the facts a policy decision needs (its name, arity,
/// ACL categories, and where its keys are). The table itself (`RedisCommandTable`) is generated from redis's
/// own `src/commands/*.json` by `Tools/redis-commands/generate.py`; these types are its shape.
///
/// Everything here is plain data (integers and static strings), so the table is a handful of flat arrays
/// with no per-entry heap objects.
struct RedisCommandSpec: Sendable {
    /// Lowercase; for a subcommand, its own name (`get` of `config|get`).
    let name: StaticString
    /// Redis's arity: exact argument count including the name when positive, a minimum when negative.
    let arity: Int16
    let flags: RedisCommandFlags
    /// The command's ACL categories, the implicit ones included (as `COMMAND INFO` reports them).
    let categories: RedisACLCategories
    /// This command's key specs: `RedisCommandTable.keySpecs[keySpecStart ..< keySpecStart + keySpecCount]`.
    let keySpecStart: Int16
    let keySpecCount: Int16
    /// A container's subcommands (`config|get`, …): `RedisCommandTable.subcommands[subcommandStart ..<
    /// subcommandStart + subcommandCount]`, sorted by name. Zero for other commands.
    let subcommandStart: Int16
    let subcommandCount: Int16
    /// For a subcommand, its container's index in `RedisCommandTable.commands`; -1 for top-level commands.
    let container: Int16
}

/// Where a key spec's keys begin (redis's `begin_search`).
enum RedisKeySearch: Sendable {
    /// At this argument index (the command name is index 0).
    case index(Int16)
    /// After the first argument equal (case-insensitively) to `keyword`, searched from `startFrom` forward, or
    /// from `argc + startFrom` backward when negative.
    case keyword(StaticString, startFrom: Int16)
    /// Not derivable from the arguments' positions (SORT's BY/GET/STORE): special-cased or unknown.
    case unknown
}

/// How many keys follow the beginning (redis's `find_keys`).
enum RedisKeyRange: Sendable {
    /// Keys from the beginning to `lastKey` (relative; -1 the last argument, -2 the one before…), every
    /// `step`-th; with `limit` > 1 and `lastKey` -1, only the first 1/limit of the remaining arguments.
    case range(lastKey: Int16, step: Int16, limit: Int16)
    /// The key count is the integer at `keyNumIndex` (relative to the beginning); keys start at `firstKey`
    /// (relative to the beginning) and come every `step`-th argument.
    case keyNum(keyNumIndex: Int16, firstKey: Int16, step: Int16)
    case unknown
}

struct RedisKeySpec: Sendable {
    let search: RedisKeySearch
    let range: RedisKeyRange
    let flags: RedisKeySpecFlags
}

/// Key spec flags, as in the JSON (`RO`, `RW`, …, `NOT_KEY`, `INCOMPLETE`, `VARIABLE_FLAGS`).
struct RedisKeySpecFlags: OptionSet, Sendable {
    let rawValue: UInt16
    static let readOnly = RedisKeySpecFlags(rawValue: 1 << 0)
    static let readWrite = RedisKeySpecFlags(rawValue: 1 << 1)
    static let overwrite = RedisKeySpecFlags(rawValue: 1 << 2)
    static let remove = RedisKeySpecFlags(rawValue: 1 << 3)
    static let access = RedisKeySpecFlags(rawValue: 1 << 4)
    static let update = RedisKeySpecFlags(rawValue: 1 << 5)
    static let insert = RedisKeySpecFlags(rawValue: 1 << 6)
    static let delete = RedisKeySpecFlags(rawValue: 1 << 7)
    /// Not a key in the keyspace: a shard channel (SPUBLISH, SSUBSCRIBE, SUNSUBSCRIBE).
    static let notKey = RedisKeySpecFlags(rawValue: 1 << 8)
    /// The spec may miss keys; redis falls back to the command's own key finder.
    static let incomplete = RedisKeySpecFlags(rawValue: 1 << 9)
    static let variableFlags = RedisKeySpecFlags(rawValue: 1 << 10)
}

/// Command flags, as in the JSON's `command_flags`.
struct RedisCommandFlags: OptionSet, Sendable {
    let rawValue: UInt32
    static let write = RedisCommandFlags(rawValue: 1 << 0)
    static let readOnly = RedisCommandFlags(rawValue: 1 << 1)
    static let denyOOM = RedisCommandFlags(rawValue: 1 << 2)
    static let admin = RedisCommandFlags(rawValue: 1 << 3)
    static let pubsub = RedisCommandFlags(rawValue: 1 << 4)
    static let noScript = RedisCommandFlags(rawValue: 1 << 5)
    static let blocking = RedisCommandFlags(rawValue: 1 << 6)
    static let loading = RedisCommandFlags(rawValue: 1 << 7)
    static let stale = RedisCommandFlags(rawValue: 1 << 8)
    static let skipMonitor = RedisCommandFlags(rawValue: 1 << 9)
    static let skipSlowlog = RedisCommandFlags(rawValue: 1 << 10)
    static let fast = RedisCommandFlags(rawValue: 1 << 11)
    static let noAuth = RedisCommandFlags(rawValue: 1 << 12)
    static let mayReplicate = RedisCommandFlags(rawValue: 1 << 13)
    static let sentinel = RedisCommandFlags(rawValue: 1 << 14)
    static let onlySentinel = RedisCommandFlags(rawValue: 1 << 15)
    static let noMandatoryKeys = RedisCommandFlags(rawValue: 1 << 16)
    static let protected = RedisCommandFlags(rawValue: 1 << 17)
    static let noAsyncLoading = RedisCommandFlags(rawValue: 1 << 18)
    static let noMulti = RedisCommandFlags(rawValue: 1 << 19)
    static let allowBusy = RedisCommandFlags(rawValue: 1 << 20)
    static let touchesArbitraryKeys = RedisCommandFlags(rawValue: 1 << 21)
    static let asking = RedisCommandFlags(rawValue: 1 << 22)
}

/// Redis's ACL categories (`ACL CAT`), in redis's order.
struct RedisACLCategories: OptionSet, Sendable {
    let rawValue: UInt32
    static let keyspace = RedisACLCategories(rawValue: 1 << 0)
    static let read = RedisACLCategories(rawValue: 1 << 1)
    static let write = RedisACLCategories(rawValue: 1 << 2)
    static let set = RedisACLCategories(rawValue: 1 << 3)
    static let sortedSet = RedisACLCategories(rawValue: 1 << 4)
    static let list = RedisACLCategories(rawValue: 1 << 5)
    static let hash = RedisACLCategories(rawValue: 1 << 6)
    static let string = RedisACLCategories(rawValue: 1 << 7)
    static let bitmap = RedisACLCategories(rawValue: 1 << 8)
    static let hyperLogLog = RedisACLCategories(rawValue: 1 << 9)
    static let geo = RedisACLCategories(rawValue: 1 << 10)
    static let stream = RedisACLCategories(rawValue: 1 << 11)
    static let pubsub = RedisACLCategories(rawValue: 1 << 12)
    static let admin = RedisACLCategories(rawValue: 1 << 13)
    static let fast = RedisACLCategories(rawValue: 1 << 14)
    static let slow = RedisACLCategories(rawValue: 1 << 15)
    static let blocking = RedisACLCategories(rawValue: 1 << 16)
    static let dangerous = RedisACLCategories(rawValue: 1 << 17)
    static let connection = RedisACLCategories(rawValue: 1 << 18)
    static let transaction = RedisACLCategories(rawValue: 1 << 19)
    static let scripting = RedisACLCategories(rawValue: 1 << 20)

    /// The names policies use (`@read`, …), as `ACL CAT` lists them.
    static let byName: [(name: String, category: RedisACLCategories)] = [
        ("keyspace", .keyspace), ("read", .read), ("write", .write), ("set", .set), ("sortedset", .sortedSet),
        ("list", .list), ("hash", .hash), ("string", .string), ("bitmap", .bitmap), ("hyperloglog", .hyperLogLog),
        ("geo", .geo), ("stream", .stream), ("pubsub", .pubsub), ("admin", .admin), ("fast", .fast),
        ("slow", .slow), ("blocking", .blocking), ("dangerous", .dangerous), ("connection", .connection),
        ("transaction", .transaction), ("scripting", .scripting),
    ]
}
