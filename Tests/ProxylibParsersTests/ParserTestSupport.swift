import CProxylib
import Testing
@testable import ProxylibCore
import ProxylibParsers
import ProxylibTestSupport

/// A runtime with the built-in parsers, one open instance, and a recording access log.
struct ParserFixture {
    let log = RecordingAccessLog()
    let runtime: ProxylibRuntime
    let instanceID: UInt64

    init() {
        let log = self.log
        runtime = ProxylibRuntime(registry: BuiltinParsers.registry, makeAccessLog: { _ in log })
        instanceID = runtime.openModule([("access-log-path", "/tmp/unused.sock")], debug: false)
    }

    var instance: Instance { runtime.instances.find(instanceID)! }

    func install(_ policies: [NetworkPolicyConfig]) throws {
        try instance.updatePolicy(policies, version: "1")
    }

    func connect(_ parser: String, ingress: Bool = true, sourceID: UInt32 = 1, destinationID: UInt32 = 2,
                 policyName: String = "1.1.1.1", injectBufferSize: Int = 1024) -> TestConnection {
        let connection = TestConnection(runtime: runtime, instanceID: instanceID, parser: parser, ingress: ingress,
                                        sourceID: sourceID, destinationID: destinationID, policyName: policyName,
                                        injectBufferSize: injectBufferSize)
        #expect(connection.admission == FILTER_OK)
        return connection
    }
}

/// An ingress policy for endpoint 1.1.1.1 port 80 with one rule.
func portPolicy(_ l7Proto: String, allow: [L7KeyValueRule]? = nil, deny: [L7KeyValueRule] = [], remotes: [UInt32] = [],
                ingress: Bool = true) -> NetworkPolicyConfig {
    let l7: L7RulesConfig? = allow.map { .generic(allow: $0, deny: deny) }
    let port = PortNetworkPolicyConfig(port: 80, rules: [PortNetworkPolicyRuleConfig(remotePolicies: remotes, l7Proto: l7Proto, l7: l7)])
    return NetworkPolicyConfig(endpointIPs: ["1.1.1.1"], endpointID: 2,
                               ingress: ingress ? [port] : [], egress: ingress ? [] : [port])
}

/// Replays `input` through fresh connections made by `connect`, whole / byte by byte / randomly split,
/// expecting the same transcript each time.
func expectReplays(_ input: String, reply: Bool = false, _ expected: ReplayVerifier.Transcript,
                   connect: () -> TestConnection, sourceLocation: SourceLocation = #_sourceLocation) {
    for delivery in ReplayVerifier.Delivery.all {
        let transcript = ReplayVerifier.replay(Array(input.utf8), reply: reply, into: connect(), delivery: delivery)
        #expect(transcript == expected, "delivery: \(delivery)", sourceLocation: sourceLocation)
    }
}
