/// `cilium.EntryType`.
public enum AccessLogEntryType: Int32, Sendable {
    case request = 0
    case response = 1
    case denied = 2
}

/// The L7 part of an access-log entry (`cilium.LogEntry.l7` oneof).
public enum L7LogRecord: Equatable, Sendable {
    /// `generic_l7`: the parser's name and its fields (an ordered list; the wire form is a map).
    case generic(proto: String, fields: [(String, String)])
    /// `kafka`.
    case kafka(correlationID: Int32, errorCode: Int32, apiVersion: Int32, apiKey: Int32, topics: [String])

    public static func == (lhs: L7LogRecord, rhs: L7LogRecord) -> Bool {
        switch (lhs, rhs) {
        case let (.generic(p1, f1), .generic(p2, f2)):
            return p1 == p2 && f1.elementsEqual(f2, by: { $0.0 == $1.0 && $0.1 == $1.1 })
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
    public var isIngress: Bool
    public var entryType: AccessLogEntryType
    public var policyName: String
    public var sourceSecurityID: UInt32
    public var destinationSecurityID: UInt32
    public var sourceAddress: String
    public var destinationAddress: String
    public var l7: L7LogRecord
}

/// Where an instance's access-log entries go. Must never block the calling (datapath) thread for long.
public protocol AccessLogSink: Sendable {
    func log(_ entry: AccessLogEntry)
}
