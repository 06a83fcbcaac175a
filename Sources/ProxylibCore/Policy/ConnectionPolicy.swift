/// The part of an endpoint policy that applies to one connection — its direction, destination port and
/// remote identity fixed — for the requests of one parser. Resolved once per policy snapshot, so a request
/// check runs only the L7 rules that can matter, each a direct call on `any L7Rule<Request>`.
public final class ConnectionPolicy<Request>: Sendable {
    /// The L7 rules of one port rule that selects the remote identity.
    struct RuleSet: Sendable {
        /// The rule has no allow list: every request not denied is allowed.
        let allowsAll: Bool
        /// Rules for other request types are left out (they never match); `allowsAll` still tells an
        /// allow list that held only such rules from an absent one.
        let allow: [any L7Rule<Request>]
        let deny: [any L7Rule<Request>]
    }

    /// Set when the answer does not depend on the request.
    let constant: Bool?
    /// Otherwise: allowed when any group allows; a group allows when one of its sets allows and none denies.
    let groups: [[RuleSet]]

    /// A policy that allows nothing (no endpoint policy for the connection).
    public static var denyingAll: ConnectionPolicy<Request> { ConnectionPolicy(constant: false) }

    private init(constant: Bool?, groups: [[RuleSet]] = []) {
        self.constant = constant
        self.groups = groups
    }

    /// Resolves the candidate rule lists of the connection's port (see `DirectionPolicy.candidates`).
    convenience init(resolving candidates: [CompiledPortRules], remoteID: UInt32) {
        var groups: [[RuleSet]] = []
        for candidate in candidates {
            // No rules at all: the port allows everything.
            if candidate.rules.isEmpty {
                self.init(constant: true)
                return
            }
            let selected = candidate.rules.filter { $0.selects(remoteID: remoteID) }
            // A deny rule for this remote, or no rule for it: this list never allows.
            if selected.isEmpty || selected.contains(where: \.deny) { continue }
            let sets = selected.map { rule in
                RuleSet(allowsAll: rule.l7.allow.isEmpty,
                        allow: rule.l7.allow.compactMap { $0 as? any L7Rule<Request> },
                        deny: rule.l7.deny.compactMap { $0 as? any L7Rule<Request> })
            }
            if sets.allSatisfy({ $0.deny.isEmpty }) && sets.contains(where: \.allowsAll) {
                self.init(constant: true)
                return
            }
            groups.append(sets)
        }
        self.init(constant: groups.isEmpty ? false : nil, groups: groups)
    }

    /// Whether the policy allows `request`.
    ///
    /// The loops index the arrays in place: iterating them by value would copy every rule existential (and
    /// retain what it holds) per request.
    public func allows(_ request: Request) -> Bool {
        if let constant { return constant }
        for index in groups.indices where groupAllows(index, request) {
            return true
        }
        return false
    }

    /// Upstream's rule order: every set's deny rules are checked, even once another set has allowed.
    private func groupAllows(_ group: Int, _ request: Request) -> Bool {
        var allowed = false
        for set in groups[group].indices {
            let deny = groups[group][set].deny
            for rule in deny.indices where deny[rule].denies(request) {
                return false
            }
            if !allowed {
                allowed = groups[group][set].allowsAll || anyAllows(groups[group][set].allow, request)
            }
        }
        return allowed
    }

    private func anyAllows(_ rules: [any L7Rule<Request>], _ request: Request) -> Bool {
        for index in rules.indices where rules[index].matches(request) {
            return true
        }
        return false
    }
}
