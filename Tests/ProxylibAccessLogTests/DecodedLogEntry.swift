import CCiliumProto
import Glibc

/// A `cilium.LogEntry` decoded with protobuf-c's `cilium__log_entry__unpack`, copied into Swift values.
/// Strings are kept as bytes and also decoded strictly (nil when not valid UTF-8, which Go's and Python's
/// protobuf decoders would reject).
struct DecodedLogEntry: Equatable {
    enum L7: Equatable {
        case none
        case http
        case generic(proto: String?, fields: [Field])
        case kafka(correlationID: Int32, errorCode: Int32, apiVersion: Int32, apiKey: Int32, topics: [String?])
    }

    struct Field: Equatable {
        var key: String?
        var value: String?
    }

    var timestamp: UInt64
    var entryType: UInt32
    var policyName: String?
    var ciliumRuleRef: String?
    var sourceSecurityID: UInt32
    var sourceAddress: String?
    var destinationAddress: String?
    var isIngress: Bool
    var destinationSecurityID: UInt32
    var proxyID: UInt32
    var l7: L7

    /// Every string of the entry, for UTF-8 checks: nil entries are invalid UTF-8.
    var allStrings: [String?] {
        var strings = [policyName, ciliumRuleRef, sourceAddress, destinationAddress]
        switch l7 {
        case .none, .http:
            break
        case let .generic(proto, fields):
            strings.append(proto)
            for field in fields {
                strings.append(field.key)
                strings.append(field.value)
            }
        case let .kafka(_, _, _, _, topics):
            strings.append(contentsOf: topics)
        }
        return strings
    }

    /// The generic fields as a dictionary (the wire form is a map).
    var genericFields: [String: String] {
        guard case let .generic(_, fields) = l7 else { return [:] }
        var result: [String: String] = [:]
        for field in fields {
            result[field.key ?? "<invalid>"] = field.value ?? "<invalid>"
        }
        return result
    }

    /// Decodes one packet; nil when protobuf-c rejects it.
    static func decode(_ packet: [UInt8]) -> DecodedLogEntry? {
        packet.withUnsafeBufferPointer { bytes -> DecodedLogEntry? in
            guard let message = cilium__log_entry__unpack(nil, bytes.count, bytes.baseAddress) else { return nil }
            defer { cilium__log_entry__free_unpacked(message, nil) }
            let entry = message.pointee
            let l7: L7
            switch entry.l7_case {
            case CILIUM__LOG_ENTRY__L7_GENERIC_L7:
                let generic = entry.generic_l7.pointee
                let fields = (0..<generic.n_fields).map { index -> Field in
                    let field = generic.fields[index]!.pointee
                    return Field(key: strict(field.key), value: strict(field.value))
                }
                l7 = .generic(proto: strict(generic.proto), fields: fields)
            case CILIUM__LOG_ENTRY__L7_KAFKA:
                let kafka = entry.kafka.pointee
                let topics = (0..<kafka.n_topics).map { strict(kafka.topics[$0]) }
                l7 = .kafka(correlationID: kafka.correlation_id, errorCode: kafka.error_code,
                            apiVersion: kafka.api_version, apiKey: kafka.api_key, topics: topics)
            case CILIUM__LOG_ENTRY__L7_HTTP:
                l7 = .http
            default:
                l7 = .none
            }
            return DecodedLogEntry(
                timestamp: entry.timestamp, entryType: entry.entry_type.rawValue,
                policyName: strict(entry.policy_name), ciliumRuleRef: strict(entry.cilium_rule_ref),
                sourceSecurityID: entry.source_security_id, sourceAddress: strict(entry.source_address),
                destinationAddress: strict(entry.destination_address), isIngress: entry.is_ingress != 0,
                destinationSecurityID: entry.destination_security_id, proxyID: entry.proxy_id, l7: l7)
        }
    }

    /// A C string decoded as strict UTF-8 (nil when invalid).
    private static func strict(_ pointer: UnsafePointer<CChar>?) -> String? {
        guard let pointer else { return "" }
        let bytes = UnsafeRawBufferPointer(start: pointer, count: strlen(pointer))
        return String(validating: bytes, as: UTF8.self)
    }
}

/// The packet re-encoded by protobuf-c (unpacked, then packed again): our encoder's bytes must come back
/// unchanged, i.e. be exactly what protobuf-c itself would write for the same message.
func protobufCRepack(_ packet: [UInt8]) -> [UInt8]? {
    packet.withUnsafeBufferPointer { bytes -> [UInt8]? in
        guard let message = cilium__log_entry__unpack(nil, bytes.count, bytes.baseAddress) else { return nil }
        defer { cilium__log_entry__free_unpacked(message, nil) }
        var repacked = [UInt8](repeating: 0, count: cilium__log_entry__get_packed_size(message))
        let written = repacked.withUnsafeMutableBufferPointer { cilium__log_entry__pack(message, $0.baseAddress) }
        return written == repacked.count ? repacked : nil
    }
}
