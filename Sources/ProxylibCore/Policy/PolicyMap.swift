import Atomics

/// The rules of one `PortNetworkPolicyRule`, compiled.
struct CompiledPortRule: Sendable {
    let deny: Bool
    /// Empty: every remote identity.
    let remotes: Set<UInt32>
    let l7: L7RuleSet

    func selects(remoteID: UInt32) -> Bool {
        remotes.isEmpty || remotes.contains(remoteID)
    }
}

/// All rules for one port (or port range): empty allows everything; otherwise a request must be allowed by
/// a rule that selects the remote identity and denied by none (upstream's `PortNetworkPolicyRules.Matches`).
struct CompiledPortRules: Sendable {
    let rules: [CompiledPortRule]
}

/// The port policies of one direction.
struct DirectionPolicy: Sendable {
    /// Keyed by `port` (0 is the wildcard).
    var byPort: [UInt32: CompiledPortRules] = [:]
    /// Policies with an `end_port`, also present in `byPort` under their first port.
    var ranges: [(first: UInt32, last: UInt32, rules: CompiledPortRules)] = []

    /// The rule lists a connection to `port` is checked against, in upstream's order: the exact port, the
    /// ranges holding it, the wildcard port. A request is allowed when any of them allows it.
    func candidates(port: UInt32) -> [CompiledPortRules] {
        var found: [CompiledPortRules] = []
        if let exact = byPort[port] { found.append(exact) }
        for range in ranges where range.first < port && port <= range.last { found.append(range.rules) }
        if port != 0, let wildcard = byPort[0] { found.append(wildcard) }
        return found
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

    /// The part of this policy that applies to one connection, for requests of type `Request`.
    public func resolve<Request>(ingress isIngress: Bool, port: UInt32, remoteID: UInt32,
                                 for _: Request.Type = Request.self) -> ConnectionPolicy<Request> {
        ConnectionPolicy(resolving: (isIngress ? ingress : egress).candidates(port: port), remoteID: remoteID)
    }

    /// Whether one request is allowed. Resolves the policy for every call: connections keep their resolved
    /// policy instead (`Connection.matches`).
    public func matches<Request>(ingress isIngress: Bool, port: UInt32, remoteID: UInt32, request: Request) -> Bool {
        resolve(ingress: isIngress, port: port, remoteID: remoteID, for: Request.self).allows(request)
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
