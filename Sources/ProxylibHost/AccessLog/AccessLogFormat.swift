// One line per cilium.LogEntry: readable text, or one JSON object (--log-json).
//
// Text:  access-log  DENIED   r2d2  10.0.0.1:5555 -> 127.0.0.1:9000  cmd=READ file=/private/x
//        (type padded to 8; protocol; source -> destination; the L7 fields as key=value, generic fields sorted by
//        key, values quoted Go-style when empty or containing spaces, quotes, '=' or control characters)
// JSON:  {"timestamp":…,"entry_type":"Denied","policy_name":"…","source_security_id":1,"source_address":"…",
//         "destination_security_id":2,"destination_address":"…","is_ingress":true,"proxy_id":0,
//         "cilium_rule_ref":"","generic_l7":{"proto":"r2d2","fields":{"cmd":"READ","file":"/private/x"}}}
//        (field names as in accesslog.proto; the l7 member present is one of generic_l7, kafka, http)
import CCiliumProto

/// A decoded LogEntry in Swift values (the protobuf-c message is freed right after decoding).
struct AccessLogRecord: Sendable {
    enum L7: Sendable {
        case none
        case generic(proto: String, fields: [(String, String)])
        case kafka(correlationID: Int32, errorCode: Int32, apiVersion: Int32, apiKey: Int32, topics: [String])
        case http(protocolVersion: UInt32, scheme: String, host: String, path: String, method: String, status: UInt32,
                  headers: [(String, String)])
    }

    var timestamp: UInt64
    var entryType: UInt32
    var policyName: String
    var ciliumRuleRef: String
    var sourceSecurityID: UInt32
    var sourceAddress: String
    var destinationAddress: String
    var isIngress: Bool
    var destinationSecurityID: UInt32
    var proxyID: UInt32
    var l7: L7

    /// Decodes one packet; nil when it is not a LogEntry.
    init?(packet: UnsafeRawBufferPointer) {
        guard let base = packet.baseAddress?.assumingMemoryBound(to: UInt8.self),
            let message = cilium__log_entry__unpack(nil, packet.count, base)
        else { return nil }
        defer { cilium__log_entry__free_unpacked(message, nil) }
        let entry = message.pointee
        timestamp = entry.timestamp
        entryType = entry.entry_type.rawValue
        policyName = text(entry.policy_name)
        ciliumRuleRef = text(entry.cilium_rule_ref)
        sourceSecurityID = entry.source_security_id
        sourceAddress = text(entry.source_address)
        destinationAddress = text(entry.destination_address)
        isIngress = entry.is_ingress != 0
        destinationSecurityID = entry.destination_security_id
        proxyID = entry.proxy_id
        switch entry.l7_case {
        case CILIUM__LOG_ENTRY__L7_GENERIC_L7:
            guard let generic = entry.generic_l7?.pointee else { l7 = .none; break }
            var fields: [(String, String)] = []
            for i in 0..<generic.n_fields {
                if let field = generic.fields[i]?.pointee { fields.append((text(field.key), text(field.value))) }
            }
            fields.sort { $0.0 < $1.0 }
            l7 = .generic(proto: text(generic.proto), fields: fields)
        case CILIUM__LOG_ENTRY__L7_KAFKA:
            guard let kafka = entry.kafka?.pointee else { l7 = .none; break }
            let topics = (0..<kafka.n_topics).map { text(kafka.topics[$0]) }
            l7 = .kafka(correlationID: kafka.correlation_id, errorCode: kafka.error_code,
                        apiVersion: kafka.api_version, apiKey: kafka.api_key, topics: topics)
        case CILIUM__LOG_ENTRY__L7_HTTP:
            guard let http = entry.http?.pointee else { l7 = .none; break }
            var headers: [(String, String)] = []
            for i in 0..<http.n_headers {
                if let header = http.headers[i]?.pointee { headers.append((text(header.key), text(header.value))) }
            }
            l7 = .http(protocolVersion: http.http_protocol.rawValue, scheme: text(http.scheme), host: text(http.host),
                       path: text(http.path), method: text(http.method), status: http.status, headers: headers)
        default:
            l7 = .none
        }
    }

    var entryTypeName: String {
        switch entryType {
        case CILIUM__ENTRY_TYPE__Request.rawValue: return "Request"
        case CILIUM__ENTRY_TYPE__Response.rawValue: return "Response"
        case CILIUM__ENTRY_TYPE__Denied.rawValue: return "Denied"
        default: return "EntryType\(entryType)"
        }
    }

    // MARK: Text

    var textLine: String {
        var type = entryTypeName.uppercased()
        while type.count < 8 { type += " " }
        var line = "access-log  \(type) \(protocolName)  \(sourceAddress) -> \(destinationAddress)"
        let fields = textFields
        if !fields.isEmpty {
            line += "  " + fields.map { "\($0.0)=\(quotedIfNeeded($0.1))" }.joined(separator: " ")
        }
        return line
    }

