/// The Kafka oracle's own reading of the wire, written from Kafka's message definitions (the `*.json` files of
/// `clients/src/main/resources/common/message`) and the way the broker's generated Java readers take them
/// apart, without any parser code: a reader of the primitive types with Java's rules, and the requests and
/// responses the oracle reads (Produce and Metadata, every version).
///
/// Java's rules, where they differ from the obvious reading:
/// - an unsigned varint is at most 5 bytes; a 6th byte is an error; bits past 32 in the 5th byte are lost
///   (`tmp << 28` in an `int`), and the value is an `int`, so ≥ 2^31 is negative;
/// - a length or count below 0 is null where the field is nullable and an error where it is not (any negative
///   value, not only -1); compact lengths are the varint minus 1, compared as `int`s;
/// - a compact string longer than 0x7fff is an error; an array count larger than the bytes that remain is an
///   error;
/// - a tagged-field section is a varint count (a negative count reads as no fields) of (tag, size, bytes).
/// Readings that rely on the `int` quirks (a 5th varint byte with bits past 32, a negative length other than
/// -1 read as null, a negative tagged-field count) are counted in `quirks`: the broker accepts them, a proxy
/// may refuse them.
struct KafkaJavaReader {
    struct Malformed: Error {
        let why: String
    }

    let bytes: [UInt8]
    var at: Int
    let end: Int
    private(set) var quirks = 0

    init(_ bytes: [UInt8], from start: Int, to end: Int) {
        self.bytes = bytes
        at = start
        self.end = end
    }

    var remaining: Int { end - at }

    mutating func take(_ count: Int) throws(Malformed) -> ArraySlice<UInt8> {
        guard count >= 0, count <= remaining else { throw Malformed(why: "\(count) bytes wanted, \(remaining) left") }
        defer { at += count }
        return bytes[at..<(at + count)]
    }

    mutating func readByte() throws(Malformed) -> UInt8 {
        let b = try take(1)
        return b[b.startIndex]
    }

    mutating func int8() throws(Malformed) -> Int8 { Int8(bitPattern: try readByte()) }

    mutating func int16() throws(Malformed) -> Int16 {
        let b = try take(2)
        return Int16(bitPattern: UInt16(b[b.startIndex]) << 8 | UInt16(b[b.startIndex + 1]))
    }

    mutating func int32() throws(Malformed) -> Int32 {
        let b = try take(4)
        var value: UInt32 = 0
        for byte in b { value = value << 8 | UInt32(byte) }
        return Int32(bitPattern: value)
    }

    mutating func uuid() throws(Malformed) -> [UInt8] { Array(try take(16)) }

    /// Java's `readUnsignedVarint`: an `int`.
    mutating func uvarint() throws(Malformed) -> Int32 {
        var value: UInt32 = 0
        for index in 0..<5 {
            let byte = try readByte()
            if index == 4 {
                if byte & 0x80 != 0 { throw Malformed(why: "a varint longer than 5 bytes") }
                if byte & 0xF0 != 0 { quirks += 1 }
                value |= UInt32(byte) << 28
                return Int32(bitPattern: value)
            }
            value |= UInt32(byte & 0x7F) << (7 * UInt32(index))
            if byte & 0x80 == 0 { return Int32(bitPattern: value) }
        }
        return Int32(bitPattern: value)
    }

    /// A length or count in its encoding; nil for null (Java: any negative value of a nullable field).
    private mutating func length(compact: Bool, wide: Bool, nullable: Bool, what: String) throws(Malformed) -> Int? {
        let value: Int32
        if compact {
            value = try uvarint() &- 1
        } else if wide {
            value = try int32()
        } else {
            value = Int32(try int16())
        }
        if value < 0 {
            guard nullable else { throw Malformed(why: "\(what): null where the field is not nullable") }
            if value != -1 { quirks += 1 }
            return nil
        }
        return Int(value)
    }

    /// STRING / COMPACT_STRING; nil for null.
    mutating func string(compact: Bool, nullable: Bool, what: String) throws(Malformed) -> [UInt8]? {
        guard let count = try length(compact: compact, wide: false, nullable: nullable, what: what) else { return nil }
        if count > 0x7FFF { throw Malformed(why: "\(what): a string of \(count) bytes") }
        return Array(try take(count))
    }

