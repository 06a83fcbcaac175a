import ProxylibCore

/// A `kafka_rules` entry (upstream's semantics): `api_keys` (empty: any), `api_version` (negative: any),
/// `client_id` (empty: any), `topic` (empty: any). The topic condition applies to request types that name
/// topics; such a request is allowed when every topic it names is allowed by some matching rule, and a
/// topic rule never allows one that names no topic (a Metadata request for all topics).
struct KafkaRule: L7Rule {
    var apiKeys: [Int16]
    var apiVersion: Int16
    var clientID: [UInt8]
    var topic: [UInt8]

    init(_ config: KafkaRuleConfig) {
        // Narrowed as upstream narrows them (Go int16 conversions).
        apiKeys = config.apiKeys.map { Int16(truncatingIfNeeded: $0) }
        apiVersion = Int16(truncatingIfNeeded: config.apiVersion)
        clientID = Array(config.clientID.utf8)
        topic = Array(config.topic.utf8)
    }

    static let ruleParser = L7RuleParser { config in
        switch config.l7 {
        case .kafka(let rules)?:
            return L7RuleSet(allow: rules.map(KafkaRule.init))
        case .generic?:
            throw PolicyError("kafka: rules must be given as kafka_rules, not l7_rules")
        case .http?, nil:
            return L7RuleSet()
        }
    }

    func matches(_ request: KafkaRequest) -> Bool {
        if !apiKeys.isEmpty && !apiKeys.contains(request.apiKey) { return false }
        if apiVersion >= 0 && apiVersion != request.apiVersion { return false }
        if !clientID.isEmpty {
            guard let client = request.clientID, ASCII.equals(client, clientID) else { return false }
        }
        if topic.isEmpty || !request.namesTopics { return true }
        var coveredAny = false
        var allCovered = true
        for index in request.topics.indices {
            if !request.covered[index] && ASCII.equals(request.topics[index], topic) {
                request.covered[index] = true
                coveredAny = true
            }
            if !request.covered[index] { allCovered = false }
        }
        return coveredAny && allCovered
    }
}
