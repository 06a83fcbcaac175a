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
/// A ring of `capacity` preallocated slots of `limits.maxEntryBytes` each. A producer encodes straight into
/// the free slot after the tail while holding the lock (a few microseconds: the entry is bounded and the
/// encoder allocates nothing); when no slot is free the entry is dropped. The sender reads the head slot
/// *without* the lock: the slot stays counted as occupied until `finishHead`, so no producer writes to it
/// meanwhile, and the lock hand-off orders the producer's writes before the sender's reads.
final class AccessLogQueue: Sendable {
    let capacity: Int
    let wakeup: WakeupPipe
    private let slots: SlotStorage
    private let state: Mutex<State>

    private struct State {
        let encoder: AccessLogEncoder
        var head = 0
        var count = 0
        var isClosed = false
        /// The sender found the queue empty and waits for a wake-up.
        var isSenderIdle = false
        /// Entries are being dropped because the queue is full (cleared by the next entry queued).
        var isDropping = false
        var droppedInRun: UInt64 = 0
        var statistics = AccessLogStatistics()
    }

    init(capacity: Int, limits: AccessLogLimits, wakeup: WakeupPipe) {
        self.capacity = max(capacity, 1)
        self.wakeup = wakeup
        slots = SlotStorage(count: self.capacity, size: limits.maxEntryBytes)
        state = Mutex(State(encoder: AccessLogEncoder(limits: limits)))
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
            guard state.count < capacity else {
                state.statistics.undelivered += 1
                state.droppedInRun += 1
                let firstOfRun = !state.isDropping
                state.isDropping = true
                return .droppedQueueFull(firstOfRun: firstOfRun, total: state.statistics.undelivered)
            }
            let index = slotIndex(state.head + state.count)
            guard let length = state.encoder.encode(entry, into: slots.slot(index)) else {
                state.statistics.undelivered += 1
                return .droppedUnencodable(total: state.statistics.undelivered)
            }
            slots.setLength(length, of: index)
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
            return .send(slot: state.head, length: slots.length(of: state.head))
        }
    }

    /// The head slot without regard to `close()` (the final flush).
    func head() -> (slot: Int, length: Int)? {
        state.withLock { state in
            state.count > 0 ? (state.head, slots.length(of: state.head)) : nil
        }
    }

    /// The bytes of a slot returned by `nextWork`/`head`, valid until `finishHead`.
    func packet(slot: Int, length: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(slots.slot(slot))[..<length])
    }

    /// Frees the head slot, counting its entry delivered or undelivered.
    func finishHead(delivered: Bool) {
        state.withLock { state in
            guard state.count > 0 else { return }
            state.head = slotIndex(state.head + 1)
            state.count -= 1
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

    private func slotIndex(_ position: Int) -> Int {
        position >= capacity ? position - capacity : position
    }
}

/// The queue's slot memory, allocated once. `@unchecked Sendable`: a slot is written only by a producer
/// holding the queue lock while the slot is free, and read only by the sender while it is the occupied head;
/// the lock orders the two.
private final class SlotStorage: @unchecked Sendable {
    private let bytes: UnsafeMutableRawPointer
    private let lengths: UnsafeMutablePointer<Int>
    private let size: Int

    init(count: Int, size: Int) {
        self.size = size
        // Pages are touched only when slots are first used.
        bytes = .allocate(byteCount: count * size, alignment: 16)
        lengths = .allocate(capacity: count)
        lengths.initialize(repeating: 0, count: count)
    }

    deinit {
        bytes.deallocate()
        lengths.deallocate()
    }

    func slot(_ index: Int) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: bytes + index * size, count: size)
    }

    func length(of index: Int) -> Int { lengths[index] }

    func setLength(_ length: Int, of index: Int) { lengths[index] = length }
}
