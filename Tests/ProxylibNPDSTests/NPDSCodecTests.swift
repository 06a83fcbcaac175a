import ProxylibCore
import ProxylibNPDS
import Testing

@Suite("NPDS codec: NetworkPolicy")
struct NetworkPolicyDecodingTests {
    @Test("every field the decoder reads, and fields it skips")
    func fullPolicy() throws {
        let config = try NPDSCodec.decodeNetworkPolicy(try Fixture.bytes("policy_full"))
        let expected = NetworkPolicyConfig(
            endpointIPs: ["10.1.2.3", "f00d::a01:203"],
            endpointID: 4242,
            ingress: [
                PortNetworkPolicyConfig(port: 80, transport: .tcp, rules: [
                    PortNetworkPolicyRuleConfig(deny: true, remotePolicies: [1, 2, 300_000]),
                    PortNetworkPolicyRuleConfig(
                        remotePolicies: [7], l7Proto: "r2d2",
                        l7: .generic(allow: [["cmd": "READ", "file": "^/public/"], ["cmd": "HALT"]],
                                     deny: [["file": "secret"]])),
                ]),
                PortNetworkPolicyConfig(port: 9092, endPort: 9100, transport: .tcp, rules: [
                    // pass_precedence shares the verdict oneof with deny: not a deny.
                    PortNetworkPolicyRuleConfig(l7: .kafka([
                        KafkaRuleConfig(apiVersion: 2, apiKeys: [0, 1, 3], clientID: "client-1.a_b", topic: "orders.v1"),
                        KafkaRuleConfig(apiVersion: -1),
                        // An absent api_version is 0 (version 0 only), not "any".
                        KafkaRuleConfig(apiVersion: 0),
                    ])),
                ]),
                PortNetworkPolicyConfig(port: 8080, rules: [PortNetworkPolicyRuleConfig(l7: .http)]),
                PortNetworkPolicyConfig(port: 53, transport: .udp),
            ],
            egress: [
                PortNetworkPolicyConfig(port: 0),
                PortNetworkPolicyConfig(port: 443, rules: [
                    PortNetworkPolicyRuleConfig(l7Proto: "test.headerparser", l7: .generic(allow: [], deny: [])),
                ]),
            ])
        #expect(config == expected)

        // The same, field by field, so that a mismatch points at the field.
        #expect(config.endpointIPs == ["10.1.2.3", "f00d::a01:203"])
        #expect(config.endpointID == 4242)
        #expect(config.ingressPerPortPolicies.map(\.port) == [80, 9092, 8080, 53])
        #expect(config.ingressPerPortPolicies.map(\.endPort) == [0, 9100, 0, 0])
        #expect(config.ingressPerPortPolicies.map(\.transport) == [.tcp, .tcp, .tcp, .udp])
        #expect(config.egressPerPortPolicies.map(\.port) == [0, 443])
        let port80 = config.ingressPerPortPolicies[0].rules
        #expect(port80.map(\.deny) == [true, false])
        #expect(port80.map(\.remotePolicies) == [[1, 2, 300_000], [7]])
        #expect(port80.map(\.l7Proto) == ["", "r2d2"])
        #expect(port80[0].l7 == nil)
        #expect(config.ingressPerPortPolicies[2].rules.first?.l7 == .http)
    }

    @Test("a policy with only an endpoint IP")
    func minimalPolicy() throws {
        let config = try NPDSCodec.decodeNetworkPolicy(try Fixture.bytes("policy_minimal"))
        #expect(config == NetworkPolicyConfig(endpointIPs: ["10.0.0.1"]))
    }

