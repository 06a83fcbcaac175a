import ProxylibCore
@testable import ProxylibParsers
import ProxylibNPDS
import Testing

private let nodeID = "host~127.0.0.2~libcilium-1~localdomain"
private let npdsType = NPDSCodec.networkPolicyTypeURL

private func makeInstance() -> Instance {
    Instance(id: 1, params: ModuleParams(), registry: BuiltinParsers.registry)
}

/// Whether the instance's policy lets `remote` send an r2d2 request to the endpoint `policy` on ingress port 80.
private func r2d2Allowed(_ instance: Instance, policy: String = "10.1.1.1", remote: UInt32 = 7,
                         _ command: String, _ file: String) -> Bool {
    Array(command.utf8).withUnsafeBytes { command in
        Array(file.utf8).withUnsafeBytes { file in
            instance.policyMatches(policyName: policy, ingress: true, port: 80, remoteID: remote,
                                   request: R2D2Request(command: command, file: file))
        }
    }
}

private func policyResponse(_ version: String, nonce: String, _ fixtures: [String]) throws -> [UInt8] {
    encodedResponse(version: version, nonce: nonce,
                    resources: try fixtures.map { (npdsType, try Fixture.bytes($0)) })
}

@Suite("NPDS stream state")
struct NPDSStreamStateTests {
    @Test("the first request: node, type URL, everything, no version, no nonce")
    func initialRequest() throws {
        var state = NPDSStreamState(nodeID: nodeID, instance: makeInstance())
        let request = state.initialRequest()
        #expect(request == (try Fixture.bytes("request_initial")))
        #expect(decodeRequestWithProtobufC(request) == DecodedRequest(
            versionInfo: "", nodeID: nodeID, resourceNames: [], typeURL: npdsType, responseNonce: "",
            errorCode: nil, errorMessage: nil))
    }

    @Test("ACKs carry each applied version and echo each nonce")
    func ackSequence() throws {
        let instance = makeInstance()
        var state = NPDSStreamState(nodeID: nodeID, instance: instance)
        _ = state.initialRequest()
        #expect(!r2d2Allowed(instance, "READ", "public"))

        let first = state.handleResponse(try policyResponse("1", nonce: "n1", ["r2d2_read"]))
        #expect(first.outcome == .acked(version: "1"))
        #expect(decodeRequestWithProtobufC(first.reply) == DecodedRequest(
            versionInfo: "1", nodeID: nodeID, resourceNames: [], typeURL: npdsType, responseNonce: "n1",
            errorCode: nil, errorMessage: nil))
        #expect(instance.policyMap.version == "1")
        #expect(r2d2Allowed(instance, "READ", "/public/a"))
        #expect(!r2d2Allowed(instance, "READ", "/private/a"))
        #expect(!r2d2Allowed(instance, "WRITE", "/public/a"))
        #expect(!r2d2Allowed(instance, remote: 8, "READ", "/public/a"))

        let second = state.handleResponse(try policyResponse("2", nonce: "n2", ["r2d2_write", "r2d2_other_endpoint"]))
        #expect(second.outcome == .acked(version: "2"))
        #expect(decodeRequestWithProtobufC(second.reply) == DecodedRequest(
            versionInfo: "2", nodeID: nodeID, resourceNames: [], typeURL: npdsType, responseNonce: "n2",
            errorCode: nil, errorMessage: nil))
        #expect(instance.policyMap.version == "2")
        #expect(instance.policyMap.endpointNames == ["10.1.1.1", "10.1.1.2"])
        #expect(r2d2Allowed(instance, "WRITE", "x"))
        #expect(!r2d2Allowed(instance, "READ", "/public/a"))

        // A state of the world without any policy removes them all.
        let third = state.handleResponse(encodedResponse(version: "3", nonce: "n3", resources: []))
        #expect(third.outcome == .acked(version: "3"))
        #expect(instance.policyMap.endpointNames.isEmpty)
        #expect(!r2d2Allowed(instance, "WRITE", "x"))
        #expect(state.lastRequest == DiscoveryRequestFields(versionInfo: "3", nodeID: nodeID, responseNonce: "n3"))
    }

    @Test("a bad regular expression in an r2d2 rule: NACK with the reason, old version and policy kept")
    func nackKeepsPolicy() throws {
        let instance = makeInstance()
        var state = NPDSStreamState(nodeID: nodeID, instance: instance)
        _ = state.initialRequest()
        #expect(state.handleResponse(try policyResponse("1", nonce: "n1", ["r2d2_read"])).outcome == .acked(version: "1"))

        let rejected = state.handleResponse(try policyResponse("2", nonce: "n2", ["r2d2_bad_regex"]))
        guard case .nacked(let reason) = rejected.outcome else {
            Issue.record("expected a NACK, got \(rejected.outcome)")
            return
        }
        #expect(reason.hasPrefix("NPDS: Client \(nodeID) rejecting invalid policy: "))
        #expect(reason.contains("invalid regular expression \"(unclosed\""))
        let reply = try #require(decodeRequestWithProtobufC(rejected.reply))
        #expect(reply.versionInfo == "1")
        #expect(reply.responseNonce == "n2")
        #expect(reply.errorMessage == reason)
        #expect(reply.nodeID == nodeID)
        #expect(reply.typeURL == npdsType)
        #expect(reply.resourceNames.isEmpty)

        // The instance still enforces version 1.
        #expect(instance.policyMap.version == "1")
        #expect(r2d2Allowed(instance, "READ", "/public/a"))
        #expect(!r2d2Allowed(instance, "WRITE", "x"))

        // The next good update is ACKed and clears the error.
        let accepted = state.handleResponse(try policyResponse("3", nonce: "n3", ["r2d2_write"]))
        #expect(accepted.outcome == .acked(version: "3"))
        #expect(decodeRequestWithProtobufC(accepted.reply) == DecodedRequest(
            versionInfo: "3", nodeID: nodeID, resourceNames: [], typeURL: npdsType, responseNonce: "n3",
            errorCode: nil, errorMessage: nil))
        #expect(r2d2Allowed(instance, "WRITE", "x"))
    }

    @Test("a response of another type is NACKed and changes nothing")
    func mismatchingResponseType() throws {
        let instance = makeInstance()
        var state = NPDSStreamState(nodeID: nodeID, instance: instance)
        _ = state.initialRequest()
        let clusterType = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
        let result = state.handleResponse(encodedResponse(
            version: "9", nonce: "x1", typeURL: clusterType, resources: [(clusterType, [0x0A, 0x01, 0x61])]))
        #expect(result.outcome == .nacked(reason: "NPDS: Client \(nodeID) rejecting mismatching resource type: \(clusterType)"))
        let reply = try #require(decodeRequestWithProtobufC(result.reply))
        #expect(reply.versionInfo == "")
        #expect(reply.responseNonce == "x1")
        #expect(reply.typeURL == npdsType)
        #expect(reply.errorMessage == "NPDS: Client \(nodeID) rejecting mismatching resource type: \(clusterType)")
        #expect(instance.policyMap.version == "")
    }

    @Test("a resource of another type in an NPDS response is NACKed")
    func mismatchingResourceType() throws {
        let instance = makeInstance()
        var state = NPDSStreamState(nodeID: nodeID, instance: instance)
        _ = state.initialRequest()
        // Two policies, then a cilium.Other resource.
        let result = state.handleResponse(try Fixture.bytes("response_two_policies"))
        guard case .nacked(let reason) = result.outcome else {
            Issue.record("expected a NACK, got \(result.outcome)")
            return
        }
        #expect(reason.contains("resources[2]: mismatching type URLs: type.googleapis.com/cilium.Other != \(npdsType)"))
        #expect(decodeRequestWithProtobufC(result.reply)?.responseNonce == "nonce-17")
        #expect(decodeRequestWithProtobufC(result.reply)?.versionInfo == "")
        #expect(instance.policyMap.endpointNames.isEmpty)
    }

    @Test("policies that fail to decode, validate or compile are NACKed with their reason",
          arguments: [
              ("invalid_port", "resources[1]: policy validation error for endpoint 4: ingress_per_port_policies[1].port is 65536, more than 65535"),
              ("invalid_kafka_topic", "does not match ^[a-zA-Z0-9._-]*$"),
              ("policy_bad_utf8", "resources[1]: policy unmarshal error: endpoint_ips[0]: string field contains invalid UTF-8"),
              ("invalid_no_ips", "resources[1]: policy has no endpoint_ips"),
              ("policy_protocol_other", "invalid transport protocol 7"),
          ])
    func invalidPolicies(fixture: String, reason: String) throws {
        let instance = makeInstance()
        var state = NPDSStreamState(nodeID: nodeID, instance: instance)
        _ = state.initialRequest()
        #expect(state.handleResponse(try policyResponse("1", nonce: "n1", ["r2d2_read"])).outcome == .acked(version: "1"))
        let result = state.handleResponse(try policyResponse("2", nonce: "n2", ["r2d2_write", fixture]))
        guard case .nacked(let message) = result.outcome else {
            Issue.record("expected a NACK, got \(result.outcome)")
            return
        }
        #expect(message.contains(reason))
        #expect(decodeRequestWithProtobufC(result.reply)?.versionInfo == "1")
        #expect(decodeRequestWithProtobufC(result.reply)?.errorMessage == message)
        // All or nothing: the good policy in the same response is not applied either.
        #expect(instance.policyMap.version == "1")
        #expect(r2d2Allowed(instance, "READ", "/public/a"))
        #expect(!r2d2Allowed(instance, "WRITE", "x"))
    }

    @Test("a message that is not a DiscoveryResponse is NACKed, repeating the last nonce")
    func garbageResponse() throws {
        let instance = makeInstance()
        var state = NPDSStreamState(nodeID: nodeID, instance: instance)
        _ = state.initialRequest()
        #expect(state.handleResponse(try policyResponse("1", nonce: "n1", ["r2d2_read"])).outcome == .acked(version: "1"))
        let result = state.handleResponse([0xFF, 0x00, 0x13])
        guard case .nacked(let reason) = result.outcome else {
            Issue.record("expected a NACK, got \(result.outcome)")
            return
        }
        #expect(reason.hasPrefix("NPDS: Client \(nodeID) rejecting undecodable response: "))
        let reply = try #require(decodeRequestWithProtobufC(result.reply))
        #expect(reply.versionInfo == "1")
        #expect(reply.responseNonce == "n1")
        #expect(reply.errorMessage == reason)
        #expect(instance.policyMap.version == "1")
    }

    @Test("NACK messages name the xDS path when the instance has one")
    func messageNamesPath() throws {
        let instance = Instance(id: 2, params: ModuleParams(xdsPath: "/var/run/cilium/xds.sock"),
                                registry: BuiltinParsers.registry)
        var state = NPDSStreamState(nodeID: instance.nodeID, instance: instance)
        _ = state.initialRequest()
        let result = state.handleResponse(encodedResponse(version: "1", nonce: "a", typeURL: "t", resources: []))
        #expect(result.outcome == .nacked(
            reason: "NPDS: Client host~127.0.0.2~libcilium-2~localdomain rejecting mismatching resource type on /var/run/cilium/xds.sock: t"))
    }

    @Test("a new stream starts over: no version, no nonce, no error")
    func restart() throws {
        let instance = makeInstance()
        var state = NPDSStreamState(nodeID: nodeID, instance: instance)
        _ = state.initialRequest()
        _ = state.handleResponse(try policyResponse("1", nonce: "n1", ["r2d2_read"]))
        _ = state.handleResponse(try policyResponse("2", nonce: "n2", ["r2d2_bad_regex"]))
        #expect(state.initialRequest() == (try Fixture.bytes("request_initial")))
        // The instance keeps its policy until the new stream delivers one.
        #expect(instance.policyMap.version == "1")
    }
}
