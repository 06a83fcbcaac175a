import Synchronization

/// The live connections by caller-allocated id. Different worker threads look up different connections at
/// the same time; the lock covers only the dictionary access.
public final class ConnectionTable: Sendable {
    private let connections = Mutex<[UInt64: Connection]>([:])

    public init() {}

    func insert(_ connection: Connection) {
        connections.withLock { $0[connection.id] = connection }
    }

    public func find(_ id: UInt64) -> Connection? {
        connections.withLock { $0[id] }
    }

    @discardableResult
    func remove(_ id: UInt64) -> Connection? {
        connections.withLock { $0.removeValue(forKey: id) }
    }

    public var count: Int { connections.withLock { $0.count } }
}
