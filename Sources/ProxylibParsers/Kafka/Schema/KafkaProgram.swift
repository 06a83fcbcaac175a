/// A message description flattened for one version: a list of plain ops (no references, so running one costs
/// no reference counting). Struct arrays and structs are bracketed by begin/end ops whose `end` points past
/// the bracket; in flexible versions every struct and the message itself end with a tagged-field section.
struct KafkaOp {
    enum Kind: UInt8 {
        /// A fixed-width value (`width` bytes).
        case fixed
        /// STRING / COMPACT_STRING.
        case string
        /// BYTES / COMPACT_BYTES / RECORDS.
        case bytes
        /// An array of primitives: `element` and `width` (0 for strings and bytes) describe each element.
        case array
        /// An array of structs: its elements' ops follow, up to `end` (exclusive).
        case structs
        /// One struct: its ops follow, up to `end` (exclusive).
        case structure
        /// A tagged-field section.
        case tagged
    }

    var kind: Kind
    var role: KafkaRole = .none
    var width: UInt8 = 0
    var element: Kind = .fixed
    /// Flexible version: compact lengths.
    var compact = false
    var nullable = false
    var defaultValue: Int64 = 0
    /// For `.structs` and `.structure`: the index just past the ops of the body.
    var end: Int32 = 0
}

/// One api key, compiled: its request and response programs for every version it has.
final class KafkaCompiledAPI: Sendable {
    let key: Int16
    let name: StaticString
    let versions: KafkaVersions
    let flexibleFrom: Int16?
    private let requests: [[KafkaOp]]
    private let responses: [[KafkaOp]]
    /// Per version: whether the request can name topics (it is a topic request for the policy).
    private let topicBearing: [Bool]
    /// Per version: whether the request names config resources (only its topic resources are topics).
    private let resourceBased: [Bool]

    init(_ api: KafkaAPI) {
        key = api.key
        name = api.name
        versions = api.versions
        flexibleFrom = api.flexibleFrom
        var requests: [[KafkaOp]] = []
        var responses: [[KafkaOp]] = []
        var topicBearing: [Bool] = []
        var resourceBased: [Bool] = []
        for version in api.versions.low...api.versions.high {
            let flexible = api.isFlexible(version)
            let request = KafkaProgramCompiler.compile(api.request, version: version, flexible: flexible)
            requests.append(request)
            responses.append(KafkaProgramCompiler.compile(api.response, version: version, flexible: flexible))
            topicBearing.append(request.contains { [.topicName, .topicID, .resources].contains($0.role) })
            resourceBased.append(request.contains { $0.role == .resources })
        }
        self.requests = requests
        self.responses = responses
        self.topicBearing = topicBearing
        self.resourceBased = resourceBased
    }

    func supports(_ version: Int16) -> Bool { versions.contains(version) }

    func isFlexible(_ version: Int16) -> Bool {
        guard let flexibleFrom else { return false }
        return version >= flexibleFrom
    }

    /// Callers check `supports(version)` first.
    func request(_ version: Int16) -> [KafkaOp] { requests[Int(version - versions.low)] }
    func response(_ version: Int16) -> [KafkaOp] { responses[Int(version - versions.low)] }
    func namesTopics(_ version: Int16) -> Bool { topicBearing[Int(version - versions.low)] }
    func isResourceBased(_ version: Int16) -> Bool { resourceBased[Int(version - versions.low)] }

    /// Request header version 2 (tagged fields) in flexible versions; version 0 (no client id) for
    /// ControlledShutdown v0 only.
    func requestHeaderHasClientID(_ version: Int16) -> Bool { !(key == KafkaAPIKey.controlledShutdown && version == 0) }

    /// Response header version 1 (tagged fields) in flexible versions, except ApiVersions: its response header
    /// stays version 0 so that a client can read it before it knows what the broker supports.
    func responseHeaderIsFlexible(_ version: Int16) -> Bool {
        key != KafkaAPIKey.apiVersions && isFlexible(version)
    }
}

enum KafkaAPIKey {
    static let produce: Int16 = 0
    static let metadata: Int16 = 3
    static let controlledShutdown: Int16 = 7
    static let apiVersions: Int16 = 18
}

/// Every api key we read, compiled once (on first use, thread-safely: a static).
enum KafkaAPIs {
    static let byKey: [KafkaCompiledAPI?] = {
        let all = KafkaAPI.all
        let maxKey = all.map { Int($0.key) }.max() ?? 0
        var table = [KafkaCompiledAPI?](repeating: nil, count: maxKey + 1)
        for api in all { table[Int(api.key)] = KafkaCompiledAPI(api) }
        return table
    }()

    static func api(_ key: Int16) -> KafkaCompiledAPI? {
        guard key >= 0, Int(key) < byKey.count else { return nil }
        return byKey[Int(key)]
    }
}

enum KafkaProgramCompiler {
    static func compile(_ fields: [KafkaField], version: Int16, flexible: Bool) -> [KafkaOp] {
        var ops: [KafkaOp] = []
        append(fields, version: version, flexible: flexible, to: &ops)
        if flexible { ops.append(KafkaOp(kind: .tagged)) }
        return ops
    }

    private static func append(_ fields: [KafkaField], version: Int16, flexible: Bool, to ops: inout [KafkaOp]) {
        for field in fields where field.versions.contains(version) {
            let nullable = field.nullable.contains(version)
            switch field.type {
            case .structs(let inner), .structure(let inner):
                let isArray: Bool
                if case .structs = field.type { isArray = true } else { isArray = false }
                let begin = ops.count
                ops.append(KafkaOp(kind: isArray ? .structs : .structure, role: field.role, compact: flexible,
                                   nullable: nullable))
                append(inner, version: version, flexible: flexible, to: &ops)
                if flexible { ops.append(KafkaOp(kind: .tagged)) }
                ops[begin].end = Int32(ops.count)
            case .array(let element):
                let (kind, width) = shape(element)
                ops.append(KafkaOp(kind: .array, role: field.role, width: width, element: kind, compact: flexible,
                                   nullable: nullable))
            default:
                let (kind, width) = shape(field.type)
                ops.append(KafkaOp(kind: kind, role: field.role, width: width, compact: flexible, nullable: nullable,
                                   defaultValue: field.defaultValue))
            }
        }
    }

    /// The op kind and width of a primitive type.
    private static func shape(_ type: KafkaFieldType) -> (KafkaOp.Kind, UInt8) {
        switch type {
        case .bool, .int8: return (.fixed, 1)
        case .int16, .uint16: return (.fixed, 2)
        case .int32: return (.fixed, 4)
        case .int64, .float64: return (.fixed, 8)
        case .uuid: return (.fixed, 16)
        case .string: return (.string, 0)
        case .bytes, .records: return (.bytes, 0)
        case .array, .structs, .structure: return (.bytes, 0)  // not a primitive; descriptions never nest these here
        }
    }
}
