import CCiliumProto
#if canImport(Glibc)
import Glibc
#endif
import ProxylibNPDS

/// The NPDS messages of the host's server, built as protobuf-c structs and packed.
enum PolicyEncoder {
    static let typeURL = NPDSCodec.networkPolicyTypeURL

    /// One `cilium.NetworkPolicy` for `endpointIP` (endpoint id 1) with `ports` in the ingress or egress list.
    static func networkPolicy(endpointIP: String, ingress: Bool, ports: [PortPolicy]) -> [UInt8] {
        let arena = CArena()
        var policy = Cilium__NetworkPolicy()
        cilium__network_policy__init(&policy)
        policy.n_endpoint_ips = 1
        policy.endpoint_ips = arena.array([arena.string(endpointIP)])
        policy.endpoint_id = 1
        let portPolicies = ports.map { portPolicy($0, arena: arena) }
        if ingress {
            policy.n_ingress_per_port_policies = portPolicies.count
            policy.ingress_per_port_policies = arena.array(portPolicies)
        } else {
            policy.n_egress_per_port_policies = portPolicies.count
            policy.egress_per_port_policies = arena.array(portPolicies)
        }
        return withUnsafePointer(to: &policy) { message in
            let size = cilium__network_policy__get_packed_size(message)
            return [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
                count = size == 0 ? 0 : cilium__network_policy__pack(message, buffer.baseAddress!)
            }
        }
    }

    /// A `DiscoveryResponse` carrying `policy` (packed `cilium.NetworkPolicy`) as its one resource.
    static func discoveryResponse(version: String, nonce: String, policy: [UInt8]) -> [UInt8] {
        let arena = CArena()
        let any = arena.new(Google__Protobuf__Any())
        google__protobuf__any__init(any)
        any.pointee.type_url = arena.string(typeURL)
        let value = arena.bytes(policy)
        any.pointee.value = ProtobufCBinaryData(len: policy.count, data: value)

        var response = Envoy__Service__Discovery__V3__DiscoveryResponse()
        envoy__service__discovery__v3__discovery_response__init(&response)
        response.version_info = arena.string(version)
        response.type_url = arena.string(typeURL)
        response.nonce = arena.string(nonce)
        response.n_resources = 1
        response.resources = arena.array([Optional(any)])
        return withUnsafePointer(to: &response) { message in
            let size = envoy__service__discovery__v3__discovery_response__get_packed_size(message)
            return [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
                count = size == 0 ? 0 : envoy__service__discovery__v3__discovery_response__pack(message, buffer.baseAddress!)
            }
        }
    }

    /// What the server needs from a `DiscoveryRequest`.
    struct Request: Equatable, Sendable {
        var versionInfo: String
        var nodeID: String
        var typeURL: String
        var responseNonce: String
        /// nil: no error_detail (an ACK, or the first request).
        var errorMessage: String?
    }

