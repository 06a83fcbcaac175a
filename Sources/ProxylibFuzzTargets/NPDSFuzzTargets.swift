import CCiliumProto
import CDatapath
import CProxylib
import CiliumProxylib
import ProxylibCore
import ProxylibNPDS
import Synchronization

/// The NPDS fuzz targets: a `DiscoveryResponse` through decode → validate → compile → publish, as the NPDS
/// client applies it (`NPDSStreamState.handleResponse`), against one library instance.
///
/// - `npds-response`: the fuzzer's bytes are the response message.
/// - `npds-policy`: structure-aware: the bytes choose a `NetworkPolicy` (endpoint IPs, ports and ranges,
///   protocols, rules with remotes, deny, l7_proto and key/value allow and deny rules for r2d2 and
///   test.headerparser, regular expressions valid and not), encoded by `WireEncoder`. Also checked: protobuf-c
///   decodes the policy into exactly the model it was built from, or the model breaks a validation rule.
///
/// Checked for both: an ACK publishes one new snapshot and the reply carries its version and no error; a NACK
/// publishes nothing and the reply carries a reason; the reply always decodes as a `DiscoveryRequest`; after
/// an ACK, requests through the datapath on connections the policy may cover are answered (no trap).
public enum NPDSFuzzTargets {
    public static let response = FuzzTarget(name: "npds-response", summary: "DiscoveryResponse bytes → decode, validate, compile",
                                            prepare: NPDSFuzzDriver.shared.prepare) { bytes in
        try NPDSFuzzDriver.shared.apply(Array(bytes))
    }

    public static let policy = FuzzTarget(name: "npds-policy", summary: "structure-aware NetworkPolicy messages",
                                          prepare: NPDSFuzzDriver.shared.prepare) { bytes in
        var input = FuzzInput(bytes)
        let generated = PolicyGenerator.generate(&input)
        try generated.checkDecoding()
        var response = WireEncoder()
        response.stringField(1, "v\(bytes.count)")
        for resource in generated.resources {
            response.messageField(2) { any in
                any.stringField(1, NPDSCodec.networkPolicyTypeURL)
                any.bytesField(2, resource.bytes)
            }
        }
        response.stringField(4, NPDSCodec.networkPolicyTypeURL)
        response.stringField(5, "nonce")
        try NPDSFuzzDriver.shared.apply(response.bytes)
    }
}

final class NPDSFuzzDriver: Sendable {
    static let shared = NPDSFuzzDriver()

    /// Serializes inputs; holds the instance's id once opened. Each input starts from the empty policy and
    /// leaves it empty again, so inputs are independent and each frees what it allocated (the leak checker
    /// compares allocations per input).
    private let lock = Mutex<UInt64>(0)

    func prepare() {
        lock.withLock { id in
            Diagnostics.setErrorsSilenced(true)
            if id == 0 {
                id = runtime.openModule([("access-log-path", "/nonexistent/proxylib-fuzz-npds.sock")], debug: false)
            }
        }
    }

    func apply(_ message: [UInt8]) throws(FuzzViolation) {
        prepare()
        try lock.withLock { id throws(FuzzViolation) in
            guard let instance = runtime.instances.find(id) else { throw FuzzViolation("no instance") }
            defer { try? instance.updatePolicy([], version: "") }
            var state = NPDSStreamState(nodeID: "fuzz", instance: instance)
            _ = state.initialRequest()
            let generation = instance.policyGenerationNow
            let (reply, outcome) = state.handleResponse(message)
            let published = instance.policyGenerationNow - generation
            let request = try decodeRequest(reply)
            switch outcome {
            case .acked(let version):
                guard published == 1 else { throw FuzzViolation("ACK of \(version) published \(published) snapshots") }
                guard request.version == version, request.error == nil else {
                    throw FuzzViolation("ACK reply has version \(request.version.debugDescription), error \(String(describing: request.error))")
                }
                try probe(instance: id)
            case .nacked(let reason):
                guard published == 0 else { throw FuzzViolation("NACK (\(reason)) published \(published) snapshots") }
                guard let error = request.error, !error.isEmpty else { throw FuzzViolation("NACK reply without a reason") }
            }
        }
    }

    /// The fields of a reply that matter here; throws when protobuf-c cannot decode it.
    private func decodeRequest(_ bytes: [UInt8]) throws(FuzzViolation) -> (version: String, error: String?) {
        let decoded = bytes.withUnsafeBufferPointer {
            envoy__service__discovery__v3__discovery_request__unpack(nil, $0.count, $0.baseAddress)
        }
        guard let decoded else { throw FuzzViolation("the reply does not decode as a DiscoveryRequest") }
        defer { envoy__service__discovery__v3__discovery_request__free_unpacked(decoded, nil) }
        let version = decoded.pointee.version_info.map { String(cString: $0) } ?? ""
        let error = decoded.pointee.error_detail.map { status in status.pointee.message.map { String(cString: $0) } ?? "" }
        return (version, error)
    }

