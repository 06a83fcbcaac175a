import Atomics
import Synchronization

/// The topic names behind topic ids (KIP-516), learnt from the Metadata responses that pass through any
/// connection of one instance. Readers load an immutable snapshot without waiting; a response that teaches
/// something new publishes a new snapshot under a lock that only writers take.
final class KafkaTopicIDs: Sendable {
    static let stateKey = "kafka.topic-ids"
    /// Beyond this many ids the map starts over (a bound on memory; ids are learnt again as metadata flows).
    static let limit = 1 << 20

    final class Snapshot: AtomicReference, Sendable {
        let names: [KafkaUUID: [UInt8]]
        init(_ names: [KafkaUUID: [UInt8]]) { self.names = names }
    }

    private let current = ManagedAtomic(Snapshot([:]))
    private let writer = Mutex<Void>(())

    var snapshot: Snapshot { current.load(ordering: .acquiring) }

    /// Records `pairs` (id, name); publishes only when one is new or changed.
    func learn(_ pairs: some Sequence<(KafkaUUID, UnsafeRawBufferPointer)>) {
        let known = snapshot.names
        let fresh = pairs.filter { id, name in
            guard let existing = known[id] else { return true }
            return !existing.elementsEqual(name)
        }.map { ($0.0, Array($0.1)) }
        guard !fresh.isEmpty else { return }
        writer.withLock { _ in
            var names = current.load(ordering: .acquiring).names
            if names.count + fresh.count > Self.limit { names = [:] }
            for (id, name) in fresh { names[id] = name }
            current.store(Snapshot(names), ordering: .releasing)
        }
    }
}
