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
/// One pass writes the wire form straight into the caller's buffer (`ProtobufWriter`), in field-number order
/// with proto3's zero values left out; each string is measured against its limit (`LimitedString`) and copied
/// once. The result is byte for byte what protobuf-c's packer produces for the same message, at a fraction of
/// its cost (it walks field descriptors twice, to size and to pack); the tests check that, and decode entries
/// with Google's Python protobuf too.
///
/// Encoding allocates nothing and keeps no state between entries.
public final class AccessLogEncoder: Sendable {
    public let limits: AccessLogLimits

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
    }

    /// Serializes `entry` into `buffer` and returns the number of bytes written; nil only when `buffer` is
    /// smaller than the entry (never with `limits.maxEntryBytes` bytes of room).
    public func encode(_ entry: AccessLogEntry, into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        var writer = ProtobufWriter(buffer)
        write(entry, to: &writer)
        guard !writer.overflowed, writer.count <= limits.maxEntryBytes else { return nil }
        return writer.count
    }

    /// Room to reserve for `entry` before encoding it (`AccessLogQueue`): the room `encode` needs for it when
    /// none of its strings holds a NUL byte (each NUL widens to the three bytes of U+FFFD, so such an entry may
    /// need more) — its exact encoded size plus the byte the L7 part's length may give back (that length is
    /// written at its longest, then moved back over the unused byte), or an upper bound when a string is cut to
    /// `maxValueBytes` — and `maxEntryBytes` for an entry that comes near the limit or has more than `maxItems`
    /// fields or topics, where the budget in `write` cuts and omits and only the limit bounds the size. Reads
    /// string lengths only, no bytes; allocates nothing. (`encode` into a buffer too small for the entry
    /// returns nil; it never writes past the buffer.)
    public func reservationSize(for entry: AccessLogEntry) -> Int {
        let cap = limits.maxValueBytes
        /// A string field of `count` bytes (at most `cap`), left out when empty unless `always`.
        @inline(__always) func string(_ field: UInt64, _ count: Int, always: Bool = false) -> Int {
            let kept = min(count, cap)
            return kept == 0 && !always ? 0 : ProtobufWriter.tagSize(field) + ProtobufWriter.varintSize(UInt64(kept)) + kept
        }
        /// A varint field, left out when zero.
        @inline(__always) func varint(_ field: UInt64, _ value: UInt64) -> Int {
            value == 0 ? 0 : ProtobufWriter.tagSize(field) + ProtobufWriter.varintSize(value)
        }

        var size = varint(Field.timestamp, entry.timestampNanoseconds)
            + varint(Field.entryType, UInt64(UInt32(bitPattern: entry.entryType.rawValue)))
            + varint(Field.sourceSecurityID, UInt64(entry.sourceSecurityID))
            + varint(Field.isIngress, entry.isIngress ? 1 : 0)
            + varint(Field.destinationSecurityID, UInt64(entry.destinationSecurityID))
            + string(Field.policyName, entry.policyName.utf8.count)
            + string(Field.sourceAddress, entry.sourceAddress.utf8.count)
            + string(Field.destinationAddress, entry.destinationAddress.utf8.count)
        // The L7 part's length is written at its longest, then moved back over the bytes it does not need.
        let lengthBytes = ProtobufWriter.varintSize(UInt64(limits.maxEntryBytes))
        var items = 0
        switch entry.l7 {
        case let .generic(proto, fields):
            var content = string(Field.proto, proto.utf8.count)
            fields.forEachField { key, value in
                // A map entry: its key and value fields inside (an empty one left out).
                content += ProtobufWriter.lengthDelimitedSize(
                    Field.fields, string(Field.key, key.utf8.count) + string(Field.value, value.withUTF8Bytes { $0.count }))
                items += 1
            }
            size += ProtobufWriter.tagSize(Field.genericL7) + lengthBytes + content
        case let .kafka(correlationID, errorCode, apiVersion, apiKey, topics):
            var content = varint(Field.correlationID, Self.int32Wire(correlationID))
                + varint(Field.errorCode, Self.int32Wire(errorCode))
                + varint(Field.apiVersion, Self.int32Wire(apiVersion))
                + varint(Field.apiKey, Self.int32Wire(apiKey))
            for topic in topics {
                content += string(Field.topics, topic.utf8.count, always: true)
            }
            items = topics.count
            size += ProtobufWriter.tagSize(Field.kafka) + lengthBytes + content
        }
        // `write` charges its budget more than the bytes it writes (each length prefix at its longest, empty
        // strings, the fixed fields at their widest): at most `chargeSlack` plus 4 · `lengthBytes` an item. Below
        // the margin by that much, it cuts and omits nothing, and the size above is the size written.
        let charged = size + Self.chargeSlack + items * 4 * lengthBytes
        guard items <= limits.maxItems, charged <= limits.maxEntryBytes - Self.nearLimitMargin else {
            return limits.maxEntryBytes
        }
        return size
    }

    /// The most `write` can charge beyond an entry's size, items aside: the fixed fields (37 bytes charged),
    /// the L7 member's tag and length, four strings' length prefixes (or their whole charge when empty), and
    /// Kafka's four int32 fields (44 bytes charged), all with 3-byte length prefixes at most.
    private static let chargeSlack = 37 + (2 + 3) + 4 * (1 + 3) + 44

    /// While its charges stay this far below `maxEntryBytes`, `write` cuts nothing and omits nothing: it holds
    /// back `minimumL7Room` while writing the metadata, and less than that (an omission marker's room) while
    /// writing the L7 part.
    static let nearLimitMargin = minimumL7Room

    /// Serializes `entry` into a new array (for tests and tools; allocates).
    public func encode(_ entry: AccessLogEntry) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: limits.maxEntryBytes)
        let count = bytes.withUnsafeMutableBytes { encode(entry, into: $0) }
        guard let count else { return nil }
        bytes.removeSubrange(count...)
        return bytes
    }

    // MARK: The budget
    //
    // A running byte budget charges every field an upper bound of its wire size (tag, length prefix, bytes) as
    // it is written, and sets each string's limit from what is left, so the entry never exceeds
    // `maxEntryBytes`.

    private func write(_ entry: AccessLogEntry, to writer: inout ProtobufWriter) {
        // Any length prefix is at most this long (nothing inside an entry is longer than the entry).
        let lengthBytes = ProtobufWriter.varintSize(UInt64(limits.maxEntryBytes))
        let stringOverhead = 1 + lengthBytes
        // timestamp (1 + 10), entry_type (1 + 10), source_security_id (1 + 5), destination_security_id
        // (2 + 5), is_ingress (1 + 1), and the l7 member's tag (2) and length.
        var remaining = limits.maxEntryBytes - (11 + 11 + 6 + 7 + 2) - (2 + lengthBytes)

        func metadata(_ field: UInt64, _ value: String) {
            let limit = min(limits.maxValueBytes, remaining - stringOverhead - Self.minimumL7Room)
            value.withUTF8Bytes { bytes in
                guard let cut = LimitedString(bytes, limit: limit) else { return }
                writer.stringField(field, bytes, cut)
                remaining -= stringOverhead + cut.length
            }
        }

        writer.varintField(Field.timestamp, entry.timestampNanoseconds)
        writer.varintField(Field.entryType, UInt64(UInt32(bitPattern: entry.entryType.rawValue)))
        metadata(Field.policyName, entry.policyName)
        writer.varintField(Field.sourceSecurityID, UInt64(entry.sourceSecurityID))
        metadata(Field.sourceAddress, entry.sourceAddress)
        metadata(Field.destinationAddress, entry.destinationAddress)
        writer.varintField(Field.isIngress, entry.isIngress ? 1 : 0)
        writer.varintField(Field.destinationSecurityID, UInt64(entry.destinationSecurityID))

        // The oneof member is written even when empty: an entry always says which kind it is.
        switch entry.l7 {
        case let .generic(proto, fields):
            let mark = writer.beginLengthDelimited(Field.genericL7, maximumLength: limits.maxEntryBytes)
            writeGeneric(proto: proto, fields: fields, remaining: remaining, lengthBytes: lengthBytes, to: &writer)
            writer.endLengthDelimited(mark)
        case let .kafka(correlationID, errorCode, apiVersion, apiKey, topics):
            let mark = writer.beginLengthDelimited(Field.kafka, maximumLength: limits.maxEntryBytes)
            writer.varintField(Field.correlationID, Self.int32Wire(correlationID))
            writer.varintField(Field.errorCode, Self.int32Wire(errorCode))
            writer.varintField(Field.apiVersion, Self.int32Wire(apiVersion))
            writer.varintField(Field.apiKey, Self.int32Wire(apiKey))
            writeTopics(topics, remaining: remaining, lengthBytes: lengthBytes, to: &writer)
            writer.endLengthDelimited(mark)
        }
    }

    private func writeGeneric(proto: String, fields: L7Fields, remaining: Int, lengthBytes: Int,
                              to writer: inout ProtobufWriter) {
        var remaining = remaining
        let stringOverhead = 1 + lengthBytes
        // A map entry: its own tag and length, then key and value, each with tag and length.
        let entryOverhead = 3 + 3 * lengthBytes
        let omissionReserve = entryOverhead + 3 + Self.omissionMarkerMaximum

        let protoLimit = min(limits.maxValueBytes, remaining - stringOverhead - omissionReserve)
        proto.withUTF8Bytes { bytes in
            guard let cut = LimitedString(bytes, limit: protoLimit) else { return }
            writer.stringField(Field.proto, bytes, cut)
            remaining -= stringOverhead + cut.length
        }

        var written = 0
        var omitted = 0
        fields.forEachField { key, value in
            let room = remaining - omissionReserve - entryOverhead
            guard written < limits.maxItems, room > 0 else {
                omitted += 1
                return
            }
            let kept = key.withUTF8Bytes { keyBytes in
                value.withUTF8Bytes { valueBytes -> Bool in
                    guard let keyCut = LimitedString(
                              keyBytes, limit: min(limits.maxValueBytes, room - min(valueBytes.count, Self.minimumValueRoom))),
                          let valueCut = LimitedString(valueBytes, limit: min(limits.maxValueBytes, room - keyCut.length))
                    else { return false }
                    writer.lengthDelimitedHeader(Field.fields, Self.fieldSize(Field.key, keyCut.length)
                                                     + Self.fieldSize(Field.value, valueCut.length))
                    writer.stringField(Field.key, keyBytes, keyCut)
                    writer.stringField(Field.value, valueBytes, valueCut)
                    remaining -= entryOverhead + keyCut.length + valueCut.length
                    return true
                }
            }
            if kept { written += 1 } else { omitted += 1 }
        }
        if omitted > 0 {
            let key: StaticString = "…"
            let valueLength = ProtobufWriter.composedLength("[", omitted, " more fields omitted]")
            writer.lengthDelimitedHeader(Field.fields, Self.fieldSize(Field.key, key.utf8CodeUnitCount)
                                             + Self.fieldSize(Field.value, valueLength))
            writer.lengthDelimitedHeader(Field.key, key.utf8CodeUnitCount)
            writer.text(key)
            writer.composedStringField(Field.value, "[", omitted, " more fields omitted]")
        }
    }

    private func writeTopics(_ topics: [String], remaining: Int, lengthBytes: Int, to writer: inout ProtobufWriter) {
        // Four int32 fields, each at most 1 + 10 bytes (a negative int32 is a 10-byte varint).
        var remaining = remaining - 4 * 11
        let stringOverhead = 1 + lengthBytes
        let omissionReserve = stringOverhead + Self.omissionMarkerMaximum

        var written = 0
        var omitted = 0
        for topic in topics {
            let room = remaining - omissionReserve - stringOverhead
            guard written < limits.maxItems, room > 0 else {
                omitted += 1
                continue
            }
            let kept = topic.withUTF8Bytes { bytes in
                guard let cut = LimitedString(bytes, limit: min(limits.maxValueBytes, room)) else { return false }
                writer.stringField(Field.topics, bytes, cut, always: true)
                remaining -= stringOverhead + cut.length
                return true
            }
            if kept { written += 1 } else { omitted += 1 }
        }
        if omitted > 0 {
            writer.composedStringField(Field.topics, "…[", omitted, " more topics omitted]")
        }
    }

    /// A string field's wire size inside a map entry; empty is left out (proto3).
    private static func fieldSize(_ field: UInt64, _ length: Int) -> Int {
        length == 0 ? 0 : ProtobufWriter.lengthDelimitedSize(field, length)
    }

    /// int32 is sign-extended to 64 bits on the wire (a negative value takes 10 bytes).
    private static func int32Wire(_ value: Int32) -> UInt64 {
        UInt64(bitPattern: Int64(value))
    }
}

extension String {
    /// Calls `body` with the string's UTF-8 bytes: in place for a native string, from a stack copy for a small one.
    fileprivate func withUTF8Bytes<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        if let result = utf8.withContiguousStorageIfAvailable({ body(UnsafeRawBufferPointer($0)) }) {
            return result
        }
        var contiguous = self
        return contiguous.withUTF8 { body(UnsafeRawBufferPointer($0)) }
    }
}
