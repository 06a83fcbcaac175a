/// The connection's current keyspace, as far as the proxy can know it.
///
/// `USE ks` takes effect when the server answers it (RESULT Set_keyspace names the keyspace it switched to);
/// until then the server may run a pipelined statement in the old keyspace or the new one. So an unqualified
/// table is checked in every keyspace it may resolve to: the confirmed one and each `USE` still in flight
/// (upstream switches at the request, which a failing or reordered `USE` defeats).
struct KeyspaceTracker {
    /// At most this many `USE` requests in flight; a further one is denied (clients wait for each answer).
    static let maxPendingUses = 4

    private(set) var confirmed: [UInt8] = []
    private var pending: [(stream: Int16, keyspace: [UInt8])] = []

    init() {
        pending.reserveCapacity(Self.maxPendingUses)
    }

    var hasPendingUses: Bool { !pending.isEmpty }

    /// Records a `USE` sent on `stream`; false when too many are in flight.
    mutating func noteUse(stream: Int16, keyspace: UnsafeRawBufferPointer) -> Bool {
        pending.removeAll { $0.stream == stream }
        guard pending.count < Self.maxPendingUses else { return false }
        pending.append((stream, Array(keyspace)))
        return true
    }

    func isUsePending(stream: Int16) -> Bool {
        pending.contains { $0.stream == stream }
    }

    /// The server answered the `USE` on `stream`: switched to `keyspace`, or (nil) refused it.
    mutating func resolveUse(stream: Int16, switchedTo keyspace: UnsafeRawBufferPointer?) {
        pending.removeAll { $0.stream == stream }
        if let keyspace {
            confirmed.removeAll(keepingCapacity: true)
            confirmed.append(contentsOf: keyspace)
        }
    }

    /// How many keyspaces an unqualified name may resolve to (0: no keyspace yet, the bare name).
    var candidateCount: Int { (confirmed.isEmpty ? 0 : 1) + pending.count }

    /// The `index`-th candidate: the confirmed keyspace first, then the pending ones oldest first; the last
    /// one is the most recent choice of the client (logged).
    func withCandidate<Result>(_ index: Int, _ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        var index = index
        if !confirmed.isEmpty {
            if index == 0 { return confirmed.withUnsafeBytes(body) }
            index -= 1
        }
        guard index >= 0 && index < pending.count else { return body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        return pending[index].keyspace.withUnsafeBytes(body)
    }
}
