/// Builds a `PolicyMap` from a complete set of `NetworkPolicyConfig`s with upstream's rules (policymap.go):
/// the update is all or nothing, and any error rejects it whole.
public struct PolicyCompiler: Sendable {
    let registry: ParserRegistry

    public init(registry: ParserRegistry) {
        self.registry = registry
    }

    /// Compiles `configs` into a new map. `previous` lends unchanged endpoint policies to the new map.
    public func compile(_ configs: [NetworkPolicyConfig], version: String, previous: PolicyMap = .empty) throws -> PolicyMap {
        var policies: [String: EndpointPolicy] = [:]
        for config in configs {
            guard let firstIP = config.endpointIPs.first else {
                throw PolicyError("policy for endpoint \(config.endpointID) has no endpoint_ips")
            }
            let policy: EndpointPolicy
            if let old = previous.policy(named: firstIP), old.config == config {
                policy = old
            } else {
                policy = EndpointPolicy(
                    config: config,
                    ingress: try compileDirection(config.ingressPerPortPolicies, endpoint: config.endpointID, direction: "ingress"),
                    egress: try compileDirection(config.egressPerPortPolicies, endpoint: config.endpointID, direction: "egress"))
            }
            for ip in config.endpointIPs {
                policies[ip] = policy
            }
        }
        return PolicyMap(version: version, policies: policies)
    }

    private func compileDirection(_ ports: [PortNetworkPolicyConfig], endpoint: UInt64, direction: String) throws -> DirectionPolicy {
        var compiled = DirectionPolicy()
        for portPolicy in ports {
            if portPolicy.transport == .udp { continue }
            let port = portPolicy.port
            if compiled.byPort[port] != nil {
                throw PolicyError("endpoint \(endpoint) \(direction): duplicate port \(port)")
            }
            if case .other(let value) = portPolicy.transport {
                throw PolicyError("endpoint \(endpoint) \(direction) port \(port): invalid transport protocol \(value)")
            }
            guard let rules = try compileRules(portPolicy.rules, endpoint: endpoint, direction: direction, port: port) else {
                Diagnostics.debug("endpoint \(endpoint) \(direction): port \(port) skipped, its L7 parser is not proxylib's")
                continue
            }
            compiled.byPort[port] = rules
            if portPolicy.endPort > port {
                compiled.ranges.append((port, portPolicy.endPort, rules))
            }
        }
        return compiled
    }

    /// The compiled rules of one port, or nil when the port is to be skipped (an L7 parser that proxylib does
    /// not have, or an Envoy filter name).
    private func compileRules(_ rules: [PortNetworkPolicyRuleConfig], endpoint: UInt64, direction: String,
                              port: UInt32) throws -> CompiledPortRules? {
        var compiled: [CompiledPortRule] = []
        var firstL7Name: String?
        for rule in rules {
            let l7Name = rule.l7Proto.isEmpty ? (rule.l7?.ruleParserName ?? "") : rule.l7Proto
            var l7 = L7RuleSet()
            if l7Name.hasPrefix("envoy.") {
                return nil
            }
            if !l7Name.isEmpty {
                guard let parser = registry.ruleParser(named: l7Name) else { return nil }
                do {
                    l7 = try parser.parse(rule)
                } catch {
                    throw PolicyError("endpoint \(endpoint) \(direction) port \(port): \(error)")
                }
                if let first = firstL7Name, first != l7Name {
                    throw PolicyError("endpoint \(endpoint) \(direction) port \(port): mismatching L7 types \(first) and \(l7Name) on the same port")
                }
                firstL7Name = firstL7Name ?? l7Name
            }
            compiled.append(CompiledPortRule(deny: rule.deny, remotes: Set(rule.remotePolicies), l7: l7))
        }
        return CompiledPortRules(rules: compiled)
    }
}
