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
    /// A USE of this group was answered off-protocol: the keyspace from before may still be current.
    private var groupUncertain = false

    init() {
        pending.reserveCapacity(Self.maxPendingUses)
    }

    var hasPendingUses: Bool { !pending.isEmpty }

    /// Records a `USE` sent on `stream`; false when too many are in flight.
    mutating func noteUse(stream: Int16, keyspace: UnsafeRawBufferPointer) -> Bool {
        guard pending.count < Self.maxPendingUses else { return false }
        pending.append((stream, Array(keyspace), false))
        return true
    }

    func isUsePending(stream: Int16) -> Bool {
        pending.contains { $0.stream == stream }
    }

    /// Another request goes out on `stream`.
    mutating func markShared(stream: Int16) {
        for index in pending.indices where pending[index].stream == stream { pending[index].shared = true }
    }

    /// How the server answered a USE.
    enum Answer {
        /// RESULT Set_keyspace, naming the keyspace it switched to.
        case switched(UnsafeRawBufferPointer)
        /// ERROR: the USE did not take effect.
        case refused
        /// Another RESULT (not what a server answers to USE): it may have taken effect, so its keyspace stays
        /// possible.
        case unexpected
    }

    /// An answer on `stream`. On a shared stream (see `pending`) only a Set_keyspace settles a USE: an error
    /// may be the other request's, and the USE's keyspace stays a candidate.
    mutating func resolveUse(stream: Int16, _ answer: Answer) {
        let isSwitch: Bool
        if case .switched = answer { isSwitch = true } else { isSwitch = false }
        guard let index = pending.firstIndex(where: { $0.stream == stream && (isSwitch || !$0.shared) }) else {
            return
        }
        let entry = pending.remove(at: index)
        switch answer {
        case .switched(let keyspace): addAnswered(keyspace)
        case .unexpected:
            entry.keyspace.withUnsafeBytes { addAnswered($0) }
            groupUncertain = true
        case .refused: break
        }
        guard pending.isEmpty else { return }
        if groupUncertain {
            // The keyspace from before stays possible; "no keyspace yet" is the empty name (the bare table).
            for keyspace in settled.isEmpty ? [[]] : settled {
                keyspace.withUnsafeBytes { addAnswered($0) }
            }
            groupUncertain = false
        }
        if !answered.isEmpty {
            swap(&settled, &answered)
            answered.removeAll(keepingCapacity: true)
        }
    }

    private mutating func addAnswered(_ keyspace: UnsafeRawBufferPointer) {
        if !answered.contains(where: { $0.elementsEqual(keyspace) }) { answered.append(Array(keyspace)) }
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
