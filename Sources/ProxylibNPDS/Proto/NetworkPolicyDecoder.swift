import CCiliumProto
import ProxylibCore

extension NPDSCodec {
    /// Decodes one `cilium.NetworkPolicy` into the policy model and checks it as upstream's generated
    /// `Validate()` does. Throws `PolicyError` naming the field at fault.
    public static func decodeNetworkPolicy(_ bytes: [UInt8]) throws -> NetworkPolicyConfig {
        try bytes.withUnsafeBytes { try decodeNetworkPolicy($0) }
    }

    /// Decodes one `cilium.NetworkPolicy`; see `decodeNetworkPolicy(_: [UInt8])`.
    public static func decodeNetworkPolicy(_ bytes: UnsafeRawBufferPointer) throws -> NetworkPolicyConfig {
        guard let message = unpack(bytes, cilium__network_policy__unpack) else {
            throw PolicyError("policy unmarshal error: malformed cilium.NetworkPolicy (\(bytes.count) bytes)")
        }
        defer { cilium__network_policy__free_unpacked(message, nil) }

        var reader = NetworkPolicyReader()
        let config: NetworkPolicyConfig
        do {
            config = try reader.networkPolicy(message.pointee)
        } catch let error as PolicyError {
            throw PolicyError("policy unmarshal error: \(error.description)")
        }
        // Upstream looks for the endpoint IPs before running the validator, with its own message.
        if config.endpointIPs.isEmpty {
            throw PolicyError("policy has no endpoint_ips")
        }
        if let violation = reader.firstViolation {
            throw PolicyError("policy validation error for endpoint \(config.endpointID): \(violation)")
        }
        return config
    }
}

/// Walks an unpacked `cilium.NetworkPolicy`: converts it, throws for strings that are not UTF-8 (as Go's
/// unmarshal does) and remembers the first rule of upstream's protoc-gen-validate annotations it breaks.
/// Validation does not stop the walk, so that a decoding error anywhere wins over a validation error, as
/// in Go where unmarshalling precedes `Validate()`.
///
/// The rules (cilium/proxy `cilium/api/npds.proto`): endpoint_ips 1–2 items, none empty; port, end_port and
/// proxy_id at most 65535; server_names items SNI patterns; http_rules and kafka_rules lists not empty;
/// Kafka client_id and topic from `[a-zA-Z0-9._-]`, topic at most 255 characters. The HTTP header
/// matchers' own rules are not checked: proxylib does not decode HTTP rules.
struct NetworkPolicyReader {
    private(set) var firstViolation: String?

    private mutating func violation(_ reason: @autoclosure () -> String) {
        if firstViolation == nil { firstViolation = reason() }
    }

    mutating func networkPolicy(_ message: Cilium__NetworkPolicy) throws -> NetworkPolicyConfig {
        var ips: [String] = []
        for index in 0..<message.n_endpoint_ips {
            let ip = try NPDSCodec.utf8(message.endpoint_ips[index], "endpoint_ips[\(index)]")
            if ip.isEmpty { violation("endpoint_ips[\(index)] is empty") }
            ips.append(ip)
        }
        if ips.count > 2 { violation("endpoint_ips has \(ips.count) items, at most 2 are allowed") }
        return NetworkPolicyConfig(
            endpointIPs: ips,
            endpointID: message.endpoint_id,
            ingress: try portPolicies(message.ingress_per_port_policies, message.n_ingress_per_port_policies,
                                      "ingress_per_port_policies"),
            egress: try portPolicies(message.egress_per_port_policies, message.n_egress_per_port_policies,
                                     "egress_per_port_policies"))
    }

    private mutating func portPolicies(_ items: UnsafeMutablePointer<UnsafeMutablePointer<Cilium__PortNetworkPolicy>?>?,
                                       _ count: Int, _ path: String) throws -> [PortNetworkPolicyConfig] {
        var result: [PortNetworkPolicyConfig] = []
        for index in 0..<count {
            guard let item = items?[index] else { continue }
            result.append(try portPolicy(item.pointee, "\(path)[\(index)]"))
        }
        return result
    }

    private mutating func portPolicy(_ message: Cilium__PortNetworkPolicy, _ path: String) throws -> PortNetworkPolicyConfig {
        checkPort(message.port, "\(path).port")
        checkPort(message.end_port, "\(path).end_port")
        var rules: [PortNetworkPolicyRuleConfig] = []
        for index in 0..<message.n_rules {
            guard let rule = message.rules[index] else { continue }
            rules.append(try self.rule(rule.pointee, "\(path).rules[\(index)]"))
        }
        return PortNetworkPolicyConfig(port: message.port, endPort: message.end_port,
                                       transport: TransportProtocol(rawValue: Int32(truncatingIfNeeded: message.protocol.rawValue)),
                                       rules: rules)
    }

    private mutating func checkPort(_ value: UInt32, _ path: @autoclosure () -> String) {
        if value > 65535 { violation("\(path()) is \(value), more than 65535") }
    }