    /// BYTES / COMPACT_BYTES / RECORDS, skipped.
    mutating func skipBytes(compact: Bool, nullable: Bool, what: String) throws(Malformed) {
        guard let count = try length(compact: compact, wide: true, nullable: nullable, what: what) else { return }
        _ = try take(count)
    }

    /// An array's element count; nil for null.
    mutating func count(compact: Bool, nullable: Bool, what: String) throws(Malformed) -> Int? {
        guard let count = try length(compact: compact, wide: true, nullable: nullable, what: what) else { return nil }
        if count > remaining { throw Malformed(why: "\(what): \(count) elements with \(remaining) bytes left") }
        return count
    }

    mutating func skipInt32Array(compact: Bool, what: String) throws(Malformed) {
        let n = try count(compact: compact, nullable: false, what: what) ?? 0
        _ = try take(n * 4)
    }

    mutating func taggedFields() throws(Malformed) {
        let n = try uvarint()
        if n < 0 { quirks += 1 }
        guard n > 0 else { return }
        for _ in 0..<n {
            _ = try uvarint()
            let size = try uvarint()
            guard size >= 0 else { throw Malformed(why: "a tagged field of negative size") }
            _ = try take(Int(size))
        }
    }
}

/// Kafka requests and responses as the oracle reads them.
enum KafkaWire {
    static let produce: Int16 = 0
    static let metadata: Int16 = 3
    static let maxFrame = 100 << 20

    /// Versions the oracle reads, and where flexible versions (compact encodings, tagged fields) begin.
    static let produceVersions: ClosedRange<Int16> = 0...13
    static let produceFlexible: Int16 = 9
    static let metadataVersions: ClosedRange<Int16> = 0...13
    static let metadataFlexible: Int16 = 9

    static func isFlexible(key: Int16, version: Int16) -> Bool {
        switch key {
        case produce: return version >= produceFlexible
        case metadata: return version >= metadataFlexible
        default: return false
        }
    }

    static func int32(_ bytes: [UInt8], at offset: Int) -> Int32 {
        var value: UInt32 = 0
        for index in offset..<(offset + 4) { value = value << 8 | UInt32(bytes[index]) }
        return Int32(bitPattern: value)
    }

