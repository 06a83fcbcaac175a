/// Walks the body of a BATCH request: `type`, `n`, n × (kind, query or prepared id, values), parameters.
enum BatchBody {
    enum Entry {
        case query(UnsafeRawBufferPointer)
        case prepared(id: UnsafeRawBufferPointer)
    }

    /// Calls `entry` for each statement (stop by returning false); returns the batch's keyspace (v5), or
    /// `.malformed` when the body does not hold what it declares.
    static func walk(_ body: UnsafeRawBufferPointer, from offset: Int, version: UInt8,
                     _ entry: (Entry) -> Bool) -> QueryParameters.Outcome {
        var reader = BodyReader(body, offset: offset)
        guard reader.byte() != nil, let count = reader.short() else { return .malformed }
        var stopped = false
        for _ in 0..<count {
            guard let kind = reader.byte() else { return .malformed }
            let item: Entry
            switch kind {
            case 0:
                guard let query = reader.longString() else { return .malformed }
                item = .query(query)
            case 1:
                guard let id = reader.shortBytes() else { return .malformed }
                item = .prepared(id: id)
            default:
                return .malformed
            }
            guard let values = reader.short() else { return .malformed }
            for _ in 0..<values {
                guard reader.skipValue() else { return .malformed }
            }
            if !stopped && !entry(item) { stopped = true }
        }
        return QueryParameters.batchKeyspace(&reader, version: version)
    }
}
