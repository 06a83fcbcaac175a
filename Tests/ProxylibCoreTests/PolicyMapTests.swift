import Testing
@testable import ProxylibCore

/// Upstream's policymap.go semantics, rule by rule, plus our two extensions (end_port ranges, L7 deny rules).
@Suite struct PolicyMapTests {
    let registry: ParserRegistry = {
        var registry = ParserRegistry()
        registry.register(ruleParser: "test.equals", .equals)
        registry.register(ruleParser: "test.other", .equals)
        return registry
    }()

    func compile(_ configs: [NetworkPolicyConfig]) throws -> PolicyMap {
        try PolicyCompiler(registry: registry).compile(configs, version: "1")
    }

    func equalsRule(_ values: [String], deny: [String] = [], remotes: [UInt32] = [], proto: String = "test.equals") -> PortNetworkPolicyRuleConfig {
        PortNetworkPolicyRuleConfig(remotePolicies: remotes, l7Proto: proto,
                                    l7: .generic(allow: values.map { ["equals": $0] }, deny: deny.map { ["equals": $0] }))
    }

    func policy(ingress: [PortNetworkPolicyConfig] = [], egress: [PortNetworkPolicyConfig] = [], ips: [String] = ["1.1.1.1"]) -> NetworkPolicyConfig {
        NetworkPolicyConfig(endpointIPs: ips, endpointID: 2, ingress: ingress, egress: egress)
    }

    @Test func noPolicyDenies() throws {
        let map = try compile([policy(ingress: [.init(port: 80)])])
        #expect(map.matches(policyName: "1.1.1.1", ingress: true, port: 80, remoteID: 1, request: "x"))
        #expect(!map.matches(policyName: "2.2.2.2", ingress: true, port: 80, remoteID: 1, request: "x"))
        #expect(!PolicyMap.empty.matches(policyName: "1.1.1.1", ingress: true, port: 80, remoteID: 1, request: "x"))
    }

    @Test func everyEndpointIPIsAKey() throws {
        let map = try compile([policy(ingress: [.init(port: 80)], ips: ["1.1.1.1", "f00d::1"])])
        #expect(map.matches(policyName: "f00d::1", ingress: true, port: 80, remoteID: 7, request: "x"))
        #expect(map.endpointNames == ["1.1.1.1", "f00d::1"])
    }

    @Test func directionExactPortAndWildcard() throws {
        let map = try compile([policy(
            ingress: [.init(port: 80, rules: [equalsRule(["a"])]), .init(port: 0, rules: [equalsRule(["b"])])],
            egress: [.init(port: 443)])])
        func ingress(_ port: UInt32, _ request: String) -> Bool {
            map.matches(policyName: "1.1.1.1", ingress: true, port: port, remoteID: 1, request: request)
        }
        #expect(ingress(80, "a"))
        #expect(ingress(80, "b"), "falls through to the wildcard port")
        #expect(!ingress(80, "c"))
        #expect(ingress(81, "b") && !ingress(81, "a"))
        #expect(map.matches(policyName: "1.1.1.1", ingress: false, port: 443, remoteID: 1, request: "z"))
        #expect(!map.matches(policyName: "1.1.1.1", ingress: false, port: 80, remoteID: 1, request: "a"))
    }

    @Test func remotesAndDeny() throws {
        // Upstream TestDenyPolicy / TestDenyAllPolicy.
        let denyOther = try compile([policy(ingress: [.init(port: 80, rules: [
            PortNetworkPolicyRuleConfig(remotePolicies: [1], l7Proto: "test.equals", l7: .generic(allow: [], deny: [])),
            PortNetworkPolicyRuleConfig(deny: true, remotePolicies: [42]),
        ])])])
        #expect(denyOther.matches(policyName: "1.1.1.1", ingress: true, port: 80, remoteID: 1, request: "x"))
        #expect(!denyOther.matches(policyName: "1.1.1.1", ingress: true, port: 80, remoteID: 42, request: "x"))
        #expect(!denyOther.matches(policyName: "1.1.1.1", ingress: true, port: 80, remoteID: 3, request: "x"))

        let denyAll = try compile([policy(ingress: [.init(port: 80, rules: [
            PortNetworkPolicyRuleConfig(remotePolicies: [1], l7Proto: "test.equals", l7: .generic(allow: [], deny: [])),
            PortNetworkPolicyRuleConfig(deny: true),
        ])])])
        #expect(!denyAll.matches(policyName: "1.1.1.1", ingress: true, port: 80, remoteID: 1, request: "x"))
    }

    @Test func l7DenyRulesWinOverAllowRules() throws {
        let map = try compile([policy(ingress: [.init(port: 80, rules: [
            equalsRule([], deny: ["secret"]),
            equalsRule(["secret", "public"]),
        ])])])
        #expect(map.matches(policyName: "1.1.1.1", ingress: true, port: 80, remoteID: 1, request: "public"))
        #expect(map.matches(policyName: "1.1.1.1", ingress: true, port: 80, remoteID: 1, request: "other"), "empty allow list allows")
        #expect(!map.matches(policyName: "1.1.1.1", ingress: true, port: 80, remoteID: 1, request: "secret"))
    }

    @Test func endPortRanges() throws {
        let map = try compile([policy(ingress: [.init(port: 1000, endPort: 2000, rules: [equalsRule(["a"])])])])
        for port: UInt32 in [1000, 1500, 2000] {
            #expect(map.matches(policyName: "1.1.1.1", ingress: true, port: port, remoteID: 1, request: "a"))
        }
        #expect(!map.matches(policyName: "1.1.1.1", ingress: true, port: 2001, remoteID: 1, request: "a"))
        #expect(!map.matches(policyName: "1.1.1.1", ingress: true, port: 999, remoteID: 1, request: "a"))
    }

