/// `cilium.EntryType`.
public enum AccessLogEntryType: Int32, Sendable {
    case request = 0
    case response = 1
    case denied = 2
}

/// The key/value fields of a `generic_l7` entry, in order (the wire form is a map).
///
/// Up to three fields are stored inline, so a parser logging a request does not allocate a collection per
/// entry; more go to an overflow array. Values are `LogText`: build them from the bytes read
/// (`LogText(decoding:)`, held inline when short) — `L7Fields(("cmd", LogText(decoding: cmd)))` — or from
/// Strings: `L7Fields(("status", "PASS"))`, or an array literal (tests, rare paths).
public struct L7Fields: Sequence, Equatable, Sendable, ExpressibleByArrayLiteral {
    public typealias Field = (key: String, value: LogText)

    private var first: Field?
    private var second: Field?
    private var third: Field?
    private var overflow: [Field] = []

    public init() {}

    public init(_ a: (String, LogText)) {
        first = a
    }

    public init(_ a: (String, LogText), _ b: (String, LogText)) {
        first = a
        second = b
    }

    public init(_ a: (String, LogText), _ b: (String, LogText), _ c: (String, LogText)) {
        first = a
        second = b
        third = c
    }

    public init(_ a: (String, String)) {
        first = (a.0, LogText(a.1))
    }

    public init(_ a: (String, String), _ b: (String, String)) {
        first = (a.0, LogText(a.1))
        second = (b.0, LogText(b.1))
    }

    public init(_ pairs: [(String, String)]) {
        for pair in pairs { append((pair.0, LogText(pair.1))) }
    }

    public init(arrayLiteral elements: (String, String)...) {
        self.init(elements)
    }

    public mutating func append(_ field: (String, LogText)) {
        if first == nil {
            first = field
        } else if second == nil {
            second = field
        } else if third == nil {
            third = field
        } else {
            overflow.append(field)
        }
    }

    public var count: Int { (first == nil ? 0 : 1) + (second == nil ? 0 : 1) + (third == nil ? 0 : 1) + overflow.count }

    /// The fields as String pairs (copies; for tests and tools).
    public struct Iterator: IteratorProtocol {
        fileprivate let fields: L7Fields
        fileprivate var index = 0

        public mutating func next() -> (String, String)? {
            defer { index += 1 }
            switch index {
            case 0: if let field = fields.first { return (field.key, field.value.string) } else { index += 1; return next() }
            case 1: if let field = fields.second { return (field.key, field.value.string) } else { index += 1; return next() }
            case 2: if let field = fields.third { return (field.key, field.value.string) } else { index += 1; return next() }
            default:
                let position = index - 3
                guard position < fields.overflow.count else { return nil }
                return (fields.overflow[position].key, fields.overflow[position].value.string)
            }
        }
    }

    public func makeIterator() -> Iterator { Iterator(fields: self) }

    /// Calls `body` with each field in order, without copying the fields (the encoder's path).
    public func forEachField(_ body: (String, LogText) throws -> Void) rethrows {
        switch first {
        case .some(let field): try body(field.key, field.value)
        case .none: break
        }
        switch second {
        case .some(let field): try body(field.key, field.value)
        case .none: break
        }
        switch third {
        case .some(let field): try body(field.key, field.value)
        case .none: break
        }
        for index in overflow.indices {
            try body(overflow[index].key, overflow[index].value)
        }
    }

    public static func == (lhs: L7Fields, rhs: L7Fields) -> Bool {
        lhs.elementsEqual(rhs, by: { $0.0 == $1.0 && $0.1 == $1.1 })
    }
}

/// The L7 part of an access-log entry (`cilium.LogEntry.l7` oneof).
public enum L7LogRecord: Equatable, Sendable {
    /// `generic_l7`: the parser's name and its fields.
    case generic(proto: String, fields: L7Fields)
    /// `kafka`.
    case kafka(correlationID: Int32, errorCode: Int32, apiVersion: Int32, apiKey: Int32, topics: [String])

    public static func == (lhs: L7LogRecord, rhs: L7LogRecord) -> Bool {
        switch (lhs, rhs) {
        case let (.generic(p1, f1), .generic(p2, f2)):
            return p1 == p2 && f1 == f2
        case let (.kafka(c1, e1, v1, k1, t1), .kafka(c2, e2, v2, k2, t2)):
            return c1 == c2 && e1 == e2 && v1 == v2 && k1 == k2 && t1 == t2
        default:
            return false
        }
    }
}

/// One `cilium.LogEntry`, with the fields upstream's `Connection.Log` sets.
public struct AccessLogEntry: Equatable, Sendable {
    public var timestampNanoseconds: UInt64
    public var entryType: AccessLogEntryType
    public var connection: ConnectionFacts
    public var l7: L7LogRecord

    public init(timestampNanoseconds: UInt64, entryType: AccessLogEntryType, connection: ConnectionFacts,
                l7: L7LogRecord) {
        self.timestampNanoseconds = timestampNanoseconds
        self.entryType = entryType
        self.connection = connection
        self.l7 = l7
    }

    public init(timestampNanoseconds: UInt64, isIngress: Bool, entryType: AccessLogEntryType, policyName: String,
                sourceSecurityID: UInt32, destinationSecurityID: UInt32, sourceAddress: String,
                destinationAddress: String, l7: L7LogRecord) {
        self.init(timestampNanoseconds: timestampNanoseconds, entryType: entryType,
                  connection: ConnectionFacts(
                      isIngress: isIngress, policyName: policyName, sourceSecurityID: sourceSecurityID,
                      destinationSecurityID: destinationSecurityID, sourceAddress: sourceAddress,
                      destinationAddress: destinationAddress),
                  l7: l7)
    }

    public var isIngress: Bool { connection.isIngress }
    public var policyName: String { connection.policyName }
    public var sourceSecurityID: UInt32 { connection.sourceSecurityID }
    public var destinationSecurityID: UInt32 { connection.destinationSecurityID }
    public var sourceAddress: String { connection.sourceAddress }
    public var destinationAddress: String { connection.destinationAddress }
}

/// Where an instance's access-log entries go. Must never block the calling (datapath) thread for long.
/// Class-bound: a connection keeps its instance's sink and calls it without copying an existential box.
public protocol AccessLogSink: AnyObject, Sendable {
    func log(_ entry: AccessLogEntry)
}
