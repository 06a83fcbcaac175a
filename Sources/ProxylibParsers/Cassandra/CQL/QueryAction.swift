/// What a CQL statement does, by the names policies use in `query_action` (upstream's list). `tableKind` says
/// what `query_table` is matched against: a `keyspace.table`, a keyspace name, or nothing.
enum QueryAction: UInt8, CaseIterable, Sendable {
    case select, delete, insert, update
    case createTable, dropTable, alterTable, truncateTable
    case use, createKeyspace, alterKeyspace, dropKeyspace
    case dropIndex, createIndex, createMaterializedView, dropMaterializedView
    case createRole, alterRole, dropRole, grantRole, revokeRole, listRoles
    case grantPermission, revokePermission, listPermissions
    case createUser, alterUser, dropUser, listUsers
    case createFunction, dropFunction, createAggregate, dropAggregate
    case createType, alterType, dropType, createTrigger, dropTrigger

    enum TableKind {
        /// `keyspace.table`
        case table
        /// The keyspace name alone.
        case keyspace
        /// No table: a rule naming the action cannot carry `query_table` (the update is rejected).
        case none
    }

    var tableKind: TableKind {
        switch self {
        case .select, .delete, .insert, .update, .createTable, .dropTable, .alterTable, .truncateTable:
            return .table
        case .use, .createKeyspace, .alterKeyspace, .dropKeyspace:
            return .keyspace
        default:
            return .none
        }
    }

    /// The policy and access-log name.
    var name: StaticString {
        switch self {
        case .select: return "select"
        case .delete: return "delete"
        case .insert: return "insert"
        case .update: return "update"
        case .createTable: return "create-table"
        case .dropTable: return "drop-table"
        case .alterTable: return "alter-table"
        case .truncateTable: return "truncate-table"
        case .use: return "use"
        case .createKeyspace: return "create-keyspace"
        case .alterKeyspace: return "alter-keyspace"
        case .dropKeyspace: return "drop-keyspace"
        case .dropIndex: return "drop-index"
        case .createIndex: return "create-index"
        case .createMaterializedView: return "create-materialized-view"
        case .dropMaterializedView: return "drop-materialized-view"
        case .createRole: return "create-role"
        case .alterRole: return "alter-role"
        case .dropRole: return "drop-role"
        case .grantRole: return "grant-role"
        case .revokeRole: return "revoke-role"
        case .listRoles: return "list-roles"
        case .grantPermission: return "grant-permission"
        case .revokePermission: return "revoke-permission"
        case .listPermissions: return "list-permissions"
        case .createUser: return "create-user"
        case .alterUser: return "alter-user"
        case .dropUser: return "drop-user"
        case .listUsers: return "list-users"
        case .createFunction: return "create-function"
        case .dropFunction: return "drop-function"
        case .createAggregate: return "create-aggregate"
        case .dropAggregate: return "drop-aggregate"
        case .createType: return "create-type"
        case .alterType: return "alter-type"
        case .dropType: return "drop-type"
        case .createTrigger: return "create-trigger"
        case .dropTrigger: return "drop-trigger"
        }
    }

    var nameString: String { name.withUTF8Buffer { String(decoding: $0, as: UTF8.self) } }

    /// The action a policy names, or nil for a name upstream does not know.
    init?(policyName: String) {
        guard let action = QueryAction.allCases.first(where: { $0.nameString == policyName }) else { return nil }
        self = action
    }
}
