import ProxylibCore

/// Serializes an `AccessLogEntry` as one `cilium.LogEntry`, within `AccessLogLimits`.
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
/// NUL bytes are sent as U+FFFD (the collector's protobuf-c strings are `char *`).
///
/// The strings are first cut to size in an arena, then written straight to the wire (`ProtobufWriter`), in
/// field-number order with proto3's zero values left out: the same bytes protobuf-c's packer produces, at a
/// fraction of its cost (it walks field descriptors twice, to size and to pack). The tests decode the result
/// with protobuf-c and with Google's Python protobuf.
///
/// All storage is allocated once, by `init`: encoding allocates nothing. It serves one entry at a time, so an
/// encoder must not be used from two threads at once (the access-log client encodes under its queue lock).
public final class AccessLogEncoder {
    public let limits: AccessLogLimits

    private var arena: CStringArena
    /// The entry being encoded, cut to size: strings in the arena.
    private var policyName: CStringRef?
    private var sourceAddress: CStringRef?
    private var destinationAddress: CStringRef?
    private var proto: CStringRef?
    /// `maxItems` fields or topics plus the omission marker.
    private let keys: UnsafeMutablePointer<CStringRef>
    private let values: UnsafeMutablePointer<CStringRef>
    private var itemCount = 0

    /// Room the metadata strings always leave for the L7 part.
    private static let minimumL7Room = 256
    /// Room a field's value gets before its key is cut (more than any truncation marker needs).
    private static let minimumValueRoom = 48
    /// Upper bound of an omission marker's text (`[N more fields omitted]`, `…[N more topics omitted]`).
    private static let omissionMarkerMaximum = 48

    /// `cilium.LogEntry` field numbers.
    private enum Field {
        static let timestamp: UInt64 = 1
        static let entryType: UInt64 = 3
        static let policyName: UInt64 = 4
        static let sourceSecurityID: UInt64 = 6
        static let sourceAddress: UInt64 = 7
        static let destinationAddress: UInt64 = 8
        static let isIngress: UInt64 = 15
        static let destinationSecurityID: UInt64 = 16
        static let kafka: UInt64 = 101
        static let genericL7: UInt64 = 102
        // cilium.L7LogEntry, and its map entries
        static let proto: UInt64 = 1
        static let fields: UInt64 = 2
        static let key: UInt64 = 1
        static let value: UInt64 = 2
        // cilium.KafkaLogEntry
        static let correlationID: UInt64 = 1
        static let errorCode: UInt64 = 2
        static let apiVersion: UInt64 = 3
        static let apiKey: UInt64 = 4
        static let topics: UInt64 = 5
    }

    public init(limits: AccessLogLimits = .default) {
        self.limits = limits
        let slots = limits.maxItems + 1
        // Every string is charged to the entry budget; add one NUL per string.
        arena = CStringArena(capacity: limits.maxEntryBytes + 2 * slots + 16)
        keys = .allocate(capacity: slots)
        values = .allocate(capacity: slots)
    }

    deinit {
        keys.deallocate()
        values.deallocate()
    }

    /// Serializes `entry` into `buffer` and returns the number of bytes written; nil only when `buffer` is
    /// smaller than the entry (never with `limits.maxEntryBytes` bytes of room).
    public func encode(_ entry: AccessLogEntry, into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        arena.reset()
        stage(entry)
        var writer = ProtobufWriter(buffer)
        write(entry, to: &writer)
        guard !writer.overflowed, writer.count <= limits.maxEntryBytes else { return nil }
        return writer.count
    }