    /// Requests through the datapath on connections the policy may cover; a failure to answer is the
    /// engine's to report (crash), the result is not checked against the fuzzed policy.
    private func probe(instance: UInt64) throws(FuzzViolation) {
        let requests: [(String, String)] = [
            ("r2d2", "READ /public/a\r\nWRITE /tmp/secret\r\nHALT\r\n"),
            ("test.headerparser", "allow this\nbeer at the end\nseven\n"),
        ]
        var toServer = dp_buf(), toClient = dp_buf()
        defer { dp_buf_free(&toServer); dp_buf_free(&toClient) }
        for (parser, request) in requests {
            for (ingress, remote, endpoint, destination) in [(true, UInt32(1), "1.1.1.1", "10.0.0.2:80"),
                                                              (false, 7, "10.0.0.2", "1.1.1.1:8080"),
                                                              (true, 9, "::1", "[fd00::1]:65535")] {
                var connection: OpaquePointer?
                let id = NPDSFuzzDriver.nextConnectionID.add(1, ordering: .relaxed).newValue
                let result = dp_conn_new(&DatapathLibrary.entryPoints, instance, parser, id, ingress ? 1 : 0, remote,
                                         remote, "1.2.3.4:5", destination, endpoint, &connection)
                guard result == FILTER_OK, let connection else {
                    throw FuzzViolation("OnNewConnection(\(parser)) returned \(String(cString: dp_result_name(result)))")
                }
                defer { dp_conn_free(connection) }
                var bytes = Array(request.utf8)
                let answer = dp_filter_on_data(connection, &bytes, bytes.count, 0, &toServer, &toClient)
                guard answer == FILTER_OK else {
                    throw FuzzViolation("\(parser) request answered \(String(cString: dp_result_name(answer)))")
                }
            }
        }
    }

    private static let nextConnectionID = Atomic<UInt64>(1 << 40)
}

/// A `NetworkPolicy` chosen by the fuzzer: its wire form and the model the decoder must produce.
struct GeneratedPolicy {
    var bytes: [UInt8]
    var model: NetworkPolicyConfig
    /// A validation rule the model breaks (the decoder must reject it), if any.
    var violation: String?
}

struct GeneratedResponse {
    var resources: [GeneratedPolicy]

    /// protobuf-c's decoding of each policy equals its model, or the model breaks a validation rule.
    func checkDecoding() throws(FuzzViolation) {
        for resource in resources {
            do {
                let decoded = try NPDSCodec.decodeNetworkPolicy(resource.bytes)
                if let violation = resource.violation {
                    throw FuzzViolation("policy accepted although \(violation)")
                }
                guard decoded == resource.model else {
                    throw FuzzViolation("decoded \(decoded), built \(resource.model)")
                }
            } catch let error as FuzzViolation {
                throw error
            } catch {
                if resource.violation == nil {
                    throw FuzzViolation("valid policy rejected: \(error); model \(resource.model)")
                }
            }
        }
    }
}

enum PolicyGenerator {
    static let ips = ["1.1.1.1", "10.0.0.2", "::1", "fd00::1", ""]
    static let ports: [UInt32] = [80, 0, 8080, 65535, 65536, 1, 443]
    static let endPorts: [UInt32] = [0, 0, 81, 65535, 70000]
    static let remotes: [UInt32] = [1, 7, 9, 2, 16_777_215]
    static let parsers = ["r2d2", "test.headerparser", "", "envoy.http", "unknown.parser", "test.lineparser"]
    static let keys = ["cmd", "file", "prefix", "contains", "suffix", "bogus"]
    static let values = ["READ", "WRITE", "HALT", "RESET", "^/public/", "s.*", "(a+)+$", "[", "(?P<n>x)", "\\1",
                         "beer", "end", "", "a|b", "(?i)CASE", "x{1001}", "\\pL", "é"]

    static func generate(_ input: inout FuzzInput) -> GeneratedResponse {
        var resources: [GeneratedPolicy] = []
        let count = 1 + input.choose(3)
        for _ in 0..<count { resources.append(policy(&input)) }
        return GeneratedResponse(resources: resources)
    }

