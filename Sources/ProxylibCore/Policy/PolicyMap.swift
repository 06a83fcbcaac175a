import Atomics

/// The rules of one `PortNetworkPolicyRule`, compiled.
struct CompiledPortRule: Sendable {
    let deny: Bool
    let remotes: Set<UInt32>
    let l7: L7RuleSet

    /// (allowed, explicitly denied), as upstream's `PortNetworkPolicyRule.Matches`.
    func evaluate<Request>(remoteID: UInt32, request: Request) -> (allowed: Bool, denied: Bool) {
        if !remotes.isEmpty && !remotes.contains(remoteID) {
            return (false, false)
        }
        if deny {
            return (false, true)
        }
        for rule in l7.deny where rule.denies(request) {
            return (false, true)
        }
        if l7.allow.isEmpty {
            return (true, false)
        }
        for rule in l7.allow where rule.matches(request) {
            return (true, false)
        }
        return (false, false)
    }
}

/// All rules for one port (or port range): empty allows everything; otherwise any allow and no deny.
struct CompiledPortRules: Sendable {
    let rules: [CompiledPortRule]

    func matches<Request>(remoteID: UInt32, request: Request) -> Bool {
        if rules.isEmpty { return true }
        var allowed = false
        for rule in rules {
            let verdict = rule.evaluate(remoteID: remoteID, request: request)
            if verdict.denied { return false }
            if verdict.allowed { allowed = true }
        }
        return allowed
    }
}

/// The port policies of one direction.
struct DirectionPolicy: Sendable {
    /// Keyed by `port` (0 is the wildcard).
    var byPort: [UInt32: CompiledPortRules] = [:]
    /// Policies with an `end_port`, also present in `byPort` under their first port.
    var ranges: [(first: UInt32, last: UInt32, rules: CompiledPortRules)] = []

    func matches<Request>(port: UInt32, remoteID: UInt32, request: Request) -> Bool {
        if let exact = byPort[port], exact.matches(remoteID: remoteID, request: request) {
            return true
        }
        for range in ranges where range.first < port && port <= range.last {
            if range.rules.matches(remoteID: remoteID, request: request) { return true }
        }
        if port != 0, let wildcard = byPort[0], wildcard.matches(remoteID: remoteID, request: request) {
            return true
        }
        return false
    }
}

/// The compiled policy of one endpoint.
public final class EndpointPolicy: Sendable {
    public let config: NetworkPolicyConfig
    let ingress: DirectionPolicy
    let egress: DirectionPolicy

    init(config: NetworkPolicyConfig, ingress: DirectionPolicy, egress: DirectionPolicy) {
        self.config = config
        self.ingress = ingress
        self.egress = egress
    }

    public func matches<Request>(ingress isIngress: Bool, port: UInt32, remoteID: UInt32, request: Request) -> Bool {
        (isIngress ? ingress : egress).matches(port: port, remoteID: remoteID, request: request)
    }
}

/// An immutable snapshot of all endpoint policies, keyed by every endpoint IP. Published atomically; a
/// reader keeps using the snapshot it loaded while a newer one is built.
public final class PolicyMap: Sendable, AtomicReference {
    public let version: String
    let policies: [String: EndpointPolicy]

    public static let empty = PolicyMap(version: "", policies: [:])

    init(version: String, policies: [String: EndpointPolicy]) {
        self.version = version
        self.policies = policies
    }

    public func policy(named name: String) -> EndpointPolicy? { policies[name] }

    public var endpointNames: [String] { policies.keys.sorted() }

    /// Whether a request on a connection is allowed: no policy for `policyName` denies.
    public func matches<Request>(policyName: String, ingress: Bool, port: UInt32, remoteID: UInt32,
                                 request: Request) -> Bool {
        guard let policy = policies[policyName] else {
            Diagnostics.debug("policy for \(policyName) not found")
            return false
        }
        return policy.matches(ingress: ingress, port: port, remoteID: remoteID, request: request)
    }
}