    /// Serializes `entry` into a new array (for tests and tools; allocates).
    public func encode(_ entry: AccessLogEntry) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: limits.maxEntryBytes)
        let count = bytes.withUnsafeMutableBytes { encode(entry, into: $0) }
        guard let count else { return nil }
        bytes.removeSubrange(count...)
        return bytes
    }

    // MARK: Cutting the strings to the budget

    /// Cuts `entry`'s strings to the limits, into the arena.
    private func stage(_ entry: AccessLogEntry) {
        // Any length prefix is at most this long (nothing inside an entry is longer than the entry).
        let lengthBytes = ProtobufWriter.varintSize(UInt64(limits.maxEntryBytes))
        let stringOverhead = 1 + lengthBytes
        // timestamp (1 + 10), entry_type (1 + 10), source_security_id (1 + 5), destination_security_id
        // (2 + 5), is_ingress (1 + 1), and the l7 member's tag (2) and length.
        var remaining = limits.maxEntryBytes - (11 + 11 + 6 + 7 + 2) - (2 + lengthBytes)

        func metadata(_ value: String) -> CStringRef? {
            let limit = min(limits.maxValueBytes, remaining - stringOverhead - Self.minimumL7Room)
            guard let string = arena.append(value, limit: limit) else { return nil }
            remaining -= stringOverhead + string.length
            return string
        }
        policyName = metadata(entry.policyName)
        sourceAddress = metadata(entry.sourceAddress)
        destinationAddress = metadata(entry.destinationAddress)

        proto = nil
        itemCount = 0
        switch entry.l7 {
        case let .generic(proto, fields):
            stageGeneric(proto: proto, fields: fields, remaining: remaining, lengthBytes: lengthBytes)
        case let .kafka(_, _, _, _, topics):
            stageKafka(topics: topics, remaining: remaining, lengthBytes: lengthBytes)
        }
    }

    private func stageGeneric(proto: String, fields: L7Fields, remaining: Int, lengthBytes: Int) {
        var remaining = remaining
        let stringOverhead = 1 + lengthBytes
        // A map entry: its own tag and length, then key and value, each with tag and length.
        let entryOverhead = 3 + 3 * lengthBytes
        let omissionReserve = entryOverhead + 3 + Self.omissionMarkerMaximum

        let protoLimit = min(limits.maxValueBytes, remaining - stringOverhead - omissionReserve)
        if let string = arena.append(proto, limit: protoLimit) {
            self.proto = string
            remaining -= stringOverhead + string.length
        }

        var omitted = 0
        for (key, value) in fields {
            let room = remaining - omissionReserve - entryOverhead
            let mark = arena.mark
            guard itemCount < limits.maxItems, room > 0,
                  let keyString = arena.append(
                      key, limit: min(limits.maxValueBytes, room - min(value.utf8.count, Self.minimumValueRoom))),
                  let valueString = arena.append(value, limit: min(limits.maxValueBytes, room - keyString.length))
            else {
                arena.rewind(to: mark)
                omitted += 1
                continue
            }
            addItem(key: keyString, value: valueString)
            remaining -= entryOverhead + keyString.length + valueString.length
        }
        if omitted > 0, let key = arena.append("…", limit: 3),
           let value = arena.append("[", omitted, " more fields omitted]") {
            addItem(key: key, value: value)
        }
    }

    private func stageKafka(topics: [String], remaining: Int, lengthBytes: Int) {
        // Four int32 fields, each at most 1 + 10 bytes (a negative int32 is a 10-byte varint).
        var remaining = remaining - 4 * 11
        let stringOverhead = 1 + lengthBytes
        let omissionReserve = stringOverhead + Self.omissionMarkerMaximum

        var omitted = 0
        for topic in topics {
            let room = remaining - omissionReserve - stringOverhead
            guard itemCount < limits.maxItems, room > 0,
                  let string = arena.append(topic, limit: min(limits.maxValueBytes, room))
            else {
                omitted += 1
                continue
            }
            addItem(value: string)
            remaining -= stringOverhead + string.length
        }
        if omitted > 0, let marker = arena.append("…[", omitted, " more topics omitted]") {
            addItem(value: marker)
        }
    }

    /// Items are at most `maxItems` plus one marker: the storage's size.
    private func addItem(key: CStringRef? = nil, value: CStringRef) {
        guard itemCount <= limits.maxItems else { return }
        if let key { keys[itemCount] = key }
        values[itemCount] = value
        itemCount += 1
    }

    // MARK: Writing the wire form

    private func write(_ entry: AccessLogEntry, to writer: inout ProtobufWriter) {
        writer.varintField(Field.timestamp, entry.timestampNanoseconds)
        writer.varintField(Field.entryType, UInt64(UInt32(bitPattern: entry.entryType.rawValue)))
        writeString(Field.policyName, policyName, to: &writer)
        writer.varintField(Field.sourceSecurityID, UInt64(entry.sourceSecurityID))
        writeString(Field.sourceAddress, sourceAddress, to: &writer)
        writeString(Field.destinationAddress, destinationAddress, to: &writer)
        writer.varintField(Field.isIngress, entry.isIngress ? 1 : 0)
        writer.varintField(Field.destinationSecurityID, UInt64(entry.destinationSecurityID))
        switch entry.l7 {
        case .generic:
            // The oneof member is written even when empty: an entry always says which kind it is.
            writer.lengthDelimitedHeader(Field.genericL7, genericSize())
            writeString(Field.proto, proto, to: &writer)
            for index in 0..<itemCount {
                writer.lengthDelimitedHeader(Field.fields, mapEntrySize(index))
                writeString(Field.key, keys[index], to: &writer)
                writeString(Field.value, values[index], to: &writer)
            }
        case let .kafka(correlationID, errorCode, apiVersion, apiKey, _):
            let numbers = Self.int32FieldSize(Field.correlationID, correlationID)
                + Self.int32FieldSize(Field.errorCode, errorCode) + Self.int32FieldSize(Field.apiVersion, apiVersion)
                + Self.int32FieldSize(Field.apiKey, apiKey)
            writer.lengthDelimitedHeader(Field.kafka, numbers + topicsSize())
            writer.varintField(Field.correlationID, Self.int32Wire(correlationID))
            writer.varintField(Field.errorCode, Self.int32Wire(errorCode))
            writer.varintField(Field.apiVersion, Self.int32Wire(apiVersion))
            writer.varintField(Field.apiKey, Self.int32Wire(apiKey))
            for index in 0..<itemCount {
                writer.stringField(Field.topics, UnsafeRawPointer(values[index].pointer), values[index].length,
                                   always: true)
            }
        }
    }

    private func writeString(_ field: UInt64, _ string: CStringRef?, to writer: inout ProtobufWriter) {
        guard let string else { return }
        writer.stringField(field, UnsafeRawPointer(string.pointer), string.length)
    }

    /// int32 is sign-extended to 64 bits on the wire (a negative value takes 10 bytes).
    private static func int32Wire(_ value: Int32) -> UInt64 {
        UInt64(bitPattern: Int64(value))
    }

    private static func stringSize(_ field: UInt64, _ string: CStringRef?) -> Int {
        guard let string, string.length > 0 else { return 0 }
        return ProtobufWriter.lengthDelimitedSize(field, string.length)
    }

    private func mapEntrySize(_ index: Int) -> Int {
        Self.stringSize(Field.key, keys[index]) + Self.stringSize(Field.value, values[index])
    }

    private func genericSize() -> Int {
        var size = Self.stringSize(Field.proto, proto)
        for index in 0..<itemCount {
            size += ProtobufWriter.lengthDelimitedSize(Field.fields, mapEntrySize(index))
        }
        return size
    }

    /// An int32 field's wire size; zero is left out (proto3).
    private static func int32FieldSize(_ field: UInt64, _ value: Int32) -> Int {
        value == 0 ? 0 : ProtobufWriter.tagSize(field) + ProtobufWriter.varintSize(int32Wire(value))
    }

    private func topicsSize() -> Int {
        var size = 0
        for index in 0..<itemCount {
            size += ProtobufWriter.lengthDelimitedSize(Field.topics, values[index].length)
        }
        return size
    }
}
