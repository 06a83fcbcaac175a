import Synchronization

/// The open instances, with their open counts. OpenModule with parameters an open instance can serve returns
/// that instance's id and counts the open; CloseModule tears an instance down when its count reaches zero.
public final class InstanceTable: Sendable {
    private struct Entry {
        let instance: Instance
        let services: [any InstanceService]
        var openCount: Int
    }

    private struct State {
        var entries: [UInt64: Entry] = [:]
        var lastID: UInt64 = 0
    }

    // A plain lock, not `Mutex`: `find` runs on every OnNewConnection from every worker (see `PlainLock`).
    private let state = PlainLock(State())
    /// Serializes OpenModule calls: making an instance may wait (its NPDS client waits up to a second for the
    /// first connection attempt), and two opens with the same parameters must not both make one. `state` is
    /// never held during that wait, so `find` (every OnNewConnection, on Envoy's worker threads) and `close`
    /// stay short while an open is in progress.
    private let openLock = Mutex<Void>(())

    public init() {}

    /// Opens (or re-opens) an instance; `make` builds a new one for a fresh id, with the services (policy
    /// client, access logger) that live as long as it does. `make` runs without the table lock held.
    public func open(_ params: ModuleParams, make: (UInt64) -> (Instance, [any InstanceService])) -> UInt64 {
        openLock.withLock { _ in
            let reserved = state.withLock { state -> (id: UInt64, isNew: Bool) in
                for (id, entry) in state.entries.sorted(by: { $0.key < $1.key }) where params.canShare(entry.instance.params) {
                    state.entries[id]?.openCount += 1
                    Diagnostics.debug("OpenModule: instance \(id) reopened, open count \(entry.openCount + 1)")
                    return (id, false)
                }
                state.lastID += 1
                return (state.lastID, true)
            }
            guard reserved.isNew else { return reserved.id }
            // Only opens (serialized by openLock) add entries, so no instance that could serve these
            // parameters can appear while this one is made; a close meanwhile only removes others.
            let (instance, services) = make(reserved.id)
            state.withLock { $0.entries[reserved.id] = Entry(instance: instance, services: services, openCount: 1) }
            Diagnostics.debug("OpenModule: instance \(reserved.id) opened")
            return reserved.id
        }
    }

    /// Undoes one open; when this was the last open, removes the instance and shuts its services down.
    public func close(_ id: UInt64) {
        let closed = state.withLock { state -> Entry? in
            guard var entry = state.entries[id] else {
                Diagnostics.debug("CloseModule(\(id)): no such instance (closed already?)")
                return nil
            }
            entry.openCount -= 1
            if entry.openCount > 0 {
                state.entries[id] = entry
                Diagnostics.debug("CloseModule(\(id)): open count \(entry.openCount)")
                return nil
            }
            state.entries[id] = nil
            Diagnostics.debug("CloseModule(\(id)): instance closed")
            return entry
        }
        // Outside the lock: stopping a client may wait for its thread.
        closed?.services.forEach { $0.shutdown() }
    }

    public func find(_ id: UInt64) -> Instance? {
        state.withLock { $0.entries[id]?.instance }
    }

    public var count: Int { state.withLock { $0.entries.count } }
}