    @Test func skippedPortsAndIgnoredPolicies() throws {
        let map = try compile([policy(ingress: [
            .init(port: 80, rules: [PortNetworkPolicyRuleConfig(l7Proto: "no-such-parser")]),
            .init(port: 81, rules: [PortNetworkPolicyRuleConfig(l7Proto: "envoy.filter.network.test")]),
            .init(port: 82, rules: [PortNetworkPolicyRuleConfig(l7: .http)]),
            .init(port: 83, rules: [PortNetworkPolicyRuleConfig(l7: .generic(allow: [], deny: []))]),
            .init(port: 84, transport: .udp),
            .init(port: 84),
        ])])
        for port: UInt32 in [80, 81, 82, 83] {
            #expect(!map.matches(policyName: "1.1.1.1", ingress: true, port: port, remoteID: 1, request: "x"), "port \(port) is skipped")
        }
        #expect(map.matches(policyName: "1.1.1.1", ingress: true, port: 84, remoteID: 1, request: "x"), "UDP is ignored, not a duplicate")
    }

    @Test(arguments: [
        ("duplicate port", [PortNetworkPolicyConfig(port: 80), PortNetworkPolicyConfig(port: 80)]),
        ("invalid transport", [PortNetworkPolicyConfig(port: 80, transport: .other(5))]),
        ("mismatching L7 types", [PortNetworkPolicyConfig(port: 80, rules: [
            PortNetworkPolicyRuleConfig(l7Proto: "test.equals"), PortNetworkPolicyRuleConfig(l7Proto: "test.other")])]),
        ("rule parser error", [PortNetworkPolicyConfig(port: 80, rules: [
            PortNetworkPolicyRuleConfig(l7Proto: "test.equals", l7: .generic(allow: [["bad": "key"]], deny: []))])]),
    ])
    func rejectedUpdates(reason: String, ports: [PortNetworkPolicyConfig]) {
        #expect(throws: PolicyError.self, "\(reason)") { try compile([policy(ingress: ports)]) }
    }

    @Test func endpointWithoutIPsIsRejected() {
        #expect(throws: PolicyError.self) { try compile([policy(ips: [])]) }
    }

    @Test func failedUpdateKeepsThePreviousMap() throws {
        let instance = Instance(id: 1, params: ModuleParams(), registry: registry)
        try instance.updatePolicy([policy(ingress: [.init(port: 80)])], version: "1")
        #expect(throws: PolicyError.self) {
            try instance.updatePolicy([policy(ingress: [.init(port: 80), .init(port: 80)])], version: "2")
        }
        #expect(instance.policyMap.version == "1")
        #expect(instance.policyMatches(policyName: "1.1.1.1", ingress: true, port: 80, remoteID: 1, request: "x"))
    }

    /// A connection keeps its resolved policy per snapshot and per request type: a new snapshot, or a request of
    /// another type, resolves again; rules for another request type never allow.
    @Test func connectionPolicyFollowsSnapshotsAndRequestTypes() throws {
        let instance = Instance(id: 1, params: ModuleParams(), registry: registry)
        func install(_ rules: [PortNetworkPolicyRuleConfig]?, version: String) throws {
            let ports = rules.map { [PortNetworkPolicyConfig(port: 80, rules: $0)] } ?? []
            try instance.updatePolicy(ports.isEmpty && rules == nil ? [] : [policy(ingress: ports)], version: version)
        }
        try install([equalsRule(["x"])], version: "1")
        let connection = Connection(
            instance: instance, id: 1, parserName: "test", ingress: true, sourceSecurityID: 1,
            destinationSecurityID: 2, sourceAddress: "1.1.1.2:40000", destinationAddress: "1.1.1.1:80",
            policyName: "1.1.1.1", port: 80, originalInjectBuffer: InjectBuffer(header: nil),
            replyInjectBuffer: InjectBuffer(header: nil))
        #expect(connection.matches("x"))
        #expect(!connection.matches("y"))
        #expect(!connection.matches(42), "rules for String requests never allow an Int request")
        #expect(connection.matches("x"), "back to String requests: resolved again for that type")

        try install([equalsRule(["y"])], version: "2")
        #expect(!connection.matches("x"))
        #expect(connection.matches("y"))
        #expect(connection.policy(for: String.self).constant == nil)

        try install([], version: "3")
        #expect(connection.policy(for: String.self).constant == true, "a port without rules: a constant answer")
        #expect(connection.matches(42))

        try install(nil, version: "4")
        #expect(connection.policy(for: String.self).constant == false, "no endpoint policy: nothing allowed")
        #expect(!connection.matches("y"))
    }

    @Test func unchangedEndpointPoliciesAreReused() throws {
        let instance = Instance(id: 1, params: ModuleParams(), registry: registry)
        let a = policy(ingress: [.init(port: 80)])
        let b = policy(ingress: [.init(port: 90)], ips: ["2.2.2.2"])
        try instance.updatePolicy([a, b], version: "1")
        let before = try #require(instance.policyMap.policy(named: "1.1.1.1"))
        try instance.updatePolicy([a], version: "2")
        #expect(instance.policyMap.policy(named: "1.1.1.1") === before)
        #expect(instance.policyMap.policy(named: "2.2.2.2") == nil)
    }
}
