import ProxylibCore
import Synchronization

/// What an access-log client has done so far.
public struct AccessLogStatistics: Equatable, Sendable {
    /// Entries the kernel accepted on the collector's socket (a collector that dies before reading them
    /// still loses them).
    public var delivered: UInt64 = 0
    /// Entries dropped: the queue was full, the entry could not be encoded, the collector refused it, its
    /// send failed on `maxSendAttempts` connections in a row, or it was still queued at shutdown.
    public var undelivered: UInt64 = 0
    /// Successful connections made after the one attempted at creation (first connection after a failed
    /// start, and every reconnection after a lost connection).
    public var reconnects: UInt64 = 0
    /// Entries waiting to be sent.
    public var queued = 0

    public init() {}
}

/// The bounded queue between the datapath threads, which encode entries into it, and the sender thread, which
/// writes them to the socket.
///
/// Entries are packed one after another in a preallocated byte ring (`ringBytes`, 256 B per entry of
/// `capacity`, at least four entries of `limits.maxEntryBytes`): consecutive entries share cache lines and
/// pages, and the whole queue is a fraction of `capacity` × `maxEntryBytes`. A producer encodes straight to the
/// tail of the ring while holding the lock (the encoder is bounded and allocates nothing), needing
/// `maxEntryBytes` of contiguous room there — or at the start of the ring, which it then wraps to; when the
/// queue holds `capacity` entries or the ring has no such room, the entry is dropped. The sender reads the
/// head entry *without* the lock: the entry stays counted as queued until `finishHead`, so no producer writes
/// over it meanwhile, and the lock hand-off orders the producer's writes before the sender's reads.
final class AccessLogQueue: Sendable {
    let capacity: Int
    let wakeup: WakeupPipe
    let ringBytes: Int
    private let limits: AccessLogLimits
    private let encoder: AccessLogEncoder
    private let storage: EntryStorage
    private let state: Mutex<State>

    private struct State {
        /// Entry index of the head, and the number of entries queued.
        var head = 0
        var count = 0
        /// Ring offsets: where the head entry starts and where the next one goes. With entries queued, the
        /// ring has wrapped exactly when `tailOffset < headOffset` (room is always left between them).
        var headOffset = 0
        var tailOffset = 0
        var isClosed = false
        /// The sender found the queue empty and waits for a wake-up.
        var isSenderIdle = false
        /// Entries are being dropped because the queue is full (cleared by the next entry queued).
        var isDropping = false
        var droppedInRun: UInt64 = 0
        var statistics = AccessLogStatistics()
    }

    init(capacity: Int, limits: AccessLogLimits, wakeup: WakeupPipe, ringBytes: Int? = nil) {
        self.capacity = max(capacity, 1)
        self.wakeup = wakeup
        self.limits = limits
        self.ringBytes = max(ringBytes ?? self.capacity * 256, 4 * limits.maxEntryBytes)
        encoder = AccessLogEncoder(limits: limits)
        storage = EntryStorage(entries: self.capacity, bytes: self.ringBytes)
        state = Mutex(State())
    }

    /// Where an entry of up to `maxEntryBytes` can go, or nil when the ring has no such contiguous room.
    private func writeOffset(_ state: State) -> Int? {
        let room = limits.maxEntryBytes
        guard state.count > 0 else { return 0 }
        if state.tailOffset < state.headOffset {
            // Wrapped: only the gap before the head, and it must stay a gap.
            return state.headOffset - state.tailOffset > room ? state.tailOffset : nil
        }
        if ringBytes - state.tailOffset >= room { return state.tailOffset }
        // Wrap to the start when the head has left enough room there.
        return state.headOffset > room ? 0 : nil
    }

    // MARK: Producers (datapath threads)

    enum EnqueueOutcome: Equatable {
        case queued
        /// Queued, and the previous entries since `dropped` had been dropped; `total` undelivered so far.
        case queuedAfterDropping(dropped: UInt64, total: UInt64)
        /// Dropped because the queue is full; `firstOfRun` for the first drop since an entry was last queued.
        case droppedQueueFull(firstOfRun: Bool, total: UInt64)
        /// Dropped because it could not be encoded (should not happen: entries are bounded).
        case droppedUnencodable(total: UInt64)
        /// The queue is closed.
        case ignored
    }

