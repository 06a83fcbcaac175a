import ProxylibCore

/// A Cassandra policy rule (upstream's `CassandraRule`):
///
///     query_action: an action name (`QueryAction`: select, insert, create-table, …), matched exactly
///     query_table:  a regular expression searched in `keyspace.table` (RE2 syntax, unanchored)
///
/// A rule without keys allows everything. Control requests (STARTUP, OPTIONS, REGISTER, AUTH_RESPONSE) are
/// allowed by every rule. Unlike upstream, a `query_table` condition only matches statements that have a
/// table (upstream lets a statement it parsed without a table, such as `TRUNCATE t`, through any table rule).
struct CassandraRule: L7Rule {
    var action: QueryAction?
    var table: RegexPattern?

    static let ruleParser = L7RuleParser.keyValue { rule in
        var compiled = CassandraRule()
        for (key, value) in rule.sorted(by: { $0.key < $1.key }) {
            switch key {
            case "query_action":
                guard !value.isEmpty else { continue }
                guard let action = QueryAction(policyName: value) else {
                    throw PolicyError("cassandra rule: query_action '\(value)' is not a known action")
                }
                compiled.action = action
            case "query_table":
                if !value.isEmpty { compiled.table = try RegexPattern(value) }
            default:
                throw PolicyError("cassandra rule: unsupported key '\(key)'")
            }
        }
        if let action = compiled.action, action.tableKind == .none, compiled.table != nil {
            throw PolicyError("cassandra rule: query_action '\(action.nameString)' has no table, so query_table cannot apply")
        }
        return compiled
    }

    private var hasConditions: Bool { action != nil || table != nil }

    func matches(_ request: CassandraRequest) -> Bool { evaluate(request, whenUndecided: false) }

    func denies(_ request: CassandraRequest) -> Bool { evaluate(request, whenUndecided: true) }

    private func evaluate(_ request: CassandraRequest, whenUndecided: Bool) -> Bool {
        switch request.kind {
        case .control:
            // A deny rule with conditions is about statements; one without denies everything.
            return whenUndecided ? !hasConditions : true
        case .unclassified:
            // Nothing is known about it: only an unconditional allow rule allows it; every deny rule denies it.
            return whenUndecided ? true : !hasConditions
        case .statement:
            if let action, action != request.action { return false }
            guard let table else { return true }
            guard request.action.tableKind != .none, !request.table.isEmpty else { return false }
            return table.matches(request.table, whenUndecided: whenUndecided)
        }
    }
}
