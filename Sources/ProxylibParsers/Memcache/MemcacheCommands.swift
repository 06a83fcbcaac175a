import ProxylibCore

/// The text and meta commands the memcache parser understands (memcached's `protocol.txt`), as a dense index
/// so that a rule holds the commands it allows as a bit set.
enum MemcacheTextCommand: UInt8, CaseIterable, Sendable {
    case get, gets, gat, gats
    case set, add, replace, append, prepend, cas
    case delete, incr, decr, touch
    case flushAll, stats, slabs, lru, lruCrawler, version, watch, quit, verbosity, cacheMemlimit, misbehave
    case metaGet, metaSet, metaDelete, metaArithmetic, metaNoop, metaDebug

    /// The command as it appears on the wire (and in rules).
    var name: StaticString {
        switch self {
        case .get: return "get"
        case .gets: return "gets"
        case .gat: return "gat"
        case .gats: return "gats"
        case .set: return "set"
        case .add: return "add"
        case .replace: return "replace"
        case .append: return "append"
        case .prepend: return "prepend"
        case .cas: return "cas"
        case .delete: return "delete"
        case .incr: return "incr"
        case .decr: return "decr"
        case .touch: return "touch"
        case .flushAll: return "flush_all"
        case .stats: return "stats"
        case .slabs: return "slabs"
        case .lru: return "lru"
        case .lruCrawler: return "lru_crawler"
        case .version: return "version"
        case .watch: return "watch"
        case .quit: return "quit"
        case .verbosity: return "verbosity"
        case .cacheMemlimit: return "cache_memlimit"
        case .misbehave: return "misbehave"
        case .metaGet: return "mg"
        case .metaSet: return "ms"
        case .metaDelete: return "md"
        case .metaArithmetic: return "ma"
        case .metaNoop: return "mn"
        case .metaDebug: return "me"
        }
    }

    var nameBytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
    }

    /// The command named by `token`, compared byte for byte (memcached's commands are case-sensitive).
    static func lookup(_ token: UnsafeRawBufferPointer) -> MemcacheTextCommand? {
        guard token.count >= 2, token.count <= 14, let first = token.first else { return nil }
        for command in allCases where command.name.utf8CodeUnitCount == token.count && command.name.utf8Start[0] == first {
            if ByteSearch.matches(command.nameBytes, in: token, at: 0) { return command }
        }
        return nil
    }

    var isMeta: Bool { rawValue >= MemcacheTextCommand.metaGet.rawValue }
}

/// A set of text commands (one bit each).
struct TextCommandSet: Sendable, Equatable {
    var bits: UInt64 = 0

    init(_ commands: MemcacheTextCommand...) {
        for command in commands { insert(command) }
    }

    mutating func insert(_ command: MemcacheTextCommand) { bits |= 1 << UInt64(command.rawValue) }
    mutating func formUnion(_ other: TextCommandSet) { bits |= other.bits }
    func contains(_ command: MemcacheTextCommand) -> Bool { bits & (1 << UInt64(command.rawValue)) != 0 }
}

/// A set of binary opcodes (256 bits).
struct OpcodeSet: Sendable, Equatable {
    var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    init(_ opcodes: UInt8...) {
        for opcode in opcodes { insert(opcode) }
    }

    mutating func insert(_ opcode: UInt8) {
        let bit: UInt64 = 1 << UInt64(opcode & 63)
        switch opcode >> 6 {
        case 0: words.0 |= bit
        case 1: words.1 |= bit
        case 2: words.2 |= bit
        default: words.3 |= bit
        }
    }

    mutating func formUnion(_ other: OpcodeSet) {
        words = (words.0 | other.words.0, words.1 | other.words.1, words.2 | other.words.2, words.3 | other.words.3)
    }

    func contains(_ opcode: UInt8) -> Bool {
        let bit: UInt64 = 1 << UInt64(opcode & 63)
        switch opcode >> 6 {
        case 0: return words.0 & bit != 0
        case 1: return words.1 & bit != 0
        case 2: return words.2 & bit != 0
        default: return words.3 & bit != 0
        }
    }

    static func == (lhs: OpcodeSet, rhs: OpcodeSet) -> Bool {
        lhs.words.0 == rhs.words.0 && lhs.words.1 == rhs.words.1 && lhs.words.2 == rhs.words.2
            && lhs.words.3 == rhs.words.3
    }
}

/// What a rule's `command` value selects: text commands and binary opcodes.
struct MemcacheCommandSelection: Sendable {
    var text: TextCommandSet
    var binary: OpcodeSet
}

