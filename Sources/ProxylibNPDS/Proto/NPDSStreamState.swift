import ProxylibCore

/// What became of one `DiscoveryResponse`.
public enum NPDSUpdateOutcome: Equatable, Sendable {
    /// The policy was installed; the reply acknowledges `version`.
    case acked(version: String)
    /// The response was rejected and the policy in force kept; the reply carries `reason` as error_detail.
    case nacked(reason: String)
}

/// The xDS exchange of one NPDS stream (state of the world), without the transport: the transport sends
/// `initialRequest()` when the stream opens, then `handleResponse(_:).reply` for every response message.
///
/// As upstream's client loop (cilium/proxy `proxylib/npds/client.go`): the request keeps its node and type
/// URL; a response is applied to the instance when its type URL, each resource's type URL and each policy
/// are right and the instance accepts the update as a whole (ACK: `version_info` becomes the response's);
/// otherwise nothing changes (NACK: the previous `version_info` stays and `error_detail.message` says why).
/// Either way the reply echoes the response's nonce.
///
/// A response that is not a `DiscoveryResponse` at all is also answered with a NACK; it has no nonce to
/// echo, so the reply repeats the last nonce seen. (Go's gRPC stream would fail there and reconnect.)
public struct NPDSStreamState: Sendable {
    public let instance: Instance
    /// The request last produced; its `versionInfo` is the version in force from this stream's view.
    public private(set) var lastRequest: DiscoveryRequestFields
    /// The last NACK reason written to the error log, so that a server repeating the same bad update does not
    /// flood it.
    private var lastLoggedReason: String?

    public init(nodeID: String, instance: Instance) {
        self.instance = instance
        self.lastRequest = DiscoveryRequestFields(nodeID: nodeID)
    }

    /// The first request of a stream: every policy, no version yet, no nonce.
    public mutating func initialRequest() -> [UInt8] {
        lastRequest = DiscoveryRequestFields(nodeID: lastRequest.nodeID)
        lastLoggedReason = nil
        return NPDSCodec.encodeRequest(lastRequest)
    }

    /// Applies one received message and answers it.
    public mutating func handleResponse(_ message: [UInt8]) -> (reply: [UInt8], outcome: NPDSUpdateOutcome) {
        let outcome: NPDSUpdateOutcome
        let response: DiscoveryResponseFields
        do {
            response = try NPDSCodec.decodeResponse(message)
        } catch {
            outcome = reject("rejecting undecodable response", reason: "\(error)")
            return (NPDSCodec.encodeRequest(lastRequest), outcome)
        }
        lastRequest.responseNonce = response.nonce

        if response.typeURL != lastRequest.typeURL {
            outcome = reject("rejecting mismatching resource type", reason: response.typeURL)
        } else {
            do {
                let configs = try Self.policies(in: response)
                Diagnostics.debug("NPDS: updating policy to version \(response.versionInfo) (\(configs.count) policies)")
                try instance.updatePolicy(configs, version: response.versionInfo)
                lastRequest.versionInfo = response.versionInfo
                lastRequest.errorMessage = nil
                lastLoggedReason = nil
                Diagnostics.debug("NPDS: Client \(lastRequest.nodeID) acking new policy version\(location): \(response.versionInfo)")
                outcome = .acked(version: response.versionInfo)
            } catch {
                outcome = reject("rejecting invalid policy", reason: "\(error)")
            }
        }
        return (NPDSCodec.encodeRequest(lastRequest), outcome)
    }

    /// The policies of a response whose type URL is NPDS's, or the reason the update is rejected.
    private static func policies(in response: DiscoveryResponseFields) throws -> [NetworkPolicyConfig] {
        var configs: [NetworkPolicyConfig] = []
        configs.reserveCapacity(response.resources.count)
        for (index, resource) in response.resources.enumerated() {
            guard resource.typeURL == response.typeURL else {
                throw PolicyError("resources[\(index)]: mismatching type URLs: \(resource.typeURL) != \(response.typeURL)")
            }
            do {
                configs.append(try NPDSCodec.decodeNetworkPolicy(resource.value))
            } catch {
                throw PolicyError("resources[\(index)]: \(error)")
            }
        }
        return configs
    }

    /// Turns the next request into a NACK (version unchanged) and logs why.
    private mutating func reject(_ what: String, reason: String) -> NPDSUpdateOutcome {
        let message = "NPDS: Client \(lastRequest.nodeID) \(what)\(location): \(reason)"
        lastRequest.errorMessage = message
        if message != lastLoggedReason {
            Diagnostics.error(message)
            lastLoggedReason = message
        } else {
            Diagnostics.debug(message)
        }
        return .nacked(reason: message)
    }

    /// " on <xds-path>" as upstream's messages have it, when the instance has one.
    private var location: String {
        instance.params.xdsPath.isEmpty ? "" : " on \(instance.params.xdsPath)"
    }
}
