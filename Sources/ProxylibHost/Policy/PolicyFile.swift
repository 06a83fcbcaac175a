#if canImport(Glibc)
import Glibc
#endif
import Yams

// The policy file: the `toPorts` part of a CiliumNetworkPolicy rule, as operators write it.
//
//   - ports:                     # one or more; each {port, endPort?, protocol?}
//       - port: "9000"           # number or numeric string, 0 = every port
//         endPort: 9010          # optional range end
//         protocol: TCP          # TCP (default), UDP or ANY (= TCP and UDP)
//     remotes: [1234]            # extension: only these remote identities (default: any)
//     rules:                     # optional: without it the ports allow everything
//       l7proto: r2d2            # a proxylib parser, with its generic rules
//       l7:
//         - cmd: READ
//           file: "^/public/"
//       # or Kafka:
//       # kafka:
//       #   - apiKey: produce      # a name (produce, fetch, …) or a number; or `role: produce|consume`
//       #     apiVersion: "1"      # default any
//       #     clientID: c
//       #     topic: t
//
// The document is that list, or a mapping whose only key `toPorts` holds it. An empty document is an empty
// list: no port is allowed.

/// A policy file the host cannot use: where (path, line, column when known) and why.
struct PolicyFileError: Error, CustomStringConvertible, Sendable {
    let path: String
    let line: Int?
    let column: Int?
    let reason: String

    var description: String {
        var location = path
        if let line {
            location += ":\(line)"
            if let column { location += ":\(column)" }
        }
        return "\(location): \(reason)"
    }
}

/// The policy of one port (range) and protocol, in the shape of `cilium.PortNetworkPolicy`.
struct PortPolicy: Equatable, Sendable {
    enum TransportProtocol: UInt32, Sendable { case tcp = 0, udp = 1 }

    var port: UInt32
    var endPort: UInt32
    var transport: TransportProtocol
    /// Empty: everything is allowed on the port.
    var rules: [PortRule]
}

/// One `cilium.PortNetworkPolicyRule`.
struct PortRule: Equatable, Sendable {
    enum L7: Equatable, Sendable {
        case none
        /// Generic proxylib rules: each rule a map of key → value, in file order.
        case generic([[KeyValue]])
        case kafka([KafkaRule])
    }

    struct KeyValue: Equatable, Sendable {
        var key: String
        var value: String
    }

    var remotePolicies: [UInt32] = []
    var l7Proto: String = ""
    var l7: L7 = .none
}

/// One `cilium.KafkaNetworkPolicyRule`.
struct KafkaRule: Equatable, Sendable {
    /// -1: any version.
    var apiVersion: Int32 = -1
    /// Empty: any API key.
    var apiKeys: [Int32] = []
    var clientID: String = ""
    var topic: String = ""
}

/// Reads a policy file into port policies.
enum PolicyFile {
    /// Reads and parses `path`; throws `PolicyFileError`.
    static func load(path: String) throws(PolicyFileError) -> [PortPolicy] {
        let text: String
        do {
            text = try readFile(path)
        } catch {
            throw PolicyFileError(path: path, line: nil, column: nil, reason: error.reason)
        }
        return try parse(text, path: path)
    }

