import CCiliumProto
import ProxylibCore

/// Serializes an `AccessLogEntry` as one `cilium.LogEntry` (protobuf-c), within `AccessLogLimits`.
///
/// Fields set, as upstream's `Connection.Log` sets them: timestamp, entry_type, policy_name,
/// source/destination security ids and addresses, is_ingress, and `generic_l7` {proto, fields} or
/// `kafka` {correlation_id, error_code, api_version, api_key, topics}.
///
/// Bounds: the encoder keeps a running byte budget, charging every field an upper bound of its wire size
/// (tag, length prefix, bytes), so the serialized entry never exceeds `limits.maxEntryBytes`:
/// - every string is capped at `maxValueBytes` (cut on a UTF-8 boundary, `…[truncated N bytes]` appended);
/// - the metadata strings (policy name, addresses) leave at least 256 bytes for the L7 part;
/// - L7 fields and Kafka topics are kept in order while they fit (a value that only partly fits is cut); the
///   ones that do not, and any beyond `maxItems`, are replaced by one marker: the field `…` =
///   `[N more fields omitted]`, or the topic `…[N more topics omitted]`.
/// NUL bytes (which protobuf-c's `char *` strings cannot carry) are sent as U+FFFD.
///
/// Every C struct and string lives in storage allocated once, by `init`: encoding allocates nothing. That
/// storage serves one entry at a time, so an encoder must not be used from two threads at once (the access-log
/// client encodes under its queue lock).
public final class AccessLogEncoder {
    public let limits: AccessLogLimits

    private var arena: CStringArena
    private let message: UnsafeMutablePointer<Cilium__LogEntry>
    private let generic: UnsafeMutablePointer<Cilium__L7LogEntry>
    private let kafka: UnsafeMutablePointer<Cilium__KafkaLogEntry>
    /// `maxItems` fields plus the omission marker.
    private let fieldEntries: UnsafeMutablePointer<Cilium__L7LogEntry__FieldsEntry>
    private let fieldPointers: UnsafeMutablePointer<UnsafeMutablePointer<Cilium__L7LogEntry__FieldsEntry>?>
    /// `maxItems` topics plus the omission marker.
    private let topicPointers: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>

    /// Room the metadata strings always leave for the L7 part.
    private static let minimumL7Room = 256
    /// Room a field's value gets before its key is cut (more than any truncation marker needs).
    private static let minimumValueRoom = 48
    /// Upper bound of an omission marker's text (`[N more fields omitted]`, `…[N more topics omitted]`).
    private static let omissionMarkerMaximum = 48

    public init(limits: AccessLogLimits = .default) {
        self.limits = limits
        let slots = limits.maxItems + 1
        // Every string is charged to the entry budget; add one NUL per string.
        arena = CStringArena(capacity: limits.maxEntryBytes + 2 * slots + 16)
        message = .allocate(capacity: 1)
        message.initialize(to: Cilium__LogEntry())
        generic = .allocate(capacity: 1)
        generic.initialize(to: Cilium__L7LogEntry())
        kafka = .allocate(capacity: 1)
        kafka.initialize(to: Cilium__KafkaLogEntry())
        fieldEntries = .allocate(capacity: slots)
        fieldEntries.initialize(repeating: Cilium__L7LogEntry__FieldsEntry(), count: slots)
        fieldPointers = .allocate(capacity: slots)
        fieldPointers.initialize(repeating: nil, count: slots)
        topicPointers = .allocate(capacity: slots)
        topicPointers.initialize(repeating: nil, count: slots)
    }

    deinit {
        message.deallocate()
        generic.deallocate()
        kafka.deallocate()
        fieldEntries.deallocate()
        fieldPointers.deallocate()
        topicPointers.deallocate()
    }

    /// Serializes `entry` into `buffer` and returns the number of bytes written; nil only when `buffer` is
    /// smaller than the entry (never with `limits.maxEntryBytes` bytes of room).
    public func encode(_ entry: AccessLogEntry, into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        guard let base = buffer.baseAddress else { return nil }
        arena.reset()
        build(entry)
        let size = cilium__log_entry__get_packed_size(message)
        guard size <= buffer.count, size <= limits.maxEntryBytes else { return nil }
        return cilium__log_entry__pack(message, base.assumingMemoryBound(to: UInt8.self))
    }