    /// Decodes a `DiscoveryRequest`; nil when the bytes are not one.
    static func decodeRequest(_ bytes: [UInt8]) -> Request? {
        // protobuf-c wants a non-null pointer even for 0 bytes (an empty request is a valid one).
        let storage = bytes.isEmpty ? [0] : bytes
        let decoded = storage.withUnsafeBufferPointer { buffer in
            envoy__service__discovery__v3__discovery_request__unpack(nil, bytes.count, buffer.baseAddress)
        }
        guard let decoded else { return nil }
        defer { envoy__service__discovery__v3__discovery_request__free_unpacked(decoded, nil) }
        func text(_ pointer: UnsafeMutablePointer<CChar>?) -> String {
            pointer.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: strlen($0)), as: UTF8.self) } ?? ""
        }
        let request = decoded.pointee
        var error: String?
        if let detail = request.error_detail {
            error = text(detail.pointee.message)
            if error!.isEmpty { error = "(no message, code \(detail.pointee.code))" }
        }
        return Request(versionInfo: text(request.version_info), nodeID: text(request.node?.pointee.id),
                       typeURL: text(request.type_url), responseNonce: text(request.response_nonce),
                       errorMessage: error)
    }

    // MARK: Private

    private static func portPolicy(_ port: PortPolicy, arena: CArena) -> UnsafeMutablePointer<Cilium__PortNetworkPolicy>? {
        let message = arena.new(Cilium__PortNetworkPolicy())
        cilium__port_network_policy__init(message)
        message.pointee.port = port.port
        message.pointee.end_port = port.endPort
        message.pointee.protocol = port.transport == .tcp
            ? ENVOY__CONFIG__CORE__V3__SOCKET_ADDRESS__PROTOCOL__TCP
            : ENVOY__CONFIG__CORE__V3__SOCKET_ADDRESS__PROTOCOL__UDP
        let rules = port.rules.map { portRule($0, arena: arena) }
        message.pointee.n_rules = rules.count
        message.pointee.rules = arena.array(rules)
        return message
    }

    private static func portRule(_ rule: PortRule, arena: CArena) -> UnsafeMutablePointer<Cilium__PortNetworkPolicyRule>? {
        let message = arena.new(Cilium__PortNetworkPolicyRule())
        cilium__port_network_policy_rule__init(message)
        message.pointee.n_remote_policies = rule.remotePolicies.count
        message.pointee.remote_policies = arena.array(rule.remotePolicies)
        if !rule.l7Proto.isEmpty { message.pointee.l7_proto = arena.string(rule.l7Proto) }
        switch rule.l7 {
        case .none:
            break
        case .generic(let allowRules):
            let rules = arena.new(Cilium__L7NetworkPolicyRules())
            cilium__l7_network_policy_rules__init(rules)
            let allow = allowRules.map { pairs -> UnsafeMutablePointer<Cilium__L7NetworkPolicyRule>? in
                let l7 = arena.new(Cilium__L7NetworkPolicyRule())
                cilium__l7_network_policy_rule__init(l7)
                let entries = pairs.map { pair -> UnsafeMutablePointer<Cilium__L7NetworkPolicyRule__RuleEntry>? in
                    let entry = arena.new(Cilium__L7NetworkPolicyRule__RuleEntry())
                    cilium__l7_network_policy_rule__rule_entry__init(entry)
                    entry.pointee.key = arena.string(pair.key)
                    entry.pointee.value = arena.string(pair.value)
                    return entry
                }
                l7.pointee.n_rule = entries.count
                l7.pointee.rule = arena.array(entries)
                return l7
            }
            rules.pointee.n_l7_allow_rules = allow.count
            rules.pointee.l7_allow_rules = arena.array(allow)
            message.pointee.l7_case = CILIUM__PORT_NETWORK_POLICY_RULE__L7_L7_RULES
            message.pointee.l7_rules = rules
        case .kafka(let kafkaRules):
            let rules = arena.new(Cilium__KafkaNetworkPolicyRules())
            cilium__kafka_network_policy_rules__init(rules)
            let list = kafkaRules.map { rule -> UnsafeMutablePointer<Cilium__KafkaNetworkPolicyRule>? in
                let kafka = arena.new(Cilium__KafkaNetworkPolicyRule())
                cilium__kafka_network_policy_rule__init(kafka)
                kafka.pointee.api_version = rule.apiVersion
                kafka.pointee.n_api_keys = rule.apiKeys.count
                kafka.pointee.api_keys = arena.array(rule.apiKeys)
                kafka.pointee.client_id = arena.string(rule.clientID)
                kafka.pointee.topic = arena.string(rule.topic)
                return kafka
            }
            rules.pointee.n_kafka_rules = list.count
            rules.pointee.kafka_rules = arena.array(list)
            message.pointee.l7_case = CILIUM__PORT_NETWORK_POLICY_RULE__L7_KAFKA_RULES
            message.pointee.kafka_rules = rules
        }
        return message
    }
}

/// Memory for one message tree of protobuf-c structs, freed with the arena. The structs are plain C data:
/// nothing to deinitialize.
private final class CArena {
    private var blocks: [UnsafeMutableRawPointer] = []

    deinit {
        for block in blocks { free(block) }
    }

    func new<T>(_ value: T) -> UnsafeMutablePointer<T> {
        let pointer = allocate(T.self, count: 1)
        pointer.initialize(to: value)
        return pointer
    }

    /// A C array of `items`; nil when empty (protobuf-c reads nothing then).
    func array<T>(_ items: [T]) -> UnsafeMutablePointer<T>? {
        guard !items.isEmpty else { return nil }
        let pointer = allocate(T.self, count: items.count)
        pointer.initialize(from: items, count: items.count)
        return pointer
    }

    func string(_ string: String) -> UnsafeMutablePointer<CChar> {
        let copy = strdup(string)!
        blocks.append(UnsafeMutableRawPointer(copy))
        return copy
    }

    func bytes(_ bytes: [UInt8]) -> UnsafeMutablePointer<UInt8>? {
        array(bytes)
    }

    private func allocate<T>(_ type: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        let raw = malloc(max(1, MemoryLayout<T>.stride * count))!
        blocks.append(raw)
        return raw.bindMemory(to: T.self, capacity: count)
    }
}
