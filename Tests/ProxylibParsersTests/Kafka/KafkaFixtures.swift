import ProxylibCore

/// Builders for the Kafka tests: policies with `kafka_rules`, hex, and request/response frames.
enum KF {
    static func hex(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var digits = text.filter { !$0.isWhitespace }.makeIterator()
        while let high = digits.next(), let low = digits.next() {
            bytes.append(UInt8(String([high, low]), radix: 16)!)
        }
        return bytes
    }

    /// An ingress policy for 1.1.1.1 port 80: one port rule for remote 1000 with `rules` (nil: no L7 rules).
    static func policy(_ rules: [KafkaRuleConfig]?, l7Proto: String = "kafka", remotes: [UInt32] = [1000]) -> NetworkPolicyConfig {
        let rule = PortNetworkPolicyRuleConfig(remotePolicies: remotes, l7Proto: l7Proto, l7: rules.map { .kafka($0) })
        return NetworkPolicyConfig(endpointIPs: ["1.1.1.1"], endpointID: 2000,
                                   ingress: [PortNetworkPolicyConfig(port: 80, rules: [rule])])
    }

    static func rule(version: Int32 = -1, keys: [Int32] = [], client: String = "", topic: String = "") -> KafkaRuleConfig {
        KafkaRuleConfig(apiVersion: version, apiKeys: keys, clientID: client, topic: topic)
    }

    // MARK: Encoding (non-flexible and flexible primitives, for hand-built vectors)

    static func int16(_ value: Int16) -> [UInt8] { withUnsafeBytes(of: value.bigEndian, Array.init) }
    static func int32(_ value: Int32) -> [UInt8] { withUnsafeBytes(of: value.bigEndian, Array.init) }
    static func int64(_ value: Int64) -> [UInt8] { withUnsafeBytes(of: value.bigEndian, Array.init) }
    static func string(_ text: String?) -> [UInt8] {
        guard let text else { return int16(-1) }
        return int16(Int16(text.utf8.count)) + Array(text.utf8)
    }
    static func uvarint(_ value: UInt32) -> [UInt8] {
        var rest = value
        var out: [UInt8] = []
        while rest >= 0x80 {
            out.append(UInt8(rest & 0x7F) | 0x80)
            rest >>= 7
        }
        out.append(UInt8(rest))
        return out
    }
    static func compactString(_ text: String?) -> [UInt8] {
        guard let text else { return [0] }
        return uvarint(UInt32(text.utf8.count + 1)) + Array(text.utf8)
    }
    static func compactCount(_ count: Int) -> [UInt8] { uvarint(UInt32(count + 1)) }

    /// Size prefix + request header (v1, or v2 with an empty tagged section when `flexible`) + body.
    static func request(key: Int16, version: Int16, correlation: Int32, client: String? = "client", flexible: Bool = false,
                        body: [UInt8]) -> [UInt8] {
        var frame = int16(key) + int16(version) + int32(correlation) + string(client)
        if flexible { frame.append(0) }
        frame += body
        return int32(Int32(frame.count)) + frame
    }

    /// Size prefix + response header (v0, or v1 with an empty tagged section) + body.
    static func response(correlation: Int32, flexible: Bool = false, body: [UInt8]) -> [UInt8] {
        var frame = int32(correlation)
        if flexible { frame.append(0) }
        frame += body
        return int32(Int32(frame.count)) + frame
    }

    /// Produce v3 (non-flexible): topics with partitions, each carrying a few opaque record bytes.
    static func produceV3(correlation: Int32, acks: Int16 = 1, topics: [(String, [Int32])], client: String? = "client") -> [UInt8] {
        var body = string(nil) + int16(acks) + int32(1000) + int32(Int32(topics.count))
        for (name, partitions) in topics {
            body += string(name) + int32(Int32(partitions.count))
            for partition in partitions { body += int32(partition) + int32(3) + [1, 2, 3] }
        }
        return request(key: 0, version: 3, correlation: correlation, client: client, body: body)
    }

    /// The denial of `produceV3`: every partition with error 29, base offset -1, log append time -1.
    static func produceV3Denial(correlation: Int32, topics: [(String, [Int32])]) -> [UInt8] {
        var body = int32(Int32(topics.count))
        for (name, partitions) in topics {
            body += string(name) + int32(Int32(partitions.count))
            for partition in partitions { body += int32(partition) + int16(29) + int64(-1) + int64(-1) }
        }
        body += int32(0)
        return response(correlation: correlation, body: body)
    }

    /// A Produce v3 response with no error for each partition.
    static func produceV3Response(correlation: Int32, topics: [(String, [Int32])]) -> [UInt8] {
        var body = int32(Int32(topics.count))
        for (name, partitions) in topics {
            body += string(name) + int32(Int32(partitions.count))
            for partition in partitions { body += int32(partition) + int16(0) + int64(7) + int64(-1) }
        }
        body += int32(0)
        return response(correlation: correlation, body: body)
    }
}