/// The values a rule's `command` may take: upstream's names (single commands and groups, each mapping to text
/// commands and binary opcodes), and every other text or meta command by its own name. Meta commands are not
/// listed in groups: a request carries its classic equivalent (`mg` → `get`, `ms` → `set`/`add`/…, `md` →
/// `delete`, `ma` → `incr`/`decr`, `mn` → noop) and a rule allowing that equivalent allows it.
enum MemcacheCommandNames {
    static func selection(for name: String) -> MemcacheCommandSelection? {
        if let group = groups[name] { return group }
        let bytes = Array(name.utf8)
        let command = bytes.withUnsafeBytes { MemcacheTextCommand.lookup($0) }
        return command.map { MemcacheCommandSelection(text: TextCommandSet($0), binary: OpcodeSet()) }
    }

    private static func entry(_ text: [MemcacheTextCommand], _ opcodes: [UInt8]) -> MemcacheCommandSelection {
        var selection = MemcacheCommandSelection(text: TextCommandSet(), binary: OpcodeSet())
        for command in text { selection.text.insert(command) }
        for opcode in opcodes { selection.binary.insert(opcode) }
        return selection
    }

    /// Upstream's `MemcacheOpCodeMap`, with these corrections: `storage` and `writeGroup` include binary APPEND
    /// and PREPEND (0x0e, 0x0f; upstream lists only their quiet forms), `gat` includes GATK/GATKQ (0x23, 0x24),
    /// `noop` includes the meta no-op `mn`, and `verbosity` the text `verbosity` command.
    private static let groups: [String: MemcacheCommandSelection] = {
        var table: [String: MemcacheCommandSelection] = [
            "add": entry([.add], [0x02, 0x12]),
            "set": entry([.set], [0x01, 0x11]),
            "replace": entry([.replace], [0x03, 0x13]),
            "append": entry([.append], [0x0e, 0x19]),
            "prepend": entry([.prepend], [0x0f, 0x1a]),
            "cas": entry([.cas], []),
            "incr": entry([.incr], [0x05, 0x15]),
            "decr": entry([.decr], [0x06, 0x16]),
            "storage": entry([.add, .set, .replace, .append, .prepend, .cas, .incr, .decr],
                             [0x01, 0x02, 0x03, 0x05, 0x06, 0x0e, 0x0f, 0x11, 0x12, 0x13, 0x15, 0x16, 0x19, 0x1a]),
            "get": entry([.get, .gets], [0x00, 0x09, 0x0c, 0x0d]),
            "delete": entry([.delete], [0x04, 0x14]),
            "touch": entry([.touch], [0x1c]),
            "gat": entry([.gat, .gats], [0x1d, 0x1e, 0x23, 0x24]),
            "writeGroup": entry([.add, .set, .replace, .append, .prepend, .cas, .incr, .decr, .delete, .touch],
                                [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0e, 0x0f, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16,
                                 0x19, 0x1a, 0x1c]),
            "slabs": entry([.slabs], []),
            "lru": entry([.lru], []),
            "lru_crawler": entry([.lruCrawler], []),
            "watch": entry([.watch], []),
            "stats": entry([.stats], [0x10]),
            "flush_all": entry([.flushAll], [0x08, 0x18]),
            "cache_memlimit": entry([.cacheMemlimit], []),
            "version": entry([.version], [0x0b]),
            "misbehave": entry([.misbehave], []),
            "quit": entry([.quit], [0x07, 0x17]),
            "noop": entry([.metaNoop], [0x0a]),
            "verbosity": entry([.verbosity], [0x1b]),
            "sasl-list-mechs": entry([], [0x20]),
            "sasl-auth": entry([], [0x21]),
            "sasl-step": entry([], [0x22]),
        ]
        // Range operations, vbucket and TAP commands: binary only, one opcode each from 0x30.
        let binaryOnly = ["rget", "rset", "rsetq", "rappend", "rappendq", "rprepend", "rprependq", "rdelete",
                          "rdeleteq", "rincr", "rincrq", "rdecr", "rdecrq", "set-vbucket", "get-vbucket",
                          "del-vbucket", "tap-connect", "tap-mutation", "tap-delete", "tap-flush", "tap-opaque",
                          "tap-vbucket-set", "tap-checkpoint-start", "tap-checkpoint-end"]
        for (index, name) in binaryOnly.enumerated() {
            table[name] = entry([], [UInt8(0x30 + index)])
        }
        return table
    }()
}

/// Facts about binary opcodes that framing and reply ordering depend on.
enum MemcacheOpcode {
    static let noop: UInt8 = 0x0a
    static let stat: UInt8 = 0x10

    /// Quiet opcodes: the server answers them only when there is something to report (GETQ/GETKQ/GATQ/GATKQ:
    /// a hit; the others: an error), so a reply may never come.
    static func isQuiet(_ opcode: UInt8) -> Bool {
        switch opcode {
        case 0x09, 0x0d, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1e, 0x24,
             0x32, 0x34, 0x36, 0x38, 0x3a, 0x3c:
            return true
        default:
            return false
        }
    }
}
