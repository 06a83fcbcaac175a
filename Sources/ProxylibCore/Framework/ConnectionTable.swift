/// The live connections by caller-allocated id. Every OnData looks its connection up here, from every worker
/// thread at once, so the table is split into shards by id, each behind its own plain lock: two threads
/// collide only when their connections hash to the same shard, and then only for the table access.
public final class ConnectionTable: Sendable {
    /// A power of two, well above Envoy's worker count.
    private static let shardCount = 64

    private let shards: [PlainLock<IDTable<Connection>>]

    public init() {
        shards = (0..<Self.shardCount).map { _ in PlainLock(IDTable<Connection>()) }
    }

    /// The shard of `id`: Envoy's ids are sequential, so take the top bits of a multiplicative hash — with
    /// another multiplier than the IDTable inside uses, so that the keys of one shard still spread over its
    /// table (with the same product, every key of a shard would share the bits that pick its home slot).
    @inline(__always)
    private func shard(_ id: UInt64) -> PlainLock<IDTable<Connection>> {
        shards[Int(truncatingIfNeeded: (id &* 0xC2B2_AE3D_27D4_EB4F) >> 58)]
    }

    /// Adds `connection`; a connection still open under the same id (the caller never closed it) is closed.
    func insert(_ connection: Connection) {
        let replaced = shard(connection.id).withLock { $0.insert(connection, for: connection.id) }
        replaced?.detachParser()
    }

    public func find(_ id: UInt64) -> Connection? {
        shard(id).withLock { $0[id] }
    }

    /// Removes a closed connection and drops its parser (which may hold the connection strongly).
    @discardableResult
    func remove(_ id: UInt64) -> Connection? {
        let removed = shard(id).withLock { $0.remove(id) }
        removed?.detachParser()
        return removed
    }

    public var count: Int { shards.reduce(0) { total, shard in total + shard.withLock { $0.count } } }
}
