/// The parts of a request body after the query that can change what it acts on: in protocol v5 a QUERY,
/// PREPARE or BATCH may name its keyspace (flag 0x80 of the query parameters, 0x01 of PREPARE's flags), which
/// then stands for the connection's keyspace. v3 and v4 have no such field.
enum QueryParameters {
    enum Outcome {
        case keyspace(UnsafeRawBufferPointer?)
        case malformed
    }

    private static let withValues: UInt32 = 0x01
    private static let withPageSize: UInt32 = 0x04
    private static let withPagingState: UInt32 = 0x08
    private static let withSerialConsistency: UInt32 = 0x10
    private static let withTimestamp: UInt32 = 0x20
    private static let withNames: UInt32 = 0x40
    private static let withKeyspace: UInt32 = 0x80

    /// The keyspace of a QUERY's parameters (after its query string).
    static func queryKeyspace(_ reader: inout BodyReader, version: UInt8) -> Outcome {
        guard version >= 5 else { return .keyspace(nil) }
        guard reader.short() != nil, let flags = reader.int().map({ UInt32(bitPattern: $0) }) else { return .malformed }
        if flags & withValues != 0 {
            guard let count = reader.short() else { return .malformed }
            for _ in 0..<count {
                if flags & withNames != 0 && reader.string() == nil { return .malformed }
                guard reader.skipValue() else { return .malformed }
            }
        }
        return afterValues(&reader, flags: flags, pageSize: true)
    }

    /// The keyspace of a BATCH's parameters (after its statements).
    static func batchKeyspace(_ reader: inout BodyReader, version: UInt8) -> Outcome {
        guard reader.short() != nil else { return .malformed }
        let flags: UInt32
        if version >= 5 {
            guard let value = reader.int() else { return .malformed }
            flags = UInt32(bitPattern: value)
        } else {
            guard let value = reader.byte() else { return .malformed }
            flags = UInt32(value)
        }
        guard version >= 5 else { return .keyspace(nil) }
        return afterValues(&reader, flags: flags, pageSize: false)
    }

    /// The keyspace of a PREPARE (after its query string).
    static func prepareKeyspace(_ reader: inout BodyReader, version: UInt8) -> Outcome {
        guard version >= 5 else { return .keyspace(nil) }
        guard let flags = reader.int() else { return .malformed }
        guard UInt32(bitPattern: flags) & 0x01 != 0 else { return .keyspace(nil) }
        guard let keyspace = reader.string() else { return .malformed }
        return .keyspace(keyspace)
    }

    private static func afterValues(_ reader: inout BodyReader, flags: UInt32, pageSize: Bool) -> Outcome {
        if pageSize {
            if flags & withPageSize != 0 && reader.int() == nil { return .malformed }
            if flags & withPagingState != 0 && !reader.skipValue() { return .malformed }
        }
        if flags & withSerialConsistency != 0 && reader.short() == nil { return .malformed }
        if flags & withTimestamp != 0 && !reader.skip(8) { return .malformed }
        guard flags & withKeyspace != 0 else { return .keyspace(nil) }
        guard let keyspace = reader.string() else { return .malformed }
        return .keyspace(keyspace)
    }
}
