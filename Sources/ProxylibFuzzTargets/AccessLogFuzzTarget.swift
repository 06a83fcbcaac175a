#if canImport(Glibc)
import Glibc
#endif
import CCiliumProto
import ProxylibAccessLog
import ProxylibCore

/// `accesslog`: arbitrary field values (any bytes, any lengths, any number of fields and topics) through the
/// access-log encoder. Checked: the entry is encoded, within `maxEntryBytes`; protobuf-c decodes it; every
/// string is valid UTF-8 (the agent's Go decoder rejects entries that are not); the scalar fields are those of
/// the entry; every string is the value given (NUL as U+FFFD, invalid UTF-8 repaired) or a prefix of it ending
/// in `…[truncated N bytes]`; the fields and topics kept are a subsequence of those given, in order, and an
/// omission marker counts exactly the ones left out.
public enum AccessLogFuzzTarget {
    public static let target = FuzzTarget(name: "accesslog", summary: "access-log entries: encoder bounds and decodability") { bytes in
        try run(bytes)
    }

    static let encoder = AccessLogEncoder(limits: .default)

    static func run(_ bytes: UnsafeRawBufferPointer) throws(FuzzViolation) {
        var input = FuzzInput(bytes)
        let entry = makeEntry(&input)
        let limits = encoder.limits
        var buffer = [UInt8](repeating: 0, count: limits.maxEntryBytes)
        let length = buffer.withUnsafeMutableBytes { encoder.encode(entry, into: $0) }
        guard let length else { throw FuzzViolation("the encoder refused an entry") }
        guard length <= limits.maxEntryBytes else { throw FuzzViolation("entry of \(length) bytes") }
        try buffer.withUnsafeBufferPointer { packet throws(FuzzViolation) in
            guard let decoded = cilium__log_entry__unpack(nil, length, packet.baseAddress) else {
                throw FuzzViolation("protobuf-c cannot decode the entry (\(length) bytes)")
            }
            defer { cilium__log_entry__free_unpacked(decoded, nil) }
            try compare(decoded.pointee, with: entry, limits: limits)
        }
    }

    static func makeEntry(_ input: inout FuzzInput) -> AccessLogEntry {
        let setup = input.byte()
        let type = [AccessLogEntryType.request, .response, .denied][Int(setup % 3)]
        func text(_ input: inout FuzzInput) -> String {
            // Mostly short strings; some long enough to be cut.
            input.bool() ? String(decoding: input.take(Int(input.uint16())), as: UTF8.self) : input.shortString()
        }
        let policyName = text(&input), source = text(&input), destination = text(&input)
        let l7: L7LogRecord
        if setup & 0x80 == 0 {
            let proto = text(&input)
            var fields = L7Fields()
            let count = Int(input.byte()) + (input.bool() ? 200 : 0)
            for _ in 0..<count where !input.isAtEnd {
                let key = text(&input)
                let value = input.bool() ? LogText(decoding: input.take(Int(input.byte()))) : LogText(text(&input))
                fields.append((key, value))
            }
            l7 = .generic(proto: proto, fields: fields)
        } else {
            var topics: [String] = []
            let count = Int(input.byte()) + (input.bool() ? 200 : 0)
            for _ in 0..<count where !input.isAtEnd { topics.append(text(&input)) }
            l7 = .kafka(correlationID: Int32(bitPattern: input.uint32()), errorCode: Int32(bitPattern: input.uint32()),
                        apiVersion: Int32(bitPattern: input.uint32()), apiKey: Int32(bitPattern: input.uint32()),
                        topics: topics)
        }
        return AccessLogEntry(timestampNanoseconds: UInt64(input.uint32()) << 32 | UInt64(input.uint32()),
                              isIngress: setup & 0x40 != 0, entryType: type, policyName: policyName,
                              sourceSecurityID: input.uint32(), destinationSecurityID: input.uint32(),
                              sourceAddress: source, destinationAddress: destination, l7: l7)
    }