    static func policy(_ input: inout FuzzInput) -> GeneratedPolicy {
        var wire = WireEncoder()
        var violation: String?
        var endpointIPs: [String] = []
        for _ in 0..<(input.choose(8) == 0 ? input.choose(4) : 1 + input.choose(2)) {
            let ip = input.choose(6) == 0 ? text(&input) : input.pick(ips)
            endpointIPs.append(ip)
            if ip.isEmpty { violation = "an endpoint IP is empty" }
        }
        if endpointIPs.isEmpty || endpointIPs.count > 2 { violation = "\(endpointIPs.count) endpoint IPs" }
        let endpointID = UInt64(input.uint16())
        for ip in endpointIPs { wire.stringField(1, ip) }
        if endpointID != 0 { wire.varintField(2, endpointID) }
        var directions: [[PortNetworkPolicyConfig]] = [[], []]
        for direction in 0..<2 {
            for _ in 0..<input.choose(3) {
                let (port, broken) = portPolicy(&input, wire: &wire, field: UInt64(3 + direction))
                directions[direction].append(port)
                if let broken { violation = broken }
            }
        }
        let model = NetworkPolicyConfig(endpointIPs: endpointIPs, endpointID: endpointID,
                                        ingress: directions[0], egress: directions[1])
        return GeneratedPolicy(bytes: wire.bytes, model: model, violation: violation)
    }

    static func portPolicy(_ input: inout FuzzInput, wire: inout WireEncoder, field: UInt64) -> (PortNetworkPolicyConfig, String?) {
        let port = input.pick(ports), endPort = input.pick(endPorts)
        let udp = input.choose(5) == 0
        var violation: String?
        if port > 65535 { violation = "port \(port)" }
        if endPort > 65535 { violation = "end_port \(endPort)" }
        var rules: [PortNetworkPolicyRuleConfig] = []
        var ruleWires: [[UInt8]] = []
        for _ in 0..<input.choose(4) {
            var ruleWire = WireEncoder()
            rules.append(rule(&input, wire: &ruleWire))
            ruleWires.append(ruleWire.bytes)
        }
        wire.messageField(field) { message in
            if port != 0 { message.varintField(1, UInt64(port)) }
            if udp { message.varintField(2, 1) }
            for ruleWire in ruleWires { message.bytesField(3, ruleWire) }
            if endPort != 0 { message.varintField(4, UInt64(endPort)) }
        }
        return (PortNetworkPolicyConfig(port: port, endPort: endPort, transport: udp ? .udp : .tcp, rules: rules), violation)
    }

    static func rule(_ input: inout FuzzInput, wire: inout WireEncoder) -> PortNetworkPolicyRuleConfig {
        let deny = input.choose(4) == 0
        var remoteIDs: [UInt32] = []
        for _ in 0..<input.choose(4) { remoteIDs.append(input.pick(remotes)) }
        let parser = input.pick(parsers)
        var l7: L7RulesConfig?
        if input.choose(3) != 0 {
            var allow: [L7KeyValueRule] = [], denyRules: [L7KeyValueRule] = []
            for _ in 0..<input.choose(4) { allow.append(keyValueRule(&input)) }
            for _ in 0..<input.choose(3) { denyRules.append(keyValueRule(&input)) }
            l7 = .generic(allow: allow, deny: denyRules)
        }
        wire.stringField(5, "rule")
        if !parser.isEmpty { wire.stringField(2, parser) }
        wire.repeatedVarint(7, remoteIDs.map(UInt64.init), packed: input.bool())
        if deny { wire.varintField(8, 1) }
        if case let .generic(allow, denyRules) = l7 {
            wire.messageField(102) { rules in
                for map in allow { rules.messageField(1) { encode(map, into: &$0) } }
                for map in denyRules { rules.messageField(2) { encode(map, into: &$0) } }
            }
        }
        return PortNetworkPolicyRuleConfig(deny: deny, remotePolicies: remoteIDs, l7Proto: parser, l7: l7)
    }

    static func keyValueRule(_ input: inout FuzzInput) -> L7KeyValueRule {
        var rule: L7KeyValueRule = [:]
        for _ in 0..<input.choose(3) {
            rule[input.pick(keys)] = input.choose(4) == 0 ? text(&input) : input.pick(values)
        }
        return rule
    }

    static func encode(_ rule: L7KeyValueRule, into wire: inout WireEncoder) {
        for (key, value) in rule.sorted(by: { $0.key < $1.key }) {
            wire.messageField(1) { entry in
                entry.stringField(1, key)
                entry.stringField(2, value)
            }
        }
    }

    /// Fuzzer-chosen text without NUL (protobuf-c's `char *` strings end at a NUL: a known limit, see HARDENING.md).
    static func text(_ input: inout FuzzInput) -> String {
        String(decoding: input.shortBytes().map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
    }
}