    @Test("remote_policies packed (protoc's default) and unpacked")
    func remotePoliciesPackedAndUnpacked() throws {
        let packed = try NPDSCodec.decodeNetworkPolicy(try Fixture.bytes("policy_full"))
        #expect(packed.ingressPerPortPolicies[0].rules[0].remotePolicies == [1, 2, 300_000])
        // Packed on the wire: field 7, wire type 2.
        #expect(try Fixture.bytes("policy_full").contains(0x3A))

        let unpackedBytes = try Fixture.bytes("policy_unpacked_remotes")
        // Unpacked on the wire: field 7, wire type 0, once per item.
        #expect(unpackedBytes.filter { $0 == 0x38 }.count == 3)
        let unpacked = try NPDSCodec.decodeNetworkPolicy(unpackedBytes)
        #expect(unpacked == NetworkPolicyConfig(endpointIPs: ["10.0.0.2"], endpointID: 9, ingress: [
            PortNetworkPolicyConfig(port: 22, rules: [PortNetworkPolicyRuleConfig(remotePolicies: [5, 6, 4_294_967_295])]),
        ]))
    }

    @Test("a protocol other than TCP and UDP is kept as its number")
    func otherProtocol() throws {
        let config = try NPDSCodec.decodeNetworkPolicy(try Fixture.bytes("policy_protocol_other"))
        #expect(config.ingressPerPortPolicies.map(\.transport) == [.other(7), .other(-1)])
    }

    @Test("the longest Kafka topic allowed (255 characters)")
    func longestTopic() throws {
        let config = try NPDSCodec.decodeNetworkPolicy(try Fixture.bytes("kafka_topic_255"))
        #expect(config.ingressPerPortPolicies.first?.rules.first?.l7
                == .kafka([KafkaRuleConfig(apiVersion: 0, topic: String(repeating: "t", count: 255))]))
    }

    @Test("bytes that are not a NetworkPolicy are rejected",
          arguments: [
              [0xFF, 0xFF, 0xFF],
              [0x0A, 0x05, 0x31],               // endpoint_ips claims 5 bytes, has 1
              [0x1A, 0x02, 0x08],               // a truncated PortNetworkPolicy
              [0x0F],                           // wire type 7 does not exist
              [0x12, 0x01, 0x41],               // endpoint_id (a varint) sent as bytes
          ] as [[UInt8]])
    func garbage(bytes: [UInt8]) {
        #expect(throws: PolicyError.self) { try NPDSCodec.decodeNetworkPolicy(bytes) }
        do {
            _ = try NPDSCodec.decodeNetworkPolicy(bytes)
        } catch {
            #expect("\(error)".contains("unmarshal"))
        }
    }

    @Test("a policy cut short anywhere is rejected, never misread")
    func truncated() throws {
        let full = try Fixture.bytes("policy_full")
        var accepted: [Int] = []
        for length in 1..<full.count {
            if let config = try? NPDSCodec.decodeNetworkPolicy(Array(full[0..<length])) {
                // A cut that falls between top-level fields is a valid (shorter) message.
                accepted.append(length)
                #expect(config.endpointIPs.first == "10.1.2.3")
            }
        }
        #expect(!accepted.contains(full.count - 1))
    }

    @Test("strings that are not UTF-8 are rejected, as Go's unmarshal rejects them",
          arguments: ["policy_bad_utf8", "policy_bad_utf8_l7proto"])
    func invalidUTF8(fixture: String) throws {
        let bytes = try Fixture.bytes(fixture)
        #expect {
            try NPDSCodec.decodeNetworkPolicy(bytes)
        } throws: { error in
            let text = "\(error)"
            return text.contains("unmarshal") && text.contains("invalid UTF-8")
        }
    }

    @Test("validation rules of upstream's npds.proto, each with its reason",
          arguments: [
              ("invalid_no_ips", "policy has no endpoint_ips"),
              ("invalid_three_ips", "endpoint 2: endpoint_ips has 3 items, at most 2 are allowed"),
              ("invalid_empty_ip", "endpoint 3: endpoint_ips[1] is empty"),
              ("invalid_port", "endpoint 4: ingress_per_port_policies[1].port is 65536, more than 65535"),
              ("invalid_end_port", "endpoint 5: egress_per_port_policies[0].end_port is 70000, more than 65535"),
              ("invalid_proxy_id", "endpoint 6: ingress_per_port_policies[0].rules[0].proxy_id is 65536, more than 65535"),
              ("invalid_kafka_client_id",
               "endpoint 7: ingress_per_port_policies[0].rules[0].kafka_rules.kafka_rules[0].client_id \"bad id\" does not match ^[a-zA-Z0-9._-]*$"),
              ("invalid_kafka_topic",
               "endpoint 8: ingress_per_port_policies[0].rules[0].kafka_rules.kafka_rules[0].topic \"orders/v1\" does not match ^[a-zA-Z0-9._-]*$"),
              ("invalid_kafka_topic_long",
               "endpoint 9: ingress_per_port_policies[0].rules[0].kafka_rules.kafka_rules[0].topic is 256 characters long, at most 255 are allowed"),
              ("invalid_kafka_empty",
               "endpoint 10: ingress_per_port_policies[0].rules[0].kafka_rules.kafka_rules must have at least 1 item"),
              ("invalid_http_empty",
               "endpoint 11: ingress_per_port_policies[0].rules[0].http_rules.http_rules must have at least 1 item"),
              ("invalid_server_name",
               "endpoint 12: egress_per_port_policies[0].rules[0].server_names[1] \"a***.example.com\" is not a valid SNI pattern"),
          ])
    func validation(fixture: String, reason: String) throws {
        let bytes = try Fixture.bytes(fixture)
        #expect {
            try NPDSCodec.decodeNetworkPolicy(bytes)
        } throws: { error in
            guard let error = error as? PolicyError else { return false }
            return error.description.hasSuffix(reason)
        }
    }
}

