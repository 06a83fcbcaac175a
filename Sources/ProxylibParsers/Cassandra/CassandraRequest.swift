/// The request a Cassandra rule sees; `table` is a view valid during the policy check only.
struct CassandraRequest {
    enum Kind {
        /// STARTUP, OPTIONS, REGISTER, AUTH_RESPONSE: allowed by every rule, as upstream.
        case control
        /// A classified statement.
        case statement
        /// A statement that could not be classified safely: only a rule without conditions allows it.
        case unclassified
    }

    var kind: Kind
    var action: QueryAction
    /// `keyspace.table` (or the keyspace, for keyspace actions); empty for actions without a table.
    var table: UnsafeRawBufferPointer

    static var control: CassandraRequest { CassandraRequest(kind: .control, action: .select, table: UnsafeRawBufferPointer(start: nil, count: 0)) }
}