    /// Serializes `entry` into a new array (for tests and tools; allocates).
    public func encode(_ entry: AccessLogEntry) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: limits.maxEntryBytes)
        let count = bytes.withUnsafeMutableBytes { encode(entry, into: $0) }
        guard let count else { return nil }
        bytes.removeSubrange(count...)
        return bytes
    }

    // MARK: Building the C message

    /// Fills `message` (and its L7 child) from `entry`, with every string in the arena.
    private func build(_ entry: AccessLogEntry) {
        // Any length prefix is at most this long (nothing inside an entry is longer than the entry).
        let lengthBytes = Self.varintSize(limits.maxEntryBytes)
        let stringOverhead = 1 + lengthBytes
        // timestamp (1 + 10), entry_type (1 + 10), source_security_id (1 + 5), destination_security_id
        // (2 + 5), is_ingress (1 + 1), and the l7 member's tag (2) and length.
        var remaining = limits.maxEntryBytes - (11 + 11 + 6 + 7 + 2) - (2 + lengthBytes)

        cilium__log_entry__init(message)
        message.pointee.timestamp = entry.timestampNanoseconds
        message.pointee.entry_type = Cilium__EntryType(rawValue: numericCast(entry.entryType.rawValue))
        message.pointee.is_ingress = entry.isIngress ? 1 : 0
        message.pointee.source_security_id = entry.sourceSecurityID
        message.pointee.destination_security_id = entry.destinationSecurityID

        func metadata(_ value: String) -> UnsafeMutablePointer<CChar>? {
            let limit = min(limits.maxValueBytes, remaining - stringOverhead - Self.minimumL7Room)
            guard let string = arena.append(value, limit: limit) else { return nil }
            remaining -= stringOverhead + string.length
            return string.pointer
        }
        if let value = metadata(entry.policyName) { message.pointee.policy_name = value }
        if let value = metadata(entry.sourceAddress) { message.pointee.source_address = value }
        if let value = metadata(entry.destinationAddress) { message.pointee.destination_address = value }

        switch entry.l7 {
        case let .generic(proto, fields):
            buildGeneric(proto: proto, fields: fields, remaining: remaining, lengthBytes: lengthBytes)
            message.pointee.l7_case = CILIUM__LOG_ENTRY__L7_GENERIC_L7
            message.pointee.generic_l7 = generic
        case let .kafka(correlationID, errorCode, apiVersion, apiKey, topics):
            buildKafka(correlationID: correlationID, errorCode: errorCode, apiVersion: apiVersion, apiKey: apiKey,
                       topics: topics, remaining: remaining, lengthBytes: lengthBytes)
            message.pointee.l7_case = CILIUM__LOG_ENTRY__L7_KAFKA
            message.pointee.kafka = kafka
        }
    }

    private func buildGeneric(proto: String, fields: L7Fields, remaining: Int, lengthBytes: Int) {
        var remaining = remaining
        let stringOverhead = 1 + lengthBytes
        // A map entry: its own tag and length, then key and value, each with tag and length.
        let entryOverhead = 3 + 3 * lengthBytes
        let omissionReserve = entryOverhead + 3 + Self.omissionMarkerMaximum

        cilium__l7_log_entry__init(generic)
        let protoLimit = min(limits.maxValueBytes, remaining - stringOverhead - omissionReserve)
        if let string = arena.append(proto, limit: protoLimit) {
            generic.pointee.proto = string.pointer
            remaining -= stringOverhead + string.length
        }

        var count = 0
        var omitted = 0
        for (key, value) in fields {
            let room = remaining - omissionReserve - entryOverhead
            let mark = arena.mark
            guard count < limits.maxItems, room > 0,
                  let keyString = arena.append(
                      key, limit: min(limits.maxValueBytes, room - min(value.utf8.count, Self.minimumValueRoom))),
                  let valueString = arena.append(value, limit: min(limits.maxValueBytes, room - keyString.length))
            else {
                arena.rewind(to: mark)
                omitted += 1
                continue
            }
            setField(count, key: keyString.pointer, value: valueString.pointer)
            remaining -= entryOverhead + keyString.length + valueString.length
            count += 1
        }
        if omitted > 0, let key = arena.append("…", limit: 3),
           let value = arena.append("[", omitted, " more fields omitted]") {
            setField(count, key: key.pointer, value: value.pointer)
            count += 1
        }
        generic.pointee.n_fields = count
        generic.pointee.fields = count > 0 ? fieldPointers : nil
    }

    private func setField(_ index: Int, key: UnsafeMutablePointer<CChar>, value: UnsafeMutablePointer<CChar>) {
        let field = fieldEntries + index
        cilium__l7_log_entry__fields_entry__init(field)
        field.pointee.key = key
        field.pointee.value = value
        fieldPointers[index] = field
    }

    private func buildKafka(correlationID: Int32, errorCode: Int32, apiVersion: Int32, apiKey: Int32,
                            topics: [String], remaining: Int, lengthBytes: Int) {
        // Four int32 fields, each at most 1 + 10 bytes (a negative int32 is a 10-byte varint).
        var remaining = remaining - 4 * 11
        let stringOverhead = 1 + lengthBytes
        let omissionReserve = stringOverhead + Self.omissionMarkerMaximum

        cilium__kafka_log_entry__init(kafka)
        kafka.pointee.correlation_id = correlationID
        kafka.pointee.error_code = errorCode
        kafka.pointee.api_version = apiVersion
        kafka.pointee.api_key = apiKey

        var count = 0
        var omitted = 0
        for topic in topics {
            let room = remaining - omissionReserve - stringOverhead
            guard count < limits.maxItems, room > 0,
                  let string = arena.append(topic, limit: min(limits.maxValueBytes, room))
            else {
                omitted += 1
                continue
            }
            topicPointers[count] = string.pointer
            remaining -= stringOverhead + string.length
            count += 1
        }
        if omitted > 0, let marker = arena.append("…[", omitted, " more topics omitted]") {
            topicPointers[count] = marker.pointer
            count += 1
        }
        kafka.pointee.n_topics = count
        kafka.pointee.topics = count > 0 ? topicPointers : nil
    }

    static func varintSize(_ value: Int) -> Int {
        var size = 1
        var rest = UInt64(max(value, 0)) >> 7
        while rest != 0 {
            rest >>= 7
            size += 1
        }
        return size
    }
}
