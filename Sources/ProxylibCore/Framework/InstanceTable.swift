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

    private let state = Mutex(State())

    public init() {}

    /// Opens (or re-opens) an instance; `make` builds a new one for a fresh id, with the services (policy
    /// client, access logger) that live as long as it does.
    public func open(_ params: ModuleParams, make: (UInt64) -> (Instance, [any InstanceService])) -> UInt64 {
        state.withLock { state in
            for (id, entry) in state.entries.sorted(by: { $0.key < $1.key }) where params.canShare(entry.instance.params) {
                state.entries[id]?.openCount += 1
                Diagnostics.debug("OpenModule: instance \(id) reopened, open count \(entry.openCount + 1)")
                return id
            }
            state.lastID += 1
            let id = state.lastID
            let (instance, services) = make(id)
            state.entries[id] = Entry(instance: instance, services: services, openCount: 1)
            Diagnostics.debug("OpenModule: instance \(id) opened")
            return id
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
