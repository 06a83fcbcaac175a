/// Kafka message schemas, written as data: which fields a request or response has in which versions.
///
/// Each api key's request and response are described once, field by field, with the versions each field
/// exists in (the facts of the Kafka protocol's published message definitions). `KafkaProgram` flattens a
/// description into a program for one version, which `KafkaWalker` runs over request bytes (to find the
/// topics a request names) and `KafkaResponseWriter` runs to encode a denial.
///
/// Tagged fields (KIP-482) are left out of the descriptions: a reader skips every tagged section whole and a
/// writer writes empty ones. Roles mark the fields a parser cares about; every other field is only framed.

/// The versions a field (or message) exists in: `low...high`, inclusive.
public struct KafkaVersions: Sendable, Equatable {
    public let low: Int16
    public let high: Int16

    public static let all = KafkaVersions(low: 0, high: .max)
    public static let none = KafkaVersions(low: 1, high: 0)

    public init(low: Int16, high: Int16) {
        self.low = low
        self.high = high
    }

    public func contains(_ version: Int16) -> Bool { low <= version && version <= high }
}

/// Lets a description say `3...`, `0...12` or `.all` for the versions of a field.
public protocol KafkaVersionsExpression {
    var kafkaVersions: KafkaVersions { get }
}

extension KafkaVersions: KafkaVersionsExpression {
    public var kafkaVersions: KafkaVersions { self }
}

extension ClosedRange: KafkaVersionsExpression where Bound == Int16 {
    public var kafkaVersions: KafkaVersions { KafkaVersions(low: lowerBound, high: upperBound) }
}

extension PartialRangeFrom: KafkaVersionsExpression where Bound == Int16 {
    public var kafkaVersions: KafkaVersions { KafkaVersions(low: lowerBound, high: .max) }
}

/// What a field means to the parser. In a request the walker records it; in a response the writer fills it
/// from what the request said (echo), or with the denial's error code.
public enum KafkaRole: UInt8, Sendable {
    case none
    /// An array whose elements are topics; in a response, one element per topic of the request (of the
    /// current group or resource, where there are groups).
    case topics
    /// A topic's name (string). Outside a `topics` element (a `[]string`, or a lone name) each one is a topic.
    case topicName
    /// A topic's id (uuid), KIP-516.
    case topicID
    /// An array whose elements are the partitions of the current topic; in a response, one per partition.
    case partitions
    /// A partition index (int32), or an `[]int32` of them.
    case partitionIndex
    /// An array of consumer groups (OffsetFetch's multi-group form); in a response, one element per group.
    case groups
    /// A group id (string) of the current group.
    case groupID
    /// An array of config resources (Describe/Alter configs); in a response, one element per resource.
    case resources
    /// A config resource's type (int8): 2 is a topic.
    case resourceType
    /// A config resource's name (string); a topic when the resource's type is 2.
    case resourceName
    /// Produce's `acks` (int16): 0 means the broker sends no response.
    case acks
    /// A response's error code (int16): written as the denial's error code.
    case errorCode
    /// An array of other things a request names one by one (groups to describe, ACLs to create, coordinator
    /// keys, …), which its response answers one element each; `[]string` items are their own keys.
    case items
    /// The key of the current item (a string), echoed in the item's answer.
    case itemKey
}

/// A field's wire type.
public indirect enum KafkaFieldType: Sendable {
    case bool, int8, int16, int32, int64, uint16, float64, uuid
    /// STRING, or COMPACT_STRING in flexible versions; null is accepted wherever it appears.
    case string
    /// BYTES, or COMPACT_BYTES in flexible versions.
    case bytes
    /// RECORDS: nullable bytes holding record batches (never looked into).
    case records
    /// An array of a primitive type (`[]int32`, `[]string`, …).
    case array(KafkaFieldType)
    /// An array of structs (`[]Topic`).
    case structs([KafkaField])
    /// One nested struct (not an array); a nullable one is preceded by an int8 marker (-1: null).
    case structure([KafkaField])
}

/// One field of a message description.
public struct KafkaField: Sendable {
    public let name: StaticString
    public let type: KafkaFieldType
    public let versions: KafkaVersions
    public let role: KafkaRole
    /// Versions in which the field may be null: a response writer writes null there rather than empty.
    public let nullable: KafkaVersions
    /// What a response writer puts in a numeric field it has nothing to echo into.
    public let defaultValue: Int64

    public init(_ name: StaticString, _ type: KafkaFieldType, _ versions: some KafkaVersionsExpression = KafkaVersions.all,
                role: KafkaRole = .none, nullable: some KafkaVersionsExpression = KafkaVersions.none,
                default defaultValue: Int64 = 0) {
        self.name = name
        self.type = type
        self.versions = versions.kafkaVersions
        self.role = role
        self.nullable = nullable.kafkaVersions
        self.defaultValue = defaultValue
    }
}