    static func int16(_ bytes: [UInt8], at offset: Int) -> Int16 {
        Int16(bitPattern: UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1]))
    }

    /// A topic a request names: by name, or by id only (`name` nil).
    struct Topic: Equatable {
        var name: [UInt8]?
        var id: [UInt8]?
        var partitions: [Int32] = []
    }

    /// A request the oracle read whole.
    struct Request {
        var key: Int16
        var version: Int16
        var correlation: Int32
        /// Nil for a null client id.
        var client: [UInt8]?
        var topics: [Topic]
        /// Produce's acks (else 1): 0 gets no response.
        var acks: Int16 = 1
        /// A Metadata request about every topic: a null list (v1+), or an empty one in v0.
        var allTopics = false
        /// The reading relied on Java's `int` quirks (`KafkaJavaReader.quirks`).
        var quirky = false
        var expectsResponse: Bool { !(key == produce && acks == 0) }
    }

    enum Reading {
        case request(Request)
        /// Produce or Metadata in a version the oracle reads, but not readable by the broker: what was read
        /// before the fault (whether acks was among it), and the fault.
        case malformed(Request, acksRead: Bool, why: String)
        /// Any other api key or version.
        case unreadable(key: Int16, version: Int16, correlation: Int32)
    }

    /// Reads one whole request frame (size prefix included; the size is ≥ 8 and the frame complete).
    static func readRequest(_ frame: [UInt8]) -> Reading {
        let key = int16(frame, at: 4), version = int16(frame, at: 6), correlation = int32(frame, at: 8)
        let readable = (key == produce && produceVersions.contains(version))
            || (key == metadata && metadataVersions.contains(version))
        guard readable else { return .unreadable(key: key, version: version, correlation: correlation) }
        let flexible = isFlexible(key: key, version: version)
        var reader = KafkaJavaReader(frame, from: 12, to: frame.count)
        var request = Request(key: key, version: version, correlation: correlation, client: nil, topics: [])
        var acksRead = false
        do throws(KafkaJavaReader.Malformed) {
            // Request header v1 (v2 in flexible versions): the client id is never compact.
            request.client = try reader.string(compact: false, nullable: true, what: "client_id")
            if flexible { try reader.taggedFields() }
            if key == produce {
                try readProduce(&reader, version: version, flexible: flexible, into: &request, acksRead: &acksRead)
            } else {
                try readMetadata(&reader, version: version, flexible: flexible, into: &request)
            }
            request.quirky = reader.quirks > 0
            return .request(request)
        } catch {
            return .malformed(request, acksRead: acksRead, why: error.why)
        }
    }

    /// ProduceRequest.json: TransactionalId (3+, nullable), Acks, TimeoutMs, TopicData [Name (0-12) | TopicId
    /// (13+), PartitionData [Index, Records (nullable)]].
    private static func readProduce(_ reader: inout KafkaJavaReader, version: Int16, flexible: Bool,
                                    into request: inout Request, acksRead: inout Bool) throws(KafkaJavaReader.Malformed) {
        if version >= 3 { _ = try reader.string(compact: flexible, nullable: true, what: "transactional_id") }
        request.acks = try reader.int16()
        acksRead = true
        _ = try reader.int32()
        let topics = try reader.count(compact: flexible, nullable: false, what: "topic_data") ?? 0
        for _ in 0..<topics {
            var topic = Topic()
            if version <= 12 {
                topic.name = try reader.string(compact: flexible, nullable: false, what: "topic name")
            } else {
                topic.id = try reader.uuid()
            }
            let partitions = try reader.count(compact: flexible, nullable: false, what: "partition_data") ?? 0
            for _ in 0..<partitions {
                topic.partitions.append(try reader.int32())
                try reader.skipBytes(compact: flexible, nullable: true, what: "records")
                if flexible { try reader.taggedFields() }
            }
            if flexible { try reader.taggedFields() }
            request.topics.append(topic)
        }
        if flexible { try reader.taggedFields() }
    }

    /// MetadataRequest.json: Topics (nullable from 1: null is every topic, and so is an empty array in v0)
    /// [TopicId (10+), Name (nullable 10+)], AllowAutoTopicCreation (4+), IncludeClusterAuthorizedOperations
    /// (8-10), IncludeTopicAuthorizedOperations (8+).
    private static func readMetadata(_ reader: inout KafkaJavaReader, version: Int16, flexible: Bool,
                                     into request: inout Request) throws(KafkaJavaReader.Malformed) {
        let count = try reader.count(compact: flexible, nullable: version >= 1, what: "topics")
        request.allTopics = count == nil || (version == 0 && count == 0)
        let topics = count ?? 0
        for _ in 0..<topics {
            var topic = Topic()
            if version >= 10 { topic.id = try reader.uuid() }
            topic.name = try reader.string(compact: flexible, nullable: version >= 10, what: "topic name")
            if flexible { try reader.taggedFields() }
            request.topics.append(topic)
        }
        if version >= 4 { _ = try reader.int8() }
        if (8...10).contains(version) { _ = try reader.int8() }
        if version >= 8 { _ = try reader.int8() }
        if flexible { try reader.taggedFields() }
    }

    /// A denial as the oracle reads it: the error codes it carries and the topics it echoes.
    struct Denial {
        var errorCodes: [Int16] = []
        var topics: [Topic] = []
        /// Metadata: each topic entry's own error code (parallel to `topics`).
        var topicErrors: [Int16] = []
    }

    /// Reads a Produce or Metadata response frame (size prefix included) of `version` to its end; throws
    /// when it does not follow the message definition or leaves bytes over.
    static func readResponse(_ frame: [UInt8], key: Int16, version: Int16) throws(KafkaJavaReader.Malformed) -> Denial {
        let flexible = isFlexible(key: key, version: version)
        var reader = KafkaJavaReader(frame, from: 8, to: frame.count)
        if flexible { try reader.taggedFields() }
        var denial = Denial()
        if key == produce {
            try readProduceResponse(&reader, version: version, flexible: flexible, into: &denial)
        } else {
            try readMetadataResponse(&reader, version: version, flexible: flexible, into: &denial)
        }
        if flexible { try reader.taggedFields() }
        guard reader.remaining == 0 else { throw KafkaJavaReader.Malformed(why: "\(reader.remaining) bytes after the body") }
        return denial
    }

    /// ProduceResponse.json: Responses [Name (0-12) | TopicId (13+), PartitionResponses [Index, ErrorCode,
    /// BaseOffset, LogAppendTimeMs (2+), LogStartOffset (5+), RecordErrors (8+) [BatchIndex,
    /// BatchIndexErrorMessage (nullable)], ErrorMessage (8+, nullable)]], ThrottleTimeMs (1+).
    private static func readProduceResponse(_ reader: inout KafkaJavaReader, version: Int16, flexible: Bool,
                                            into denial: inout Denial) throws(KafkaJavaReader.Malformed) {
        let topics = try reader.count(compact: flexible, nullable: false, what: "responses") ?? 0
        for _ in 0..<topics {
            var topic = Topic()
            if version <= 12 {
                topic.name = try reader.string(compact: flexible, nullable: false, what: "name")
            } else {
                topic.id = try reader.uuid()
            }
            let partitions = try reader.count(compact: flexible, nullable: false, what: "partition_responses") ?? 0
            for _ in 0..<partitions {
                topic.partitions.append(try reader.int32())
                denial.errorCodes.append(try reader.int16())
                _ = try reader.take(8)
                if version >= 2 { _ = try reader.take(8) }
                if version >= 5 { _ = try reader.take(8) }
                if version >= 8 {
                    let errors = try reader.count(compact: flexible, nullable: false, what: "record_errors") ?? 0
                    for _ in 0..<errors {
                        _ = try reader.int32()
                        _ = try reader.string(compact: flexible, nullable: true, what: "batch_index_error_message")
                        if flexible { try reader.taggedFields() }
                    }
                    _ = try reader.string(compact: flexible, nullable: true, what: "error_message")
                }
                if flexible { try reader.taggedFields() }
            }
            if flexible { try reader.taggedFields() }
            denial.topics.append(topic)
        }
        if version >= 1 { _ = try reader.int32() }
    }

    /// MetadataResponse.json: ThrottleTimeMs (3+), Brokers [NodeId, Host, Port, Rack (1+, nullable)],
    /// ClusterId (2+, nullable), ControllerId (1+), Topics [ErrorCode, Name (nullable 12+), TopicId (10+),
    /// IsInternal (1+), Partitions [ErrorCode, PartitionIndex, LeaderId, LeaderEpoch (7+), ReplicaNodes,
    /// IsrNodes, OfflineReplicas (5+)], TopicAuthorizedOperations (8+)], ClusterAuthorizedOperations (8-10),
    /// ErrorCode (13+).
    private static func readMetadataResponse(_ reader: inout KafkaJavaReader, version: Int16, flexible: Bool,
                                             into denial: inout Denial) throws(KafkaJavaReader.Malformed) {
        if version >= 3 { _ = try reader.int32() }
        let brokers = try reader.count(compact: flexible, nullable: false, what: "brokers") ?? 0
        for _ in 0..<brokers {
            _ = try reader.int32()
            _ = try reader.string(compact: flexible, nullable: false, what: "host")
            _ = try reader.int32()
            if version >= 1 { _ = try reader.string(compact: flexible, nullable: true, what: "rack") }
            if flexible { try reader.taggedFields() }
        }
        if version >= 2 { _ = try reader.string(compact: flexible, nullable: true, what: "cluster_id") }
        if version >= 1 { _ = try reader.int32() }
        let topics = try reader.count(compact: flexible, nullable: false, what: "topics") ?? 0
        for _ in 0..<topics {
            var topic = Topic()
            let code = try reader.int16()
            denial.errorCodes.append(code)
            denial.topicErrors.append(code)
            topic.name = try reader.string(compact: flexible, nullable: version >= 12, what: "name")
            if version >= 10 { topic.id = try reader.uuid() }
            if version >= 1 { _ = try reader.int8() }
            let partitions = try reader.count(compact: flexible, nullable: false, what: "partitions") ?? 0
            for _ in 0..<partitions {
                denial.errorCodes.append(try reader.int16())
                topic.partitions.append(try reader.int32())
                _ = try reader.int32()
                if version >= 7 { _ = try reader.int32() }
                try reader.skipInt32Array(compact: flexible, what: "replica_nodes")
                try reader.skipInt32Array(compact: flexible, what: "isr_nodes")
                if version >= 5 { try reader.skipInt32Array(compact: flexible, what: "offline_replicas") }
                if flexible { try reader.taggedFields() }
            }
            if version >= 8 { _ = try reader.int32() }
            if flexible { try reader.taggedFields() }
            denial.topics.append(topic)
        }
        if (8...10).contains(version) { _ = try reader.int32() }
        // (v13's top-level error code is the broker's, not one the denial must set.)
        if version >= 13 { _ = try reader.int16() }
    }
}
