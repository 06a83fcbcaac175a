import CCiliumProto
@testable import ProxylibHost
import ProxylibNPDS
import Testing

@Suite struct PolicyFileTests {
    @Test func r2d2ExampleList() throws {
        let ports = try PolicyFile.parse("""
            - ports:
                - port: "9000"
                  protocol: TCP
              rules:
                l7proto: r2d2
                l7:
                  - cmd: READ
                    file: "^/public/"
                  - cmd: HALT
            """, path: "p.yaml")
        #expect(ports == [PortPolicy(port: 9000, endPort: 0, transport: .tcp, rules: [
            PortRule(l7Proto: "r2d2", l7: .generic([
                [.init(key: "cmd", value: "READ"), .init(key: "file", value: "^/public/")],
                [.init(key: "cmd", value: "HALT")],
            ])),
        ])])
    }

    @Test func toPortsMappingMergesPortsAndOpensAllowAll() throws {
        let ports = try PolicyFile.parse("""
            toPorts:
              - ports: [{port: 80, protocol: ANY, endPort: 90}]
                remotes: [7]
                rules: {l7proto: x, l7: [{a: "1"}]}
              - ports: [{port: 80, endPort: 90}]
            """, path: "p.yaml")
        #expect(ports.count == 2)
        #expect(ports[0].transport == .tcp && ports[0].endPort == 90)
        #expect(ports[0].rules == [PortRule(remotePolicies: [7], l7Proto: "x", l7: .generic([[.init(key: "a", value: "1")]])),
                                   PortRule()])
        #expect(ports[1].transport == .udp && ports[1].rules.count == 1)
    }

    @Test func kafkaRules() throws {
        let ports = try PolicyFile.parse("""
            - ports: [{port: 9092}]
              rules:
                kafka:
                  - {apiKey: produce, topic: t, clientID: c, apiVersion: "1"}
                  - {role: consume}
                  - {apiKey: "18"}
                  - {}
            """, path: "p.yaml")
        #expect(ports[0].rules[0].l7 == .kafka([
            KafkaRule(apiVersion: 1, apiKeys: [0], clientID: "c", topic: "t"),
            KafkaRule(apiKeys: [1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 18]),
            KafkaRule(apiKeys: [18]),
            KafkaRule(),
        ]))
    }

    @Test func emptyDocumentIsNoPorts() throws {
        #expect(try PolicyFile.parse("", path: "p.yaml") == [])
        #expect(try PolicyFile.parse("# nothing\n", path: "p.yaml") == [])
    }

    @Test(arguments: [
        ("- ports: [{port: 9000}]\n  rulez: {}\n", "p.yaml:2:3: unknown key \"rulez\""),
        ("- ports:\n    - port: 70000\n", "p.yaml:2:13: port \"70000\" is not a port number"),
        ("- ports:\n    - port: http\n", "p.yaml:2:13: port \"http\": named ports"),
        ("- ports:\n    - port: 80\n      protocol: SCTP\n", "p.yaml:3:17: protocol \"SCTP\" is not supported"),
        ("- ports:\n    - port: [9000\n", "p.yaml:3:1: YAML syntax error"),
        ("- ports: [{port: 1}]\n  rules: {l7: [{a: b}]}\n", "p.yaml:2:10: rules: l7 rules need l7proto"),
        ("- ports: [{port: 1}]\n  rules: {kafka: [{apiKey: nope}]}\n", "p.yaml:2:28: kafka: unknown apiKey"),
        ("- ports: [{port: 1}]\n  rules: {l7proto: x, l7: [{a: [1]}]}\n", "p.yaml:2:32: l7: the value of \"a\""),
        ("- ports: [{port: 10, endPort: 5}]\n", "p.yaml:1:11: endPort 5 is below port 10"),
        ("- rules: {}\n", "p.yaml:1:3: toPorts entry without ports"),
        ("foo: 1\n", "p.yaml:1:1: unknown key \"foo\""),
    ])
    func errorsNameTheLine(text: String, expected: String) {
        do {
            _ = try PolicyFile.parse(text, path: "p.yaml")
            Issue.record("no error for \(text)")
        } catch {
            #expect(error.description.hasPrefix(expected), "\(error.description)")
        }
    }

    @Test func encodesOneNetworkPolicyInADiscoveryResponse() throws {
        let ports = try PolicyFile.parse("""
            - ports: [{port: 9000}]
              remotes: [3]
              rules: {l7proto: r2d2, l7: [{cmd: READ, file: x}]}
            - ports: [{port: 9092}]
              rules: {kafka: [{apiKey: fetch, topic: t}]}
            """, path: "p.yaml")
        let policy = PolicyEncoder.networkPolicy(endpointIP: "10.0.0.1", ingress: false, ports: ports)
        let response = try NPDSCodec.decodeResponse(
            PolicyEncoder.discoveryResponse(version: "7", nonce: "nonce-7", policy: policy))
        #expect(response.versionInfo == "7" && response.nonce == "nonce-7")
        #expect(response.typeURL == NPDSCodec.networkPolicyTypeURL)
        #expect(response.resources == [DiscoveryResource(typeURL: NPDSCodec.networkPolicyTypeURL, value: policy)])

        let decoded = try #require(policy.withUnsafeBufferPointer {
            cilium__network_policy__unpack(nil, $0.count, $0.baseAddress)
        })
        defer { cilium__network_policy__free_unpacked(decoded, nil) }
        let message = decoded.pointee
        #expect(message.n_endpoint_ips == 1 && String(cString: message.endpoint_ips[0]!) == "10.0.0.1")
        #expect(message.endpoint_id == 1)
        #expect(message.n_ingress_per_port_policies == 0 && message.n_egress_per_port_policies == 2)
        let r2d2 = message.egress_per_port_policies[0]!.pointee
        #expect(r2d2.port == 9000 && r2d2.n_rules == 1)
        let rule = r2d2.rules[0]!.pointee
        #expect(String(cString: rule.l7_proto) == "r2d2")
        #expect(rule.n_remote_policies == 1 && rule.remote_policies[0] == 3)
        #expect(rule.l7_case == CILIUM__PORT_NETWORK_POLICY_RULE__L7_L7_RULES)
        let allow = rule.l7_rules.pointee.l7_allow_rules[0]!.pointee
        #expect(allow.n_rule == 2)
        #expect(String(cString: allow.rule[1]!.pointee.key) == "file")
        let kafka = message.egress_per_port_policies[1]!.pointee.rules[0]!.pointee
        #expect(kafka.l7_case == CILIUM__PORT_NETWORK_POLICY_RULE__L7_KAFKA_RULES)
        let kafkaRule = kafka.kafka_rules.pointee.kafka_rules[0]!.pointee
        #expect(kafkaRule.api_version == -1 && kafkaRule.n_api_keys == 1 && kafkaRule.api_keys[0] == 1)
        #expect(String(cString: kafkaRule.topic) == "t")
    }

    @Test func decodesRequestsAckAndNack() {
        let ack = NPDSCodec.encodeRequest(DiscoveryRequestFields(versionInfo: "2", nodeID: "n", responseNonce: "nonce-2"))
        #expect(PolicyEncoder.decodeRequest(ack) == PolicyEncoder.Request(
            versionInfo: "2", nodeID: "n", typeURL: NPDSCodec.networkPolicyTypeURL, responseNonce: "nonce-2",
            errorMessage: nil))
        let nack = NPDSCodec.encodeRequest(DiscoveryRequestFields(
            versionInfo: "2", nodeID: "n", responseNonce: "nonce-3", errorMessage: "bad regex"))
        #expect(PolicyEncoder.decodeRequest(nack)?.errorMessage == "bad regex")
        #expect(PolicyEncoder.decodeRequest([]) != nil)
        #expect(PolicyEncoder.decodeRequest([0xFF, 0xFF]) == nil)
    }
}
