import ProxylibCore

/// A memcache policy rule (upstream's `memcached.Rule`):
///
///     command:   a command or group name (`MemcacheCommandNames`); required when a key condition is given
///     keyExact:  every key of the request equals this
///     keyPrefix: every key starts with this
///     keyRegex:  every key matches this regular expression (unanchored search, RE2 syntax)
///
/// An empty value counts as absent, as upstream. A rule with neither command nor key condition allows every
/// request. Unlike upstream, which checks only the first key condition present (exact, then prefix, then
/// regex), every condition given must hold; and an unknown command name rejects the policy instead of turning
/// the rule into one that allows everything.
struct MemcacheRule: L7Rule {
    var selection: MemcacheCommandSelection?
    var keyExact: [UInt8] = []
    var keyPrefix: [UInt8] = []
    var keyRegex: RegexPattern?

    static let ruleParser = L7RuleParser.keyValue { rule in
        var compiled = MemcacheRule()
        for (key, value) in rule.sorted(by: { $0.key < $1.key }) {
            switch key {
            case "command":
                guard !value.isEmpty else { continue }
                guard let selection = MemcacheCommandNames.selection(for: value) else {
                    throw PolicyError("unable to parse L7 memcache rule: unknown command '\(value)'")
                }
                compiled.selection = selection
            case "keyExact":
                compiled.keyExact = Array(value.utf8)
            case "keyPrefix":
                compiled.keyPrefix = Array(value.utf8)
            case "keyRegex":
                if !value.isEmpty { compiled.keyRegex = try RegexPattern(value) }
            default:
                throw PolicyError("unable to parse L7 memcache rule: unsupported key: \(key)")
            }
        }
        if compiled.selection == nil && compiled.hasKeyCondition {
            throw PolicyError("unable to parse L7 memcache rule: command not specified but key was provided")
        }
        return compiled
    }

    private var hasKeyCondition: Bool { !keyExact.isEmpty || !keyPrefix.isEmpty || keyRegex != nil }

    /// As an allow rule: the command is selected and every key meets every key condition.
    func matches(_ request: MemcacheRequest) -> Bool {
        guard selects(request) else { return false }
        guard hasKeyCondition else { return true }
        return request.keys.allSatisfy { key in keyMeetsConditions(key, whenUndecided: false) }
    }

    /// As a deny rule: the command is selected and some key meets every key condition (one forbidden key
    /// denies a multi-key get; a regex that cannot decide counts as met).
    func denies(_ request: MemcacheRequest) -> Bool {
        guard selects(request) else { return false }
        guard hasKeyCondition else { return true }
        return !request.keys.allSatisfy { key in !keyMeetsConditions(key, whenUndecided: true) }
    }

    private func selects(_ request: MemcacheRequest) -> Bool {
        guard let selection else { return true }
        if request.isBinary { return selection.binary.contains(request.opcode) }
        if let equivalent = request.equivalent, selection.text.contains(equivalent) { return true }
        return selection.text.contains(request.command)
    }

    private func keyMeetsConditions(_ key: UnsafeRawBufferPointer, whenUndecided: Bool) -> Bool {
        if !keyExact.isEmpty && !ASCII.equals(key, keyExact) { return false }
        if !keyPrefix.isEmpty && !ASCII.hasPrefix(key, keyPrefix) { return false }
        if let keyRegex, !keyRegex.matches(key, whenUndecided: whenUndecided) { return false }
        return true
    }
}
