/// A known command named by a request: an entry of `RedisCommandTable.commands`, or of its subcommands.
struct RedisCommandRef: Equatable, Sendable {
    /// Index in `RedisCommandTable.commands` (for a subcommand, its container's).
    let command: Int16
    /// Index in `RedisCommandTable.subcommands`, or -1.
    let subcommand: Int16

    var spec: RedisCommandSpec {
        subcommand >= 0 ? RedisCommandTable.subcommands[Int(subcommand)] : RedisCommandTable.commands[Int(command)]
    }

    var containerSpec: RedisCommandSpec? {
        subcommand >= 0 ? RedisCommandTable.commands[Int(command)] : nil
    }

    /// Whether this is `other` or one of `other`'s subcommands (a rule naming a container covers them all).
    func isCovered(by other: RedisCommandRef) -> Bool {
        command == other.command && (other.subcommand < 0 || other.subcommand == subcommand)
    }

    /// The name as redis's ACL writes it: `get`, `config|get`.
    func withName<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        var buffer: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
        return withUnsafeMutableBytes(of: &buffer) { raw in
            var length = 0
            func append(_ text: StaticString) {
                let count = min(text.utf8CodeUnitCount, raw.count - length)
                guard count > 0, let base = raw.baseAddress else { return }
                (base + length).copyMemory(from: text.utf8Start, byteCount: count)
                length += count
            }
            if let container = containerSpec {
                append(container.name)
                append("|")
            }
            append(spec.name)
            return body(UnsafeRawBufferPointer(rebasing: raw[..<length]))
        }
    }
}

/// Finds commands by name in the generated table (binary search over the sorted names; no allocation).
enum RedisCommandLookup {
    /// Command names are short; a longer name is unknown.
    static let maxNameLength = 64

    static func command(named name: UnsafeRawBufferPointer) -> Int16? {
        if name.count <= 7 {
            // Most commands: their name read as one integer, found among integers.
            guard let key = packed(name) else { return nil }
            let table = shortNames
            var low = 0, high = table.count
            while low < high {
                let middle = (low + high) / 2
                let candidate = table[middle]
                if candidate.key == key { return candidate.index }
                if candidate.key < key { low = middle + 1 } else { high = middle }
            }
            return nil
        }
        return search(name, in: RedisCommandTable.commands, from: 0, count: RedisCommandTable.commands.count)
    }

    /// The top-level commands of up to 7 bytes, by their packed lowercase names, sorted.
    private static let shortNames: [(key: UInt64, index: Int16)] = RedisCommandTable.commands.indices.compactMap { index in
        let name = RedisCommandTable.commands[index].name
        guard let key = packed(UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)) else { return nil }
        return (key, Int16(index))
    }.sorted { $0.key < $1.key }

    /// Up to 7 bytes, lowercased, as one integer (first byte lowest, the length in the top byte, so that
    /// names with NUL bytes stay distinct); nil for an empty or longer name.
    private static func packed(_ name: UnsafeRawBufferPointer) -> UInt64? {
        guard name.count > 0, name.count <= 7 else { return nil }
        var key = UInt64(name.count) << 56
        for index in 0..<name.count {
            key |= UInt64(ASCIICase.lower(name[index])) << (8 * UInt64(index))
        }
        return key
    }

    static func subcommand(named name: UnsafeRawBufferPointer, of container: Int16) -> Int16? {
        guard container >= 0, Int(container) < RedisCommandTable.commands.count else { return nil }
        let spec = RedisCommandTable.commands[Int(container)]
        guard spec.subcommandCount > 0 else { return nil }
        return search(name, in: RedisCommandTable.subcommands, from: Int(spec.subcommandStart),
                      count: Int(spec.subcommandCount))
    }

    /// The command of a request: its first argument, and for a container its second when that names a
    /// subcommand (a container with an unknown or missing subcommand is the container itself: redis answers
    /// an error and runs nothing).
    static func resolve(_ arguments: RedisArguments) -> RedisCommandRef? {
        guard let top = arguments.withArgument(0, { command(named: $0) }) ?? nil else { return nil }
        let spec = RedisCommandTable.commands[Int(top)]
        if spec.subcommandCount > 0, arguments.count > 1,
           let sub = arguments.withArgument(1, { subcommand(named: $0, of: top) }) ?? nil {
            return RedisCommandRef(command: top, subcommand: sub)
        }
        return RedisCommandRef(command: top, subcommand: -1)
    }

    /// A rule's command name (`get`, `config|get`, `CONFIG GET`), or nil when the table does not know it.
    static func ref(forRuleName name: String) -> RedisCommandRef? {
        let lowered = Array(name.lowercased().utf8)
        let separator = lowered.firstIndex(where: { $0 == UInt8(ascii: "|") || $0 == UInt8(ascii: " ") })
        let head = separator.map { Array(lowered[..<$0]) } ?? lowered
        guard let top = head.withUnsafeBytes({ command(named: $0) }) else { return nil }
        guard let separator else { return RedisCommandRef(command: top, subcommand: -1) }
        let tail = Array(lowered[(separator + 1)...])
        guard let sub = tail.withUnsafeBytes({ subcommand(named: $0, of: top) }) else { return nil }
        return RedisCommandRef(command: top, subcommand: sub)
    }

    private static func search(_ name: UnsafeRawBufferPointer, in table: [RedisCommandSpec], from start: Int,
                               count: Int) -> Int16? {
        guard name.count > 0, name.count <= maxNameLength, start >= 0, start + count <= table.count else { return nil }
        var low = start, high = start + count
        while low < high {
            let middle = (low + high) / 2
            let order = ASCIICase.compare(name, table[middle].name)
            if order == 0 { return Int16(truncatingIfNeeded: middle) }
            if order < 0 { high = middle } else { low = middle + 1 }
        }
        return nil
    }
}