    /// Parses policy YAML (`path` only names it in errors).
    static func parse(_ text: String, path: String) throws(PolicyFileError) -> [PortPolicy] {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw yamlError(error, path: path)
        } catch {
            throw PolicyFileError(path: path, line: nil, column: nil, reason: "\(error)")
        }
        var reader = Reader(path: path)
        return try reader.document(root)
    }

    // MARK: Kafka names (Cilium's pkg/policy/api/kafka)

    static let kafkaAPIKeys: [String: Int32] = [
        "produce": 0, "fetch": 1, "offsets": 2, "metadata": 3, "leaderandisr": 4, "stopreplica": 5,
        "updatemetadata": 6, "controlledshutdown": 7, "offsetcommit": 8, "offsetfetch": 9,
        "findcoordinator": 10, "joingroup": 11, "heartbeat": 12, "leavegroup": 13, "syncgroup": 14,
        "describegroups": 15, "listgroups": 16, "saslhandshake": 17, "apiversions": 18, "createtopics": 19,
        "deletetopics": 20, "deleterecords": 21, "initproducerid": 22, "offsetforleaderepoch": 23,
        "addpartitionstotxn": 24, "addoffsetstotxn": 25, "endtxn": 26, "writetxnmarkers": 27,
        "txnoffsetcommit": 28, "describeacls": 29, "createacls": 30, "deleteacls": 31, "describeconfigs": 32,
        "alterconfigs": 33,
    ]

    /// Cilium's Kafka roles: the API keys a producer or a consumer needs.
    static let kafkaRoles: [String: [Int32]] = [
        "produce": [0, 3, 18],
        "consume": [1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 18],
    ]

    // MARK: Private

    private struct ReadError: Error {
        let reason: String
    }

    /// The whole file as UTF-8 text.
    private static func readFile(_ path: String) throws(ReadError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ReadError(reason: "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw ReadError(reason: "cannot read: \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
            guard bytes.count <= 16 << 20 else { throw ReadError(reason: "file is larger than 16 MiB") }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ReadError(reason: "file is not valid UTF-8")
        }
        return text
    }

    private static func yamlError(_ error: YamlError, path: String) -> PolicyFileError {
        func located(_ mark: Mark, _ problem: String, _ context: YamlError.Context?) -> PolicyFileError {
            var reason = "YAML syntax error: \(problem)"
            if let context { reason += " (\(context.text) at line \(context.mark.line))" }
            return PolicyFileError(path: path, line: mark.line, column: mark.column, reason: reason)
        }
        switch error {
        case .scanner(let context, let problem, let mark, _),
             .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            return located(mark, problem, context)
        case .duplicatedKeysInMapping(let duplicates, let context):
            return PolicyFileError(path: path, line: context.mark.line, column: context.mark.column,
                                   reason: "duplicate key \(duplicates.joined(separator: ", ")) in a mapping")
        case .reader(let problem, _, _, _):
            return PolicyFileError(path: path, line: nil, column: nil, reason: "cannot read YAML: \(problem)")
        default:
            return PolicyFileError(path: path, line: nil, column: nil, reason: "YAML error: \(error)")
        }
    }

    /// Walks the YAML nodes, failing at the first problem with its position.
    private struct Reader {
        let path: String

        func fail(_ node: Node?, _ reason: String) -> PolicyFileError {
            PolicyFileError(path: path, line: node?.mark?.line, column: node?.mark?.column, reason: reason)
        }

        mutating func document(_ root: Node?) throws(PolicyFileError) -> [PortPolicy] {
            guard let root else { return [] }
            if case .scalar(let scalar) = root, scalar.tag == .init(.null) || scalar.string.isEmpty { return [] }
            if let mapping = root.mapping {
                var list: Node?
                for (key, value) in mapping {
                    guard key.string == "toPorts" else {
                        throw fail(key, "unknown key \"\(key.string ?? "?")\" (the document is a toPorts list or a mapping with the key toPorts)")
                    }
                    list = value
                }
                guard let list else { throw fail(root, "the mapping has no toPorts key") }
                return try toPorts(list)
            }
            return try toPorts(root)
        }

        /// The toPorts list: entries are merged per (port, endPort, protocol), keeping the file order.
        func toPorts(_ node: Node) throws(PolicyFileError) -> [PortPolicy] {
            guard let sequence = node.sequence else {
                throw fail(node, "expected a list of toPorts entries ({ports: [...], rules: {...}})")
            }
            var policies: [PortPolicy] = []
            /// Per port policy: whether some entry allows everything on it (for any remote).
            var allowsAll: [Bool] = []
            for entry in sequence {
                let (ports, rule) = try toPortsEntry(entry)
                for port in ports {
                    let index: Int
                    if let existing = policies.firstIndex(where: {
                        $0.port == port.port && $0.endPort == port.endPort && $0.transport == port.transport
                    }) {
                        index = existing
                    } else {
                        policies.append(port)
                        allowsAll.append(false)
                        index = policies.count - 1
                    }
                    if let rule {
                        policies[index].rules.append(rule)
                    } else {
                        allowsAll[index] = true
                    }
                }
            }
            // A port that one entry opens completely: with other rules on it, an empty rule says "allow
            // everything from anyone"; alone, no rules at all says the same.
            for index in policies.indices where allowsAll[index] && !policies[index].rules.isEmpty {
                policies[index].rules.append(PortRule())
            }
            return policies
        }

        /// One entry: its ports, and its rule (nil: every remote, no L7 rules).
        func toPortsEntry(_ node: Node) throws(PolicyFileError) -> ([PortPolicy], PortRule?) {
            guard let mapping = node.mapping else {
                throw fail(node, "expected a toPorts entry (a mapping with ports and optional rules)")
            }
            var ports: [PortPolicy]?
            var rule = PortRule()
            var hasRule = false
            for (key, value) in mapping {
                switch key.string {
                case "ports":
                    ports = try portList(value)
                case "rules":
                    try rules(value, into: &rule)
                    hasRule = true
                case "remotes":
                    rule.remotePolicies = try remotes(value)
                    hasRule = hasRule || !rule.remotePolicies.isEmpty
                default:
                    throw fail(key, "unknown key \"\(key.string ?? "?")\" in a toPorts entry (expected ports, rules, remotes)")
                }
            }
            guard let ports, !ports.isEmpty else { throw fail(node, "toPorts entry without ports") }
            return (ports, hasRule ? rule : nil)
        }

        func portList(_ node: Node) throws(PolicyFileError) -> [PortPolicy] {
            guard let sequence = node.sequence else {
                throw fail(node, "ports: expected a list of {port, protocol}")
            }
            var result: [PortPolicy] = []
            for item in sequence {
                guard let mapping = item.mapping else { throw fail(item, "ports: expected a mapping {port, protocol}") }
                var port: UInt32?
                var endPort: UInt32 = 0
                var transports: [PortPolicy.TransportProtocol] = [.tcp]
                for (key, value) in mapping {
                    switch key.string {
                    case "port":
                        port = try portNumber(value, "port")
                    case "endPort":
                        endPort = try portNumber(value, "endPort")
                    case "protocol":
                        guard let name = value.scalar?.string else { throw fail(value, "protocol: expected TCP, UDP or ANY") }
                        switch name.uppercased() {
                        case "TCP": transports = [.tcp]
                        case "UDP": transports = [.udp]
                        case "ANY": transports = [.tcp, .udp]
                        default: throw fail(value, "protocol \"\(name)\" is not supported (TCP, UDP or ANY)")
                        }
                    default:
                        throw fail(key, "unknown key \"\(key.string ?? "?")\" in a port (expected port, endPort, protocol)")
                    }
                }
                guard let port else { throw fail(item, "port entry without port") }
                if endPort != 0 && endPort < port {
                    throw fail(item, "endPort \(endPort) is below port \(port)")
                }
                if endPort == port { endPort = 0 }
                for transport in transports {
                    result.append(PortPolicy(port: port, endPort: endPort, transport: transport, rules: []))
                }
            }
            return result
        }

        func portNumber(_ node: Node, _ what: String) throws(PolicyFileError) -> UInt32 {
            guard let text = node.scalar?.string else { throw fail(node, "\(what): expected a port number") }
            guard let number = UInt32(text), number <= 65535 else {
                if !text.isEmpty, text.allSatisfy({ $0.isLetter || $0 == "-" }) {
                    throw fail(node, "\(what) \"\(text)\": named ports are not supported, use a number")
                }
                throw fail(node, "\(what) \"\(text)\" is not a port number (0…65535)")
            }
            return number
        }

        func remotes(_ node: Node) throws(PolicyFileError) -> [UInt32] {
            guard let sequence = node.sequence else { throw fail(node, "remotes: expected a list of identities") }
            var result: [UInt32] = []
            for item in sequence {
                guard let text = item.scalar?.string, let id = UInt32(text) else {
                    throw fail(item, "remotes: \"\(item.string ?? "?")\" is not a numeric identity")
                }
                result.append(id)
            }
            return result
        }

        func rules(_ node: Node, into rule: inout PortRule) throws(PolicyFileError) {
            guard let mapping = node.mapping else {
                throw fail(node, "rules: expected a mapping (l7proto and l7, or kafka)")
            }
            for (key, value) in mapping {
                switch key.string {
                case "l7proto":
                    guard let name = value.scalar?.string, !name.isEmpty else {
                        throw fail(value, "l7proto: expected a parser name")
                    }
                    rule.l7Proto = name
                case "l7":
                    if case .kafka = rule.l7 { throw fail(key, "rules: l7 and kafka cannot be mixed") }
                    rule.l7 = .generic(try genericRules(value))
                case "kafka":
                    if case .generic = rule.l7 { throw fail(key, "rules: l7 and kafka cannot be mixed") }
                    rule.l7 = .kafka(try kafkaRules(value))
                case "http", "dns":
                    throw fail(key, "rules: \(key.string!) rules are enforced by Envoy/the DNS proxy, not by proxylib")
                default:
                    throw fail(key, "unknown key \"\(key.string ?? "?")\" in rules (expected l7proto, l7, kafka)")
                }
            }
            if case .generic = rule.l7, rule.l7Proto.isEmpty {
                throw fail(node, "rules: l7 rules need l7proto (the parser's name)")
            }
        }

        func genericRules(_ node: Node) throws(PolicyFileError) -> [[PortRule.KeyValue]] {
            guard let sequence = node.sequence else { throw fail(node, "l7: expected a list of rules (mappings)") }
            var result: [[PortRule.KeyValue]] = []
            for item in sequence {
                if case .scalar(let scalar) = item, scalar.tag == .init(.null) {
                    result.append([])  // `- {}` / `-` : a rule that matches everything
                    continue
                }
                guard let mapping = item.mapping else { throw fail(item, "l7: each rule is a mapping of key: value") }
                var pairs: [PortRule.KeyValue] = []
                for (key, value) in mapping {
                    guard let name = key.scalar?.string else { throw fail(key, "l7: rule keys must be strings") }
                    guard let text = value.scalar?.string else {
                        throw fail(value, "l7: the value of \"\(name)\" must be a string")
                    }
                    pairs.append(PortRule.KeyValue(key: name, value: text))
                }
                result.append(pairs)
            }
            return result
        }

        func kafkaRules(_ node: Node) throws(PolicyFileError) -> [KafkaRule] {
            guard let sequence = node.sequence else { throw fail(node, "kafka: expected a list of rules") }
            var result: [KafkaRule] = []
            for item in sequence {
                guard let mapping = item.mapping else { throw fail(item, "kafka: each rule is a mapping") }
                var rule = KafkaRule()
                var hasKey = false
                var hasRole = false
                for (key, value) in mapping {
                    guard let text = value.scalar?.string else {
                        throw fail(value, "kafka: the value of \"\(key.string ?? "?")\" must be a string")
                    }
                    switch key.string {
                    case "apiKey":
                        guard !text.isEmpty else { continue }
                        if let number = Int32(text), number >= 0 {
                            rule.apiKeys = [number]
                        } else if let number = PolicyFile.kafkaAPIKeys[text.lowercased()] {
                            rule.apiKeys = [number]
                        } else {
                            throw fail(value, "kafka: unknown apiKey \"\(text)\"")
                        }
                        hasKey = true
                    case "role":
                        guard !text.isEmpty else { continue }
                        guard let keys = PolicyFile.kafkaRoles[text.lowercased()] else {
                            throw fail(value, "kafka: unknown role \"\(text)\" (produce or consume)")
                        }
                        rule.apiKeys = keys
                        hasRole = true
                    case "apiVersion":
                        guard !text.isEmpty else { continue }
                        guard let number = Int32(text), number >= 0 else {
                            throw fail(value, "kafka: apiVersion \"\(text)\" is not a version number")
                        }
                        rule.apiVersion = number
                    case "clientID":
                        rule.clientID = text
                    case "topic":
                        rule.topic = text
                    default:
                        throw fail(key, "unknown key \"\(key.string ?? "?")\" in a kafka rule (expected apiKey, role, apiVersion, clientID, topic)")
                    }
                }
                if hasKey && hasRole { throw fail(item, "kafka: apiKey and role cannot both be set") }
                result.append(rule)
            }
            return result
        }
    }
}