extension KafkaField {
    public static func bool(_ name: StaticString, _ versions: some KafkaVersionsExpression = KafkaVersions.all) -> KafkaField {
        KafkaField(name, .bool, versions)
    }

    public static func int8(_ name: StaticString, _ versions: some KafkaVersionsExpression = KafkaVersions.all,
                            role: KafkaRole = .none, default value: Int64 = 0) -> KafkaField {
        KafkaField(name, .int8, versions, role: role, default: value)
    }

    public static func int16(_ name: StaticString, _ versions: some KafkaVersionsExpression = KafkaVersions.all,
                             role: KafkaRole = .none, default value: Int64 = 0) -> KafkaField {
        KafkaField(name, .int16, versions, role: role, default: value)
    }

    public static func int32(_ name: StaticString, _ versions: some KafkaVersionsExpression = KafkaVersions.all,
                             role: KafkaRole = .none, default value: Int64 = 0) -> KafkaField {
        KafkaField(name, .int32, versions, role: role, default: value)
    }

    public static func int64(_ name: StaticString, _ versions: some KafkaVersionsExpression = KafkaVersions.all,
                             default value: Int64 = 0) -> KafkaField {
        KafkaField(name, .int64, versions, default: value)
    }

    public static func uint16(_ name: StaticString, _ versions: some KafkaVersionsExpression = KafkaVersions.all) -> KafkaField {
        KafkaField(name, .uint16, versions)
    }

    public static func float64(_ name: StaticString, _ versions: some KafkaVersionsExpression = KafkaVersions.all) -> KafkaField {
        KafkaField(name, .float64, versions)
    }

    public static func uuid(_ name: StaticString, _ versions: some KafkaVersionsExpression = KafkaVersions.all,
                            role: KafkaRole = .none) -> KafkaField {
        KafkaField(name, .uuid, versions, role: role)
    }

    public static func string(_ name: StaticString, _ versions: some KafkaVersionsExpression = KafkaVersions.all,
                              role: KafkaRole = .none,
                              nullable: some KafkaVersionsExpression = KafkaVersions.none) -> KafkaField {
        KafkaField(name, .string, versions, role: role, nullable: nullable)
    }

    public static func bytes(_ name: StaticString, _ versions: some KafkaVersionsExpression = KafkaVersions.all,
                             nullable: some KafkaVersionsExpression = KafkaVersions.none) -> KafkaField {
        KafkaField(name, .bytes, versions, nullable: nullable)
    }

    public static func records(_ name: StaticString, _ versions: some KafkaVersionsExpression = KafkaVersions.all) -> KafkaField {
        KafkaField(name, .records, versions, nullable: KafkaVersions.all)
    }

    /// An array of primitives, e.g. `.array("partition_indexes", of: .int32, role: .partitionIndex)`.
    public static func array(_ name: StaticString, of element: KafkaFieldType,
                             _ versions: some KafkaVersionsExpression = KafkaVersions.all, role: KafkaRole = .none,
                             nullable: some KafkaVersionsExpression = KafkaVersions.none) -> KafkaField {
        KafkaField(name, .array(element), versions, role: role, nullable: nullable)
    }

    /// An array of structs whose fields are `fields`.
    public static func structs(_ name: StaticString, _ versions: some KafkaVersionsExpression = KafkaVersions.all,
                               role: KafkaRole = .none,
                               nullable: some KafkaVersionsExpression = KafkaVersions.none,
                               _ fields: [KafkaField]) -> KafkaField {
        KafkaField(name, .structs(fields), versions, role: role, nullable: nullable)
    }

    /// One nested struct.
    public static func structure(_ name: StaticString, _ versions: some KafkaVersionsExpression = KafkaVersions.all,
                                 nullable: some KafkaVersionsExpression = KafkaVersions.none,
                                 _ fields: [KafkaField]) -> KafkaField {
        KafkaField(name, .structure(fields), versions, nullable: nullable)
    }
}

/// One api key: the request versions we read, where flexible encodings begin, and both message descriptions.
public struct KafkaAPI: Sendable {
    public let key: Int16
    public let name: StaticString
    /// The request versions we parse; others are refused.
    public let versions: KafkaVersions
    /// The first flexible version (KIP-482), or nil when none is.
    public let flexibleFrom: Int16?
    public let request: [KafkaField]
    public let response: [KafkaField]

    public init(key: Int16, name: StaticString, versions: ClosedRange<Int16>, flexibleFrom: Int16?,
                request: [KafkaField], response: [KafkaField]) {
        self.key = key
        self.name = name
        self.versions = versions.kafkaVersions
        self.flexibleFrom = flexibleFrom
        self.request = request
        self.response = response
    }

    public func isFlexible(_ version: Int16) -> Bool {
        guard let flexibleFrom else { return false }
        return version >= flexibleFrom
    }
}