    private mutating func rule(_ message: Cilium__PortNetworkPolicyRule, _ path: String) throws -> PortNetworkPolicyRuleConfig {
        checkPort(message.proxy_id, "\(path).proxy_id")
        // Read for the UTF-8 check only: proxylib does not use the rule name.
        _ = try NPDSCodec.utf8(message.name, "\(path).name")
        for index in 0..<message.n_server_names {
            let name = try NPDSCodec.utf8(message.server_names[index], "\(path).server_names[\(index)]")
            if !SNIPattern.isValid(name) {
                violation("\(path).server_names[\(index)] \"\(name)\" is not a valid SNI pattern")
            }
        }
        let remotes = message.n_remote_policies == 0
            ? [] : Array(UnsafeBufferPointer(start: message.remote_policies, count: message.n_remote_policies))
        return PortNetworkPolicyRuleConfig(
            deny: message.verdict_case == CILIUM__PORT_NETWORK_POLICY_RULE__VERDICT_DENY && message.deny != 0,
            remotePolicies: remotes,
            l7Proto: try NPDSCodec.utf8(message.l7_proto, "\(path).l7_proto"),
            l7: try l7Rules(message, path))
    }

    private mutating func l7Rules(_ message: Cilium__PortNetworkPolicyRule, _ path: String) throws -> L7RulesConfig? {
        switch message.l7_case {
        case CILIUM__PORT_NETWORK_POLICY_RULE__L7_HTTP_RULES:
            if (message.http_rules?.pointee.n_http_rules ?? 0) == 0 {
                violation("\(path).http_rules.http_rules must have at least 1 item")
            }
            return .http
        case CILIUM__PORT_NETWORK_POLICY_RULE__L7_KAFKA_RULES:
            var rules: [KafkaRuleConfig] = []
            if let list = message.kafka_rules?.pointee {
                for index in 0..<list.n_kafka_rules {
                    guard let rule = list.kafka_rules[index] else { continue }
                    rules.append(try kafkaRule(rule.pointee, "\(path).kafka_rules.kafka_rules[\(index)]"))
                }
            }
            if rules.isEmpty { violation("\(path).kafka_rules.kafka_rules must have at least 1 item") }
            return .kafka(rules)
        case CILIUM__PORT_NETWORK_POLICY_RULE__L7_L7_RULES:
            guard let list = message.l7_rules?.pointee else { return .generic(allow: [], deny: []) }
            return .generic(
                allow: try keyValueRules(list.l7_allow_rules, list.n_l7_allow_rules, "\(path).l7_rules.l7_allow_rules"),
                deny: try keyValueRules(list.l7_deny_rules, list.n_l7_deny_rules, "\(path).l7_rules.l7_deny_rules"))
        default:
            return nil
        }
    }

    private mutating func kafkaRule(_ message: Cilium__KafkaNetworkPolicyRule, _ path: String) throws -> KafkaRuleConfig {
        let clientID = try NPDSCodec.utf8(message.client_id, "\(path).client_id")
        let topic = try NPDSCodec.utf8(message.topic, "\(path).topic")
        if !Self.isKafkaName(clientID) {
            violation("\(path).client_id \"\(clientID)\" does not match ^[a-zA-Z0-9._-]*$")
        }
        // The validator counts characters (runes), not bytes.
        let topicLength = topic.unicodeScalars.count
        if topicLength > 255 {
            violation("\(path).topic is \(topicLength) characters long, at most 255 are allowed")
        } else if !Self.isKafkaName(topic) {
            violation("\(path).topic \"\(topic)\" does not match ^[a-zA-Z0-9._-]*$")
        }
        let keys = message.n_api_keys == 0
            ? [] : Array(UnsafeBufferPointer(start: message.api_keys, count: message.n_api_keys))
        return KafkaRuleConfig(apiVersion: message.api_version, apiKeys: keys, clientID: clientID, topic: topic)
    }

    private func keyValueRules(_ items: UnsafeMutablePointer<UnsafeMutablePointer<Cilium__L7NetworkPolicyRule>?>?,
                               _ count: Int, _ path: String) throws -> [L7KeyValueRule] {
        var result: [L7KeyValueRule] = []
        for index in 0..<count {
            guard let rule = items?[index]?.pointee else { continue }
            _ = try NPDSCodec.utf8(rule.name, "\(path)[\(index)].name")
            var map: L7KeyValueRule = [:]
            for entryIndex in 0..<rule.n_rule {
                guard let entry = rule.rule[entryIndex]?.pointee else { continue }
                // A key repeated on the wire keeps its last value, as protobuf maps do.
                map[try NPDSCodec.utf8(entry.key, "\(path)[\(index)].rule key")] =
                    try NPDSCodec.utf8(entry.value, "\(path)[\(index)].rule value")
            }
            result.append(map)
        }
        return result
    }

    /// `^[a-zA-Z0-9._-]*$`.
    static func isKafkaName(_ name: String) -> Bool {
        name.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                return true
            default:
                return false
            }
        }
    }
}

/// The `server_names` item pattern of `cilium.PortNetworkPolicyRule`: dot-separated labels, each `*`, `**`,
/// or characters from `[-a-zA-Z0-9_]` with single `*` wildcards between or around them (never two in a row).
enum SNIPattern {
    static func isValid(_ pattern: String) -> Bool {
        pattern.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false).allSatisfy(isValidLabel)
    }

    private static func isValidLabel(_ label: Substring.UTF8View.SubSequence) -> Bool {
        if label.elementsEqual("*".utf8) || label.elementsEqual("**".utf8) { return true }
        var sawNameCharacter = false
        var previousWasStar = false
        for byte in label {
            if byte == UInt8(ascii: "*") {
                if previousWasStar { return false }
                previousWasStar = true
            } else if isNameCharacter(byte) {
                sawNameCharacter = true
                previousWasStar = false
            } else {
                return false
            }
        }
        return sawNameCharacter
    }

    private static func isNameCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
            return true
        default:
            return false
        }
    }
}