@Suite("NPDS codec: DiscoveryResponse and DiscoveryRequest")
struct DiscoveryMessageTests {
    @Test("a response with several resources, one of another type")
    func responseWithResources() throws {
        let response = try NPDSCodec.decodeResponse(try Fixture.bytes("response_two_policies"))
        #expect(response.versionInfo == "17")
        #expect(response.typeURL == NPDSCodec.networkPolicyTypeURL)
        #expect(response.nonce == "nonce-17")
        #expect(response.resources.map(\.typeURL) == [NPDSCodec.networkPolicyTypeURL, NPDSCodec.networkPolicyTypeURL,
                                                      "type.googleapis.com/cilium.Other"])
        #expect(response.resources[2].value == [1, 2, 3])
        let first = try NPDSCodec.decodeNetworkPolicy(response.resources[0].value)
        let second = try NPDSCodec.decodeNetworkPolicy(response.resources[1].value)
        #expect(first == NetworkPolicyConfig(endpointIPs: ["10.1.1.1"], endpointID: 11))
        #expect(second == NetworkPolicyConfig(endpointIPs: ["10.1.1.2"], endpointID: 12,
                                              egress: [PortNetworkPolicyConfig(port: 443)]))
    }

    @Test("a response without resources, and the empty message")
    func emptyResponses() throws {
        let response = try NPDSCodec.decodeResponse(try Fixture.bytes("response_empty"))
        #expect(response == DiscoveryResponseFields(versionInfo: "1", typeURL: NPDSCodec.networkPolicyTypeURL,
                                                    nonce: "a", resources: []))
        #expect(try NPDSCodec.decodeResponse([]) == DiscoveryResponseFields(versionInfo: "", typeURL: "", nonce: "",
                                                                           resources: []))
    }

    @Test("bytes that are not a DiscoveryResponse are rejected",
          arguments: [
              [0xFF],
              [0x12, 0x10, 0x0A],               // a resource claiming 16 bytes
              [0x0A, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], // overlong varint length
              [0x22, 0x02, 0xC3, 0x28],         // type_url not UTF-8
          ] as [[UInt8]])
    func garbageResponse(bytes: [UInt8]) {
        #expect(throws: PolicyError.self) { try NPDSCodec.decodeResponse(bytes) }
    }

    @Test("the first request is byte for byte what protoc encodes")
    func initialRequestBytes() throws {
        let encoded = NPDSCodec.encodeRequest(DiscoveryRequestFields(nodeID: "host~127.0.0.2~libcilium-1~localdomain"))
        #expect(encoded == (try Fixture.bytes("request_initial")))
    }

    @Test("a NACK is byte for byte what protoc encodes")
    func nackRequestBytes() throws {
        let encoded = NPDSCodec.encodeRequest(DiscoveryRequestFields(
            versionInfo: "3", nodeID: "host~127.0.0.2~libcilium-1~localdomain",
            typeURL: "type.googleapis.com/cilium.NetworkPolicy", responseNonce: "nonce-4",
            errorMessage: "NPDS: Client host~127.0.0.2~libcilium-1~localdomain rejecting invalid policy: x"))
        #expect(encoded == (try Fixture.bytes("request_nack")))
    }

    @Test("requests round-trip through protobuf-c's own decoder")
    func requestRoundTrip() throws {
        let ack = DiscoveryRequestFields(versionInfo: "42", nodeID: "sidecar~10.0.0.9~pod.ns~ns.svc.cluster.local",
                                         responseNonce: "n-42")
        #expect(decodeRequestWithProtobufC(NPDSCodec.encodeRequest(ack)) == DecodedRequest(
            versionInfo: "42", nodeID: "sidecar~10.0.0.9~pod.ns~ns.svc.cluster.local", resourceNames: [],
            typeURL: "type.googleapis.com/cilium.NetworkPolicy", responseNonce: "n-42", errorCode: nil, errorMessage: nil))

        let nack = DiscoveryRequestFields(versionInfo: "41", nodeID: "n", responseNonce: "n-42",
                                          errorMessage: "rejected: ünïcødé reason")
        #expect(decodeRequestWithProtobufC(NPDSCodec.encodeRequest(nack)) == DecodedRequest(
            versionInfo: "41", nodeID: "n", resourceNames: [], typeURL: "type.googleapis.com/cilium.NetworkPolicy",
            responseNonce: "n-42", errorCode: 0, errorMessage: "rejected: ünïcødé reason"))

        // An empty message is still sent as an error_detail (present, empty).
        let emptyNack = DiscoveryRequestFields(nodeID: "n", errorMessage: "")
        #expect(decodeRequestWithProtobufC(NPDSCodec.encodeRequest(emptyNack))?.errorMessage == "")
    }
}