    func enqueue(_ entry: AccessLogEntry) -> EnqueueOutcome {
        var wakeSender = false
        let outcome: EnqueueOutcome = state.withLock { state in
            guard !state.isClosed else { return .ignored }
            guard state.count < capacity, let offset = writeOffset(state) else {
                state.statistics.undelivered += 1
                state.droppedInRun += 1
                let firstOfRun = !state.isDropping
                state.isDropping = true
                return .droppedQueueFull(firstOfRun: firstOfRun, total: state.statistics.undelivered)
            }
            let index = entryIndex(state.head + state.count)
            guard let length = encoder.encode(entry, into: storage.bytes(at: offset, count: limits.maxEntryBytes))
            else {
                state.statistics.undelivered += 1
                return .droppedUnencodable(total: state.statistics.undelivered)
            }
            storage.record(index, offset: offset, length: length)
            if state.count == 0 { state.headOffset = offset }
            state.tailOffset = offset + length
            state.count += 1
            if state.isSenderIdle {
                state.isSenderIdle = false
                wakeSender = true
            }
            guard state.isDropping else { return .queued }
            state.isDropping = false
            defer { state.droppedInRun = 0 }
            return .queuedAfterDropping(dropped: state.droppedInRun, total: state.statistics.undelivered)
        }
        if wakeSender { wakeup.signal() }
        return outcome
    }

    // MARK: The sender thread

    enum Work: Equatable {
        /// Send the head slot, then call `finishHead`.
        case send(slot: Int, length: Int)
        /// Nothing queued: wait for a wake-up (a producer will signal).
        case idle
        case closed
    }

    func nextWork() -> Work {
        state.withLock { state in
            if state.isClosed { return .closed }
            guard state.count > 0 else {
                state.isSenderIdle = true
                return .idle
            }
            return .send(slot: state.head, length: storage.length(of: state.head))
        }
    }

    /// The head slot without regard to `close()` (the final flush).
    func head() -> (slot: Int, length: Int)? {
        state.withLock { state in
            state.count > 0 ? (state.head, storage.length(of: state.head)) : nil
        }
    }

    /// The bytes of a slot returned by `nextWork`/`head`, valid until `finishHead`.
    func packet(slot: Int, length: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(storage.bytes(at: storage.offset(of: slot), count: length))
    }

    /// Frees the head slot, counting its entry delivered or undelivered.
    func finishHead(delivered: Bool) {
        state.withLock { state in
            guard state.count > 0 else { return }
            state.head = entryIndex(state.head + 1)
            state.count -= 1
            if state.count == 0 {
                state.headOffset = 0
                state.tailOffset = 0
            } else {
                state.headOffset = storage.offset(of: state.head)
            }
            if delivered {
                state.statistics.delivered += 1
            } else {
                state.statistics.undelivered += 1
            }
        }
    }

    func countReconnect() {
        state.withLock { $0.statistics.reconnects += 1 }
    }

    /// Drops what is still queued (counted undelivered); returns how many.
    @discardableResult
    func discardAll() -> Int {
        state.withLock { state in
            let discarded = state.count
            state.statistics.undelivered += UInt64(discarded)
            state.count = 0
            state.headOffset = 0
            state.tailOffset = 0
            return discarded
        }
    }

    // MARK: Both

    /// Stops accepting entries and wakes the sender. True for the call that closed it.
    @discardableResult
    func close() -> Bool {
        let closed = state.withLock { state in
            guard !state.isClosed else { return false }
            state.isClosed = true
            return true
        }
        if closed { wakeup.signal() }
        return closed
    }

    var statistics: AccessLogStatistics {
        state.withLock { state in
            var statistics = state.statistics
            statistics.queued = state.count
            return statistics
        }
    }

    private func entryIndex(_ position: Int) -> Int {
        position >= capacity ? position - capacity : position
    }
}

/// The queue's memory, allocated once: the byte ring and each queued entry's place in it, by entry index.
/// `@unchecked Sendable`: an entry's bytes and record are written only by a producer holding the queue lock
/// while that place is free, and read by the sender only while the entry is the queued head (or under the
/// lock); the lock orders the two.
private final class EntryStorage: @unchecked Sendable {
    private let ring: UnsafeMutableRawPointer
    private let ringBytes: Int
    private let offsets: UnsafeMutablePointer<Int>
    private let lengths: UnsafeMutablePointer<Int>

    init(entries: Int, bytes: Int) {
        ringBytes = bytes
        // Pages are touched only as the ring is first used.
        ring = .allocate(byteCount: bytes, alignment: 16)
        offsets = .allocate(capacity: entries)
        offsets.initialize(repeating: 0, count: entries)
        lengths = .allocate(capacity: entries)
        lengths.initialize(repeating: 0, count: entries)
    }

    deinit {
        ring.deallocate()
        offsets.deallocate()
        lengths.deallocate()
    }

    /// `count` bytes of the ring from `offset`, clipped to the ring (callers stay inside it).
    func bytes(at offset: Int, count: Int) -> UnsafeMutableRawBufferPointer {
        let start = min(max(offset, 0), ringBytes)
        return UnsafeMutableRawBufferPointer(start: ring + start, count: min(max(count, 0), ringBytes - start))
    }

    func record(_ index: Int, offset: Int, length: Int) {
        offsets[index] = offset
        lengths[index] = length
    }

    func offset(of index: Int) -> Int { offsets[index] }

    func length(of index: Int) -> Int { lengths[index] }
}
