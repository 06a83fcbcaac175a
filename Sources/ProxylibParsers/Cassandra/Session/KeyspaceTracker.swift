/// The keyspaces the connection may be in, as far as the proxy can know.
///
/// `USE ks` takes effect when the server runs it, and the server may run pipelined requests in any order: a
/// statement sent while a USE is in flight may run in the old keyspace or the new one, and of overlapping USEs
/// any may run last. So the tracker keeps every keyspace that may be current — the settled ones, the USEs in
/// flight, and those a server answered while others were still in flight — and an unqualified table is checked
/// in each (upstream switches at the request, which a failing or reordered `USE` defeats). When the last USE
/// in flight is answered, the keyspaces the server confirmed (RESULT Set_keyspace names it) become the settled
/// set: exactly one when USEs did not overlap.
struct KeyspaceTracker {
    /// At most this many `USE` requests in flight; a further one is denied (clients wait for each answer).
    static let maxPendingUses = 4

    private var settled: [[UInt8]] = []
    /// `shared`: another request was sent on the same stream while the USE waited (clients must not, but
    /// upstream's own tests do), so an error answer on it may be the other request's.
    private var pending: [(stream: Int16, keyspace: [UInt8], shared: Bool)] = []
    /// Keyspaces confirmed while other USEs were in flight (any of them may have run last).
    private var answered: [[UInt8]] = []

    init() {
        pending.reserveCapacity(Self.maxPendingUses)
    }

    var hasPendingUses: Bool { !pending.isEmpty }

    /// Records a `USE` sent on `stream`; false when too many are in flight.
    mutating func noteUse(stream: Int16, keyspace: UnsafeRawBufferPointer) -> Bool {
        guard pending.count < Self.maxPendingUses else { return false }
        let shared = isUsePending(stream: stream)
        if shared { markShared(stream: stream) }
        pending.append((stream, Array(keyspace), shared))
        return true
    }

    func isUsePending(stream: Int16) -> Bool {
        pending.contains { $0.stream == stream }
    }

    /// Another request goes out on `stream`.
    mutating func markShared(stream: Int16) {
        for index in pending.indices where pending[index].stream == stream { pending[index].shared = true }
    }

    /// An answer on `stream`: RESULT Set_keyspace naming `keyspace`, or (nil) anything else, which means the
    /// USE failed — unless the stream was shared, when it may answer the other request: the USE then stays
    /// in flight (its keyspace stays a candidate).
    mutating func resolveUse(stream: Int16, switchedTo keyspace: UnsafeRawBufferPointer?) {
        guard let index = pending.firstIndex(where: { $0.stream == stream && (keyspace != nil || !$0.shared) }) else {
            return
        }
        pending.remove(at: index)
        if let keyspace, !answered.contains(where: { $0.elementsEqual(keyspace) }) {
            answered.append(Array(keyspace))
        }
        if pending.isEmpty && !answered.isEmpty {
            swap(&settled, &answered)
            answered.removeAll(keepingCapacity: true)
        }
    }

    /// How many keyspaces an unqualified name may resolve to (0: no keyspace yet, the bare name).
    var candidateCount: Int { settled.count + pending.count + answered.count }

    /// The `index`-th candidate: settled, then answered, then in flight (oldest first); the last one is the
    /// client's latest choice (logged).
    func withCandidate<Result>(_ index: Int, _ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        var index = index
        if index >= 0 && index < settled.count { return settled[index].withUnsafeBytes(body) }
        index -= settled.count
        if index >= 0 && index < answered.count { return answered[index].withUnsafeBytes(body) }
        index -= answered.count
        guard index >= 0 && index < pending.count else { return body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        return pending[index].keyspace.withUnsafeBytes(body)
    }
}
