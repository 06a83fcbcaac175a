/// The policy as delivered by NPDS (`cilium.NetworkPolicy` and its children), reduced to what proxylib reads.
/// The NPDS client decodes protobuf into these; tests may build them directly.
public struct NetworkPolicyConfig: Equatable, Sendable {
    public var endpointIPs: [String]
    public var endpointID: UInt64
    public var ingressPerPortPolicies: [PortNetworkPolicyConfig]
    public var egressPerPortPolicies: [PortNetworkPolicyConfig]

    public init(endpointIPs: [String], endpointID: UInt64 = 0,
                ingress: [PortNetworkPolicyConfig] = [], egress: [PortNetworkPolicyConfig] = []) {
        self.endpointIPs = endpointIPs
        self.endpointID = endpointID
        self.ingressPerPortPolicies = ingress
        self.egressPerPortPolicies = egress
    }
}

/// `envoy.config.core.v3.SocketAddress.Protocol`; other values are kept to be rejected.
public enum TransportProtocol: Equatable, Sendable {
    case tcp
    case udp
    case other(Int32)

    public init(rawValue: Int32) {
        switch rawValue {
        case 0: self = .tcp
        case 1: self = .udp
        default: self = .other(rawValue)
        }
    }
}

/// `cilium.PortNetworkPolicy`.
public struct PortNetworkPolicyConfig: Equatable, Sendable {
    /// 0 is the wildcard port.
    public var port: UInt32
    /// Non-zero: the policy covers `port...endPort`.
    public var endPort: UInt32
    public var transport: TransportProtocol
    /// Empty: everything on the port is allowed.
    public var rules: [PortNetworkPolicyRuleConfig]

    public init(port: UInt32, endPort: UInt32 = 0, transport: TransportProtocol = .tcp,
                rules: [PortNetworkPolicyRuleConfig] = []) {
        self.port = port
        self.endPort = endPort
        self.transport = transport
        self.rules = rules
    }
}

/// One `cilium.L7NetworkPolicyRule`: a map of rule keys to values.
public typealias L7KeyValueRule = [String: String]

/// `cilium.KafkaNetworkPolicyRule`.
public struct KafkaRuleConfig: Equatable, Sendable {
    /// < 0: any version.
    public var apiVersion: Int32
    /// Empty: any key.
    public var apiKeys: [Int32]
    public var clientID: String
    public var topic: String

    public init(apiVersion: Int32 = -1, apiKeys: [Int32] = [], clientID: String = "", topic: String = "") {
        self.apiVersion = apiVersion
        self.apiKeys = apiKeys
        self.clientID = clientID
        self.topic = topic
    }
}

/// The `l7` oneof of `cilium.PortNetworkPolicyRule`.
public enum L7RulesConfig: Equatable, Sendable {
    /// `http_rules`: enforced by Envoy itself, never by proxylib.
    case http
    /// `kafka_rules`.
    case kafka([KafkaRuleConfig])
    /// `l7_rules`: generic key/value rules for proxylib parsers.
    case generic(allow: [L7KeyValueRule], deny: [L7KeyValueRule])

    /// The rule-parser name selected by the oneof when `l7_proto` is empty. `kafka_rules` selects the Kafka
    /// rule parser (upstream looked up a Go type name here that no parser registers, cilium/proxy behaviour
    /// we deliberately fix); the others keep upstream's names, which no built-in parser registers.
    public var ruleParserName: String {
        switch self {
        case .http: return "PortNetworkPolicyRule_HttpRules"
        case .kafka: return "kafka"
        case .generic: return "PortNetworkPolicyRule_L7Rules"
        }
    }
}

/// `cilium.PortNetworkPolicyRule`.
public struct PortNetworkPolicyRuleConfig: Equatable, Sendable {
    public var deny: Bool
    /// Empty: any remote.
    public var remotePolicies: [UInt32]
    /// The parser name for non-builtin L7 protocols; selects the rule parser.
    public var l7Proto: String
    public var l7: L7RulesConfig?

    public init(deny: Bool = false, remotePolicies: [UInt32] = [], l7Proto: String = "", l7: L7RulesConfig? = nil) {
        self.deny = deny
        self.remotePolicies = remotePolicies
        self.l7Proto = l7Proto
        self.l7 = l7
    }
}
