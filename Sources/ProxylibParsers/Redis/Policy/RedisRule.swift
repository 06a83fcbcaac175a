import ProxylibCore

/// A redis policy rule (`l7proto: redis`, generic `l7` rules):
///
///     command:        a command (`get`, `config|get`), a container (`config`: all its subcommands), an ACL
///                     category (`@read`, `@write`, `@admin`, `@dangerous`, … as in redis's metadata; `@all`:
///                     every command the table knows), or the
///                     name of a command the table does not know (a module's), matched by name only
///     keyExact / keyPrefix / keyRegex:             every key of the command meets the condition
///     channelExact / channelPrefix / channelRegex: every channel (PUBLISH, SUBSCRIBE, …) meets it
///     db:             the command runs in this database (the one SELECTed on the connection)
///
/// Every condition given must hold. A rule with key conditions allows only commands whose keys are all known
/// (keyless commands, unknown commands and keys named by data — SORT BY/GET patterns — fail it); with channel
/// conditions only channel commands (unsubscribing always passes). As a deny rule the same conditions deny a
/// command when *some* key or channel meets them, or when the keys cannot be known. Unknown rule keys and
/// categories reject the policy.
struct RedisRule: L7Rule {
    enum Selection: Sendable {
        case command(RedisCommandRef)
        case category(RedisACLCategories)
        /// A name the table does not know, lowercased.
        case unknownCommand([UInt8])
    }

    var selection: Selection?
    var keys = RedisNameCondition()
    var channels = RedisNameCondition()
    var db: Int64?

    static let ruleParser = L7RuleParser.keyValue { rule in
        var compiled = RedisRule()
        for (key, value) in rule.sorted(by: { $0.key < $1.key }) where !value.isEmpty {
            switch key {
            case "command": compiled.selection = try selection(for: value)
            case "keyExact": compiled.keys.exact = Array(value.utf8)
            case "keyPrefix": compiled.keys.prefix = Array(value.utf8)
            case "keyRegex": compiled.keys.regex = try RegexPattern(value)
            case "channelExact": compiled.channels.exact = Array(value.utf8)
            case "channelPrefix": compiled.channels.prefix = Array(value.utf8)
            case "channelRegex": compiled.channels.regex = try RegexPattern(value)
            case "db":
                guard let number = Int64(value), number >= 0 else {
                    throw PolicyError("unable to parse L7 redis rule: db must be a database number, not '\(value)'")
                }
                compiled.db = number
            default:
                throw PolicyError("unable to parse L7 redis rule: unsupported key: \(key)")
            }
        }
        if !compiled.keys.isEmpty && !compiled.channels.isEmpty {
            throw PolicyError("unable to parse L7 redis rule: a rule names keys or channels, not both")
        }
        return compiled
    }

    private static func selection(for value: String) throws -> Selection {
        if value.hasPrefix("@") {
            let name = value.dropFirst().lowercased()
            if name == "all" { return .category(RedisACLCategories(rawValue: ~0)) }
            guard let entry = RedisACLCategories.byName.first(where: { $0.name == name }) else {
                throw PolicyError("unable to parse L7 redis rule: unknown command category '\(value)'")
            }
            return .category(entry.category)
        }
        if let ref = RedisCommandLookup.ref(forRuleName: value) { return .command(ref) }
        let lowered = Array(value.lowercased().utf8)
        let separator = lowered.firstIndex(where: { $0 == UInt8(ascii: "|") || $0 == UInt8(ascii: " ") })
        if let separator, RedisCommandLookup.ref(forRuleName: String(decoding: lowered[..<separator], as: UTF8.self)) != nil {
            throw PolicyError("unable to parse L7 redis rule: unknown subcommand '\(value)'")
        }
        guard lowered.count <= RedisCommandLookup.maxNameLength,
              lowered.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw PolicyError("unable to parse L7 redis rule: '\(value)' is not a command name")
        }
        return .unknownCommand(lowered)
    }

    func matches(_ request: RedisRequest) -> Bool { evaluate(request, asDeny: false) }

    func denies(_ request: RedisRequest) -> Bool { evaluate(request, asDeny: true) }

    private func evaluate(_ request: RedisRequest, asDeny: Bool) -> Bool {
        let facts = request.facts
        guard selects(facts) else { return false }
        if let db {
            let confined = facts.db == db && (facts.otherDB ?? db) == db && !facts.allDatabases
            let touches = facts.db == db || facts.otherDB == db || facts.allDatabases
            if asDeny ? !touches : !confined { return false }
        }
        if !keys.isEmpty {
            if asDeny {
                if facts.keysComplete && facts.allKeys({ !keys.isMet(by: $0, whenUndecided: true) }) { return false }
            } else {
                guard facts.keysComplete, !facts.keys.isEmpty,
                      facts.allKeys({ keys.isMet(by: $0, whenUndecided: false) }) else { return false }
            }
        }
        if !channels.isEmpty {
            // Unsubscribing reaches no channel's data.
            if facts.role.isUnsubscribe { return !asDeny }
            guard facts.hasChannels else { return false }
            let patterns = facts.channelsArePatterns
            if asDeny {
                if facts.allChannels({ !channels.isMet(byChannel: $0, isPattern: patterns, asDeny: true) }) { return false }
            } else {
                guard !facts.channels.isEmpty,
                      facts.allChannels({ channels.isMet(byChannel: $0, isPattern: patterns, asDeny: false) })
                else { return false }
            }
        }
        return true
    }

    private func selects(_ facts: RedisRequestFacts) -> Bool {
        guard let selection else { return true }
        switch selection {
        case .command(let ref):
            guard let command = facts.command else { return false }
            return command.isCovered(by: ref)
        case .category(let categories):
            return facts.command != nil && !facts.categories.isDisjoint(with: categories)
        case .unknownCommand(let name):
            return facts.command == nil && facts.nameEquals(name)
        }
    }
}

/// Exact, prefix and regular-expression conditions on a key or channel name; each one given must hold.
struct RedisNameCondition: Sendable {
    var exact: [UInt8]?
    var prefix: [UInt8]?
    var regex: RegexPattern?

    var isEmpty: Bool { exact == nil && prefix == nil && regex == nil }

    func isMet(by name: UnsafeRawBufferPointer, whenUndecided: Bool) -> Bool {
        if let exact, !ASCII.equals(name, exact) { return false }
        if let prefix, !ASCII.hasPrefix(name, prefix) { return false }
        if let regex, !regex.matches(name, whenUndecided: whenUndecided) { return false }
        return true
    }

    /// A channel, or a PSUBSCRIBE pattern: a pattern meets the conditions only when every channel it can
    /// match does (no glob character before the end of the exact name or prefix; regular expressions cannot
    /// be judged on a pattern), and as a deny rule any pattern with a glob character could meet them.
    func isMet(byChannel name: UnsafeRawBufferPointer, isPattern: Bool, asDeny: Bool) -> Bool {
        guard isPattern else { return isMet(by: name, whenUndecided: asDeny) }
        let globStart = name.firstIndex(where: Self.isGlob) ?? name.count
        if globStart == name.count { return isMet(by: name, whenUndecided: asDeny) }
        if asDeny { return true }
        if regex != nil || exact != nil { return false }
        guard let prefix else { return true }
        return prefix.count <= globStart && ASCII.hasPrefix(name, prefix)
    }

    private static func isGlob(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "*") || byte == UInt8(ascii: "?") || byte == UInt8(ascii: "[") || byte == UInt8(ascii: "\\")
    }
}