    private var protocolName: String {
        switch l7 {
        case .none: return "-"
        case .generic(let proto, _): return proto.isEmpty ? "-" : proto
        case .kafka: return "kafka"
        case .http: return "http"
        }
    }

    private var textFields: [(String, String)] {
        switch l7 {
        case .none:
            return []
        case .generic(_, let fields):
            return fields
        case .kafka(let correlationID, let errorCode, let apiVersion, let apiKey, let topics):
            return [("correlation_id", "\(correlationID)"), ("error_code", "\(errorCode)"),
                    ("api_version", "\(apiVersion)"), ("api_key", "\(apiKey)"),
                    ("topics", topics.joined(separator: ","))]
        case .http(_, _, let host, let path, let method, let status, _):
            var fields = [("method", method), ("host", host), ("path", path)]
            if status != 0 { fields.append(("status", "\(status)")) }
            return fields
        }
    }

    // MARK: JSON

    var jsonLine: String {
        var out = "{"
        out += "\"timestamp\":\(timestamp)"
        out += ",\"entry_type\":" + jsonString(entryTypeName)
        out += ",\"policy_name\":" + jsonString(policyName)
        out += ",\"source_security_id\":\(sourceSecurityID)"
        out += ",\"source_address\":" + jsonString(sourceAddress)
        out += ",\"destination_security_id\":\(destinationSecurityID)"
        out += ",\"destination_address\":" + jsonString(destinationAddress)
        out += ",\"is_ingress\":\(isIngress)"
        out += ",\"proxy_id\":\(proxyID)"
        out += ",\"cilium_rule_ref\":" + jsonString(ciliumRuleRef)
        switch l7 {
        case .none:
            break
        case .generic(let proto, let fields):
            out += ",\"generic_l7\":{\"proto\":" + jsonString(proto) + ",\"fields\":" + jsonObject(fields) + "}"
        case .kafka(let correlationID, let errorCode, let apiVersion, let apiKey, let topics):
            out += ",\"kafka\":{\"correlation_id\":\(correlationID),\"error_code\":\(errorCode)"
            out += ",\"api_version\":\(apiVersion),\"api_key\":\(apiKey)"
            out += ",\"topics\":[" + topics.map(jsonString).joined(separator: ",") + "]}"
        case .http(let protocolVersion, let scheme, let host, let path, let method, let status, let headers):
            let version = ["HTTP10", "HTTP11", "HTTP2"]
            let versionName = protocolVersion < 3 ? version[Int(protocolVersion)] : "HttpProtocol\(protocolVersion)"
            out += ",\"http\":{\"http_protocol\":" + jsonString(versionName)
            out += ",\"scheme\":" + jsonString(scheme) + ",\"host\":" + jsonString(host)
            out += ",\"path\":" + jsonString(path) + ",\"method\":" + jsonString(method)
            out += ",\"status\":\(status),\"headers\":["
            out += headers.map { "{\"key\":" + jsonString($0.0) + ",\"value\":" + jsonString($0.1) + "}" }
                .joined(separator: ",")
            out += "]}"
        }
        out += "}"
        return out
    }
}

/// A C string of a decoded message ("" for NULL). Invalid UTF-8 is repaired.
private func text(_ pointer: UnsafeMutablePointer<CChar>?) -> String {
    pointer.map { String(cString: $0) } ?? ""
}

/// A field value as printed in the text line: as it is, or Go-quoted when it would be ambiguous.
func quotedIfNeeded(_ value: String) -> String {
    let plain = !value.isEmpty && value.unicodeScalars.allSatisfy { scalar in
        scalar.value > 0x20 && scalar.value != 0x7f && scalar != "\"" && scalar != "\\" && scalar != "="
    }
    if plain { return value }
    var out = "\""
    for scalar in value.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if scalar.value < 0x20 || scalar.value == 0x7f {
                out += "\\x" + hex(scalar.value, digits: 2)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}

/// A JSON string literal.
func jsonString(_ value: String) -> String {
    var out = "\""
    for scalar in value.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if scalar.value < 0x20 || scalar.value == 0x7f || scalar.value == 0x2028 || scalar.value == 0x2029 {
                out += "\\u" + hex(scalar.value, digits: 4)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}

private func jsonObject(_ pairs: [(String, String)]) -> String {
    "{" + pairs.map { jsonString($0.0) + ":" + jsonString($0.1) }.joined(separator: ",") + "}"
}

private func hex(_ value: UInt32, digits: Int) -> String {
    let text = String(value, radix: 16)
    return String(repeating: "0", count: max(0, digits - text.count)) + text
}