    static func compare(_ decoded: Cilium__LogEntry, with entry: AccessLogEntry, limits: AccessLogLimits) throws(FuzzViolation) {
        guard decoded.timestamp == entry.timestampNanoseconds,
              decoded.entry_type.rawValue == UInt32(entry.entryType.rawValue),
              decoded.source_security_id == entry.sourceSecurityID,
              decoded.destination_security_id == entry.destinationSecurityID,
              (decoded.is_ingress != 0) == entry.isIngress else {
            throw FuzzViolation("scalar fields differ")
        }
        try expectValue(decoded.policy_name, entry.policyName, "policy_name")
        try expectValue(decoded.source_address, entry.sourceAddress, "source_address")
        try expectValue(decoded.destination_address, entry.destinationAddress, "destination_address")
        switch entry.l7 {
        case let .generic(proto, fields):
            guard decoded.l7_case == CILIUM__LOG_ENTRY__L7_GENERIC_L7, let generic = decoded.generic_l7 else {
                throw FuzzViolation("generic_l7 missing")
            }
            try expectValue(generic.pointee.proto, proto, "proto")
            let given = fields.map { (key: $0.0, value: $0.1) }
            var kept: [(key: String, value: String)] = []
            for index in 0..<generic.pointee.n_fields {
                guard let field = generic.pointee.fields[index] else { throw FuzzViolation("null field") }
                kept.append((try utf8(field.pointee.key, "field key"), try utf8(field.pointee.value, "field value")))
            }
            var omitted = 0
            // A field of its own may be called "…" too: only a well-formed marker counts as one.
            if let last = kept.last, last.key == "…",
               let count = try? markerCount(last.value, prefix: "[", suffix: " more fields omitted]") {
                omitted = count
                kept.removeLast()
            }
            guard kept.count <= limits.maxItems else { throw FuzzViolation("\(kept.count) fields kept") }
            var next = 0
            for field in kept {
                while next < given.count && !(isCut(field.key, of: given[next].key) && isCut(field.value, of: given[next].value)) {
                    next += 1
                }
                guard next < given.count else { throw FuzzViolation("field \(field.key.debugDescription) is none of those given, in order") }
                next += 1
            }
            guard kept.count + omitted == given.count else {
                throw FuzzViolation("\(given.count) fields given, \(kept.count) kept, marker says \(omitted) omitted")
            }
        case let .kafka(correlationID, errorCode, apiVersion, apiKey, topics):
            guard decoded.l7_case == CILIUM__LOG_ENTRY__L7_KAFKA, let kafka = decoded.kafka else {
                throw FuzzViolation("kafka missing")
            }
            guard kafka.pointee.correlation_id == correlationID, kafka.pointee.error_code == errorCode,
                  kafka.pointee.api_version == apiVersion, kafka.pointee.api_key == apiKey else {
                throw FuzzViolation("kafka scalar fields differ")
            }
            var kept: [String] = []
            for index in 0..<kafka.pointee.n_topics { kept.append(try utf8(kafka.pointee.topics[index], "topic")) }
            var omitted = 0
            if let last = kept.last, last.hasPrefix("…["), last.hasSuffix(" more topics omitted]"),
               let count = try? markerCount(last, prefix: "…[", suffix: " more topics omitted]") {
                omitted = count
                kept.removeLast()
            }
            var next = 0
            for topic in kept {
                while next < topics.count && !isCut(topic, of: topics[next]) { next += 1 }
                guard next < topics.count else { throw FuzzViolation("topic \(topic.debugDescription) is none of those given, in order") }
                next += 1
            }
            guard kept.count + omitted == topics.count else {
                throw FuzzViolation("\(topics.count) topics given, \(kept.count) kept, marker says \(omitted) omitted")
            }
        }
    }

    /// The text of a decoded string field (nil as empty), which must be valid UTF-8.
    static func utf8(_ pointer: UnsafeMutablePointer<CChar>?, _ what: String) throws(FuzzViolation) -> String {
        guard let pointer else { return "" }
        let bytes = UnsafeRawBufferPointer(start: pointer, count: strlen(pointer))
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw FuzzViolation("\(what) is not valid UTF-8: \(ByteText.show(Array(bytes)[...]))")
        }
        return text
    }

    static func expectValue(_ pointer: UnsafeMutablePointer<CChar>?, _ given: String, _ what: String) throws(FuzzViolation) {
        let text = try utf8(pointer, what)
        guard isCut(text, of: given) else {
            throw FuzzViolation("\(what) \(text.debugDescription) is not \(given.debugDescription) or a cut of it")
        }
    }

    /// Whether `written` is `given` as the log writes it (NUL as U+FFFD), whole or cut with the marker.
    static func isCut(_ written: String, of given: String) -> Bool {
        var full: [UInt8] = []
        for byte in given.utf8 {
            if byte == 0 { full += [0xEF, 0xBF, 0xBD] } else { full.append(byte) }
        }
        let bytes = Array(written.utf8)
        if bytes == full { return true }
        let marker = Array("…[truncated ".utf8)
        guard let start = lastIndex(of: marker, in: bytes), bytes.last == UInt8(ascii: "]") else { return false }
        let tail = String(decoding: bytes[(start + marker.count)...], as: UTF8.self)
        guard tail.hasSuffix(" bytes]"), let dropped = Int(tail.dropLast(7)), dropped > 0 else { return false }
        return full.starts(with: bytes[..<start])
    }

    static func markerCount(_ value: String, prefix: String, suffix: String) throws(FuzzViolation) -> Int {
        guard value.hasPrefix(prefix), value.hasSuffix(suffix),
              let count = Int(value.dropFirst(prefix.count).dropLast(suffix.count)), count > 0 else {
            throw FuzzViolation("malformed omission marker \(value.debugDescription)")
        }
        return count
    }

    static func lastIndex(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for index in stride(from: haystack.count - needle.count, through: 0, by: -1)
        where haystack[index..<index + needle.count].elementsEqual(needle) {
            return index
        }
        return nil
    }
}
