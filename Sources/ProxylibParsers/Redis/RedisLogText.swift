import ProxylibCore

/// The access-log fields of a redis request: the command (`get`, `config|get`, or an unknown command's
/// name), its keys or channels (space-separated, bounded) and the database. Never values, never AUTH's arguments.
struct RedisLogText {
    /// Keys logged per request, and bytes of them.
    static let maxKeys = 16
    static let maxKeyBytes = 256

    private var scratch: [UInt8] = []

    init() {
        scratch.reserveCapacity(Self.maxKeyBytes + 8)
    }

    func command(_ facts: RedisRequestFacts) -> LogText {
        if let command = facts.command {
            return command.withName { LogText(decoding: $0) }
        }
        return facts.arguments.withArgument(0) { name in
            LogText(decoding: UnsafeRawBufferPointer(rebasing: name[..<min(name.count, RedisCommandLookup.maxNameLength)]))
        } ?? LogText("")
    }

    mutating func keys(_ facts: RedisRequestFacts) -> LogText {
        scratch.removeAll(keepingCapacity: true)
        var logged = 0
        var truncated = false
        let positions = facts.keys.isEmpty ? facts.channels : facts.keys
        _ = positions.allSatisfy { position in
            let room = Self.maxKeyBytes - scratch.count
            guard logged < Self.maxKeys, room > 1 else {
                truncated = true
                return false
            }
            if logged > 0 { scratch.append(UInt8(ascii: " ")) }
            _ = facts.arguments.withArgument(Int(position)) { key in
                let count = min(key.count, room - 1)
                scratch.append(contentsOf: UnsafeRawBufferPointer(rebasing: key[..<count]))
                if count < key.count { truncated = true }
            }
            logged += 1
            return true
        }
        if truncated {
            // " …"
            scratch.append(0x20)
            scratch.append(0xE2)
            scratch.append(0x80)
            scratch.append(0xA6)
        }
        return scratch.withUnsafeBytes { LogText(decoding: $0) }
    }

    func database(_ db: Int64) -> LogText {
        db >= 0 ? LogText("\(db)") : LogText("")
    }
}
