import Synchronization

/// The live connections by caller-allocated id. Different worker threads look up different connections at
/// the same time; the lock covers only the table access.
public final class ConnectionTable: Sendable {
    private let connections = Mutex(IDTable<Connection>())

    public init() {}

    /// Adds `connection`; a connection still open under the same id (the caller never closed it) is closed.
    func insert(_ connection: Connection) {
        let replaced = connections.withLock { $0.insert(connection, for: connection.id) }
        replaced?.detachParser()
    }

    public func find(_ id: UInt64) -> Connection? {
        connections.withLock { $0[id] }
    }

    /// Removes a closed connection and drops its parser (which may hold the connection strongly).
    @discardableResult
    func remove(_ id: UInt64) -> Connection? {
        let removed = connections.withLock { $0.remove(id) }
        removed?.detachParser()
        return removed
    }

    public var count: Int { connections.withLock { $0.count } }
}
