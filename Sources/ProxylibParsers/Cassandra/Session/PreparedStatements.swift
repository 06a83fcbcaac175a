/// A prepared statement's id as the server chose it (an MD5 digest, 16 bytes, in Cassandra), held inline
/// up to 16 bytes so looking one up does not allocate.
struct PreparedID: Hashable {
    private var low: UInt64 = 0
    private var high: UInt64 = 0
    private var count: Int
    private var long: [UInt8]?

    init(_ bytes: UnsafeRawBufferPointer) {
        count = bytes.count
        if bytes.count <= 16 {
            withUnsafeMutableBytes(of: &low) { target in
                for index in 0..<min(8, bytes.count) { target[index] = bytes[index] }
            }
            if bytes.count > 8 {
                withUnsafeMutableBytes(of: &high) { target in
                    for index in 8..<bytes.count { target[index - 8] = bytes[index] }
                }
            }
        } else {
            long = Array(bytes)
        }
    }
}

/// What a prepared statement does, kept from its PREPARE so that each EXECUTE is checked against the policy
/// in force at that time.
struct PreparedStatement {
    enum Content {
        /// A prepared `USE`.
        case use(keyspace: [UInt8])
        /// The statements of the query (one, or those of a batch), their tables resolved at PREPARE time:
        /// the keyspace is part of what the server prepared.
        case statements([StoredStatement])
        /// A query that could not be classified (prepared under a rule without conditions).
        case unclassified(leadingWord: [UInt8])
    }

    var content: Content
}

struct StoredStatement {
    var action: QueryAction
    var table: [UInt8]
}

/// The prepared statements of one connection: PREPAREs waiting for their answer (by stream id), and the ids
/// the server answered with. Both are bounded; an id forgotten to make room is answered UNPREPARED at its
/// next use, and the client prepares it again — the proxy never guesses.
struct PreparedStatements {
    static let maxPending = 1024
    static let maxPrepared = 4096

    /// `shared`: another request was sent on the stream while the PREPARE waited (see `KeyspaceTracker`).
    private var pending: [Int16: (statement: PreparedStatement, shared: Bool)] = [:]
    private var prepared: [PreparedID: PreparedStatement] = [:]

    var hasPending: Bool { !pending.isEmpty }

    func isPending(stream: Int16) -> Bool { pending[stream] != nil }

    /// Records a PREPARE sent on `stream`; false when one already waits there (which answer is whose could
    /// not be told).
    mutating func notePrepare(stream: Int16, _ statement: PreparedStatement) -> Bool {
        guard pending[stream] == nil else { return false }
        if pending.count >= Self.maxPending, let victim = pending.keys.first {
            pending.removeValue(forKey: victim)
        }
        pending[stream] = (statement, false)
        return true
    }

    /// Another request goes out on `stream`.
    mutating func markShared(stream: Int16) {
        pending[stream]?.shared = true
    }

    /// An answer on `stream`: RESULT Prepared with its id, or (nil) anything else, which means the PREPARE
    /// failed — unless the stream was shared, when the answer may be the other request's.
    mutating func resolvePrepare(stream: Int16, id: UnsafeRawBufferPointer?) {
        guard let entry = pending[stream], id != nil || !entry.shared else { return }
        pending.removeValue(forKey: stream)
        let statement = entry.statement
        guard let id else { return }
        let key = PreparedID(id)
        if prepared.count >= Self.maxPrepared, prepared[key] == nil, let victim = prepared.keys.first {
            prepared.removeValue(forKey: victim)
        }
        prepared[key] = statement
    }

    func statement(for id: UnsafeRawBufferPointer) -> PreparedStatement? {
        prepared[PreparedID(id)]
    }
}
