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
/// pages, and the whole queue is a fraction of `capacity` × `maxEntryBytes`.
///
/// The lock is held only to reserve a place and to commit it, never while an entry is encoded, so worker
/// threads that log at the same time do not wait for each other's encoding:
/// 1. **Reserve** (lock): the entry gets the next number and a contiguous place at the tail of the ring, of
///    the room the encoder needs for it (`AccessLogEncoder.reservationSize(for:)`, from string lengths: its
///    exact size plus at most a byte, or `maxEntryBytes` near the limits). With `capacity` entries queued or no
///    such room, the entry is dropped and counted before any work is spent on it.
/// 2. **Encode** (no lock) straight into that place, which no other thread touches until the commit.
/// 3. **Commit** (lock): the entry's length is recorded, and if it is still the newest entry the unused end of
///    its place goes back to the ring (an older one keeps its slack, a byte or so, until it is sent). An entry
///    whose NUL bytes widened it past the bound (each becomes the three bytes of U+FFFD) gives its place up
///    as void — skipped by the sender, not counted — and is encoded again in a place of `maxEntryBytes`.
///
/// **Order rule:** entries are sent in reservation order, and the sender takes only committed entries from the
/// head: it stops at the first entry still being encoded and waits (its commit wakes the sender) rather than
/// send later entries ahead of it. A thread reserves its entries one after another, so each thread's entries
/// arrive in the order it logged them; a slow encoder delays the entries reserved after its own, it is never
/// overtaken. (Encoding is bounded and cannot fail or block, so the wait is that of one encode; a worker
/// descheduled in the middle holds the sender back for its time slice, while the others keep queueing.)
/// The sender takes up to `batchLimit` committed entries per lock hand-off and frees them in one `finish`.
///
/// **Memory:** a place is written only by the producer that reserved it, and only until its commit; the sender
/// reads an entry outside the lock only after seeing its commit under the lock, and frees it (`finish`) under
/// the lock before the place can be reserved again. The lock hand-offs order each write before the read.
///
/// **Shutdown:** `close()` refuses new reservations; the sender's final flush sends the committed entries at the
/// head and `discardAll()` drops the rest, entries still being encoded included (counted undelivered once: their
/// late commit finds them discarded and does nothing). Their producers still hold the queue, so the ring they
/// write to stays allocated.
final class AccessLogQueue: Sendable {
    let capacity: Int
    let wakeup: WakeupPipe
    let ringBytes: Int
    private let limits: AccessLogLimits
    private let encoder: AccessLogEncoder
    private let storage: EntryStorage
    private let state = LockedState()
    /// Tests only: runs between encoding an entry and committing it (a slow encoder).
    private let afterEncoding: (@Sendable () -> Void)?

    fileprivate struct State {
        /// Slot of the head (oldest) entry, and the number of entries in the ring: being encoded, committed or
        /// void, in reservation order.
        var head = 0
        var count = 0
        /// The number of the head entry; entries are numbered in reservation order.
        var headTicket: UInt64 = 0
        /// Ring offsets: where the head entry starts and where the next one goes. With entries queued, the
        /// ring has wrapped exactly when `tailOffset < headOffset` (room is always left between them).
        var headOffset = 0
        var tailOffset = 0
        var isClosed = false
        /// The sender found nothing to send and waits for a wake-up.
        var isSenderIdle = false
        /// Entries are being dropped because the queue is full (cleared by the next entry queued).
        var isDropping = false
        var droppedInRun: UInt64 = 0
        var statistics = AccessLogStatistics()
    }

    init(capacity: Int, limits: AccessLogLimits, wakeup: WakeupPipe, ringBytes: Int? = nil,
         afterEncoding: (@Sendable () -> Void)? = nil) {
        self.capacity = max(capacity, 1)
        self.wakeup = wakeup
        self.limits = limits
        self.ringBytes = max(ringBytes ?? self.capacity * 256, 4 * limits.maxEntryBytes)
        self.afterEncoding = afterEncoding
        encoder = AccessLogEncoder(limits: limits)
        storage = EntryStorage(entries: self.capacity, bytes: self.ringBytes)
    }

    /// Where `room` contiguous bytes can go, or nil when the ring has no such room.
    private func writeOffset(_ state: State, room: Int) -> Int? {
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
        /// The queue is closed (or closed and flushed while the entry was being encoded: then it was counted
        /// undelivered by the flush).
        case ignored
    }

    /// Reserves, encodes outside the lock, commits. Allocates nothing.
    func enqueue(_ entry: AccessLogEntry) -> EnqueueOutcome {
        var reservation: Reservation
        var resumed: (dropped: UInt64, total: UInt64)?
        switch reserve(bytes: encoder.reservationSize(for: entry)) {
        case .reserved(let place):
            reservation = place
        case let .reservedAfterDropping(place, dropped, total):
            reservation = place
            resumed = (dropped, total)
        case let .droppedQueueFull(firstOfRun, total):
            return .droppedQueueFull(firstOfRun: firstOfRun, total: total)
        case .closed:
            return .ignored
        }
        var length = encoder.encode(entry, into: buffer(for: reservation))
        if length == nil && reservation.bytes < limits.maxEntryBytes {
            // NUL bytes widened it past the bound: once more, in the largest place an entry can need.
            abandon(reservation)
            switch reserve(bytes: limits.maxEntryBytes) {
            case .reserved(let place), .reservedAfterDropping(let place, _, _):
                reservation = place
            case let .droppedQueueFull(firstOfRun, total):
                return .droppedQueueFull(firstOfRun: firstOfRun, total: total)
            case .closed:
                return .ignored
            }
            length = encoder.encode(entry, into: buffer(for: reservation))
        }
        afterEncoding?()
        switch commit(reservation, length: length) {
        case .committed:
            if let resumed { return .queuedAfterDropping(dropped: resumed.dropped, total: resumed.total) }
            return .queued
        case .unencodable(let total):
            return .droppedUnencodable(total: total)
        case .discarded:
            return .ignored
        }
    }

    /// A place in the ring, for one entry, held by the producer from `reserve` to `commit` or `abandon`.
    struct Reservation: Equatable {
        /// The entry's number (reservation order).
        let ticket: UInt64
        let slot: Int
        let offset: Int
        let bytes: Int
    }

    enum ReserveOutcome: Equatable {
        case reserved(Reservation)
        /// Reserved, and the previous entries since `dropped` had been dropped; `total` undelivered so far.
        case reservedAfterDropping(Reservation, dropped: UInt64, total: UInt64)
        /// Dropped (and counted): `capacity` entries queued, or no contiguous room for `bytes`.
        case droppedQueueFull(firstOfRun: Bool, total: UInt64)
        case closed
    }

    /// Step 1: the next entry number and `bytes` (at most `maxEntryBytes`) of contiguous room at the tail.
    func reserve(bytes: Int) -> ReserveOutcome {
        let room = min(max(bytes, 1), limits.maxEntryBytes)
        return state.withLock { state in
            guard !state.isClosed else { return .closed }
            guard state.count < capacity, let offset = writeOffset(state, room: room) else {
                state.statistics.undelivered += 1
                state.droppedInRun += 1
                let firstOfRun = !state.isDropping
                state.isDropping = true
                return .droppedQueueFull(firstOfRun: firstOfRun, total: state.statistics.undelivered)
            }
            let reservation = Reservation(ticket: state.headTicket &+ UInt64(state.count),
                                          slot: slotIndex(state.head + state.count), offset: offset, bytes: room)
            storage.record(reservation.slot, offset: offset, length: EntryStorage.encoding)
            if state.count == 0 { state.headOffset = offset }
            state.tailOffset = offset + room
            state.count += 1
            guard state.isDropping else { return .reserved(reservation) }
            state.isDropping = false
            defer { state.droppedInRun = 0 }
            return .reservedAfterDropping(reservation, dropped: state.droppedInRun,
                                          total: state.statistics.undelivered)
        }
    }

    /// Step 2: the reserved bytes, to be written by the reserving producer only, before its commit.
    func buffer(for reservation: Reservation) -> UnsafeMutableRawBufferPointer {
        storage.bytes(at: reservation.offset, count: reservation.bytes)
    }

    enum CommitOutcome: Equatable {
        case committed
        /// `length` was nil or out of the reservation: the entry is dropped and counted undelivered.
        case unencodable(total: UInt64)
        /// The queue was flushed at shutdown while the entry was encoded; it was counted undelivered then.
        case discarded
    }

    /// Step 3: the entry of `length` bytes is complete; the sender may take it once every older entry is
    /// committed too. nil (the encoder failed) drops it, counted undelivered.
    func commit(_ reservation: Reservation, length: Int?) -> CommitOutcome {
        finish(reservation, length: length, counted: true)
    }

    /// Gives a reservation up without an entry (not counted): the place becomes void and the sender skips it.
    func abandon(_ reservation: Reservation) {
        _ = finish(reservation, length: nil, counted: false)
    }

    private func finish(_ reservation: Reservation, length: Int?, counted: Bool) -> CommitOutcome {
        var wakeSender = false
        let outcome: CommitOutcome = state.withLock { state in
            // Discarded at shutdown (or never reserved): the ring may hold other entries at that slot by now.
            let position = reservation.ticket &- state.headTicket
            guard position < UInt64(state.count), slotIndex(state.head + Int(position)) == reservation.slot,
                  storage.length(of: reservation.slot) == EntryStorage.encoding
            else { return .discarded }
            let isNewest = position == UInt64(state.count - 1)
            let outcome: CommitOutcome
            if let length, length > 0, length <= reservation.bytes {
                storage.record(reservation.slot, offset: reservation.offset, length: length)
                if isNewest { state.tailOffset = reservation.offset + length }
                outcome = .committed
            } else {
                if counted { state.statistics.undelivered += 1 }
                outcome = .unencodable(total: state.statistics.undelivered)
                if isNewest {
                    // The newest place is simply given back.
                    state.count -= 1
                    state.tailOffset = reservation.offset
                    if state.count == 0 {
                        state.headOffset = 0
                        state.tailOffset = 0
                    }
                } else {
                    storage.record(reservation.slot, offset: reservation.offset, length: EntryStorage.void)
                }
            }
            // The sender waits for the head: this commit may be what it waits for.
            if position == 0, state.isSenderIdle {
                state.isSenderIdle = false
                wakeSender = true
            }
            return outcome
        }
        if wakeSender { wakeup.signal() }
        return outcome
    }

    // MARK: The sender thread

    /// Entries the sender takes at once (one lock hand-off for each batch, not two per entry).
    static let batchLimit = 64

    enum Work: Equatable {
        /// Send the `count` entries from slot `first` on, in ring order (`packet(slot:)`), then `finish`.
        case send(first: Int, count: Int)
        /// Nothing committed at the head: wait for a wake-up (the commit of the head entry signals).
        case idle
        case closed
    }

    func nextWork() -> Work {
        state.withLock { state in
            if state.isClosed { return .closed }
            let ready = readyCount(state)
            guard ready > 0 else {
                state.isSenderIdle = true
                return .idle
            }
            return .send(first: state.head, count: ready)
        }
    }

    /// The committed entries at the head without regard to `close()` (the final flush).
    func readyEntries() -> (first: Int, count: Int)? {
        state.withLock { state in
            let ready = readyCount(state)
            return ready > 0 ? (state.head, ready) : nil
        }
    }

    /// How many entries from the head on are committed or void (up to `batchLimit`).
    private func readyCount(_ state: State) -> Int {
        var ready = 0
        var slot = state.head
        let limit = min(state.count, Self.batchLimit)
        while ready < limit, storage.length(of: slot) != EntryStorage.encoding {
            ready += 1
            slot = slotIndex(slot + 1)
        }
        return ready
    }

    /// The slot after `slot` in ring order.
    func slot(after slot: Int) -> Int { slotIndex(slot + 1) }

    /// The bytes of a committed entry returned by `nextWork`/`readyEntries`, valid until `finish`; nil for a
    /// void place (nothing to send, nothing to count).
    func packet(slot: Int) -> UnsafeRawBufferPointer? {
        let length = storage.length(of: slot)
        guard length > 0 else { return nil }
        return UnsafeRawBufferPointer(storage.bytes(at: storage.offset(of: slot), count: length))
    }

    /// Frees the `entries` head entries handed out by `nextWork`/`readyEntries`, counting `delivered` and
    /// `undelivered` of them (the rest were void).
    func finish(entries: Int, delivered: Int, undelivered: Int) {
        guard entries > 0 || delivered > 0 || undelivered > 0 else { return }
        state.withLock { state in
            let freed = min(max(entries, 0), state.count)
            state.head = slotIndex(state.head + freed)
            state.headTicket &+= UInt64(freed)
            state.count -= freed
            if state.count == 0 {
                state.headOffset = 0
                state.tailOffset = 0
            } else {
                state.headOffset = storage.offset(of: state.head)
            }
            state.statistics.delivered += UInt64(max(delivered, 0))
            state.statistics.undelivered += UInt64(max(undelivered, 0))
        }
    }

    func countReconnect() {
        state.withLock { $0.statistics.reconnects += 1 }
    }

    /// Drops what is still queued, committed or still being encoded (counted undelivered, void places not);
    /// returns how many. Called by the sender's final flush, after `close()`.
    @discardableResult
    func discardAll() -> Int {
        state.withLock { state in
            var discarded = 0
            var slot = state.head
            for _ in 0..<state.count {
                if storage.length(of: slot) != EntryStorage.void { discarded += 1 }
                slot = slotIndex(slot + 1)
            }
            state.statistics.undelivered += UInt64(discarded)
            state.head = slotIndex(state.head + state.count)
            state.headTicket &+= UInt64(state.count)
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

    private func slotIndex(_ position: Int) -> Int {
        position >= capacity ? position - capacity : position
    }
}

/// The queue's lock and the state it guards, in an object of their own, padded: taking the lock writes its cache
/// lines, and they hold nothing that producers read outside the lock (the queue's limits and its encoder and
/// storage references), so those stay cached on every core while the workers take turns at the lock.
///
/// A `PlainLock` (a default pthread mutex), not `Synchronization.Mutex`: on Linux the latter is a
/// priority-inheritance futex that hands the lock to a waiter that is not running, and with more workers than
/// free cores every logging worker queued behind it (the stress run: OnData p99 2–3 ms with logging on, against
/// 12 µs with it off; see `PlainLock`).
private final class LockedState: Sendable {
    private let paddingBefore: (Int, Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0, 0)
    private let mutex = PlainLock(AccessLogQueue.State())
    private let paddingAfter: (Int, Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0, 0)

    func withLock<Result: Sendable>(_ body: (inout AccessLogQueue.State) -> Result) -> Result {
        mutex.withLock { body(&$0) }
    }
}

/// The queue's memory, allocated once: the byte ring and each queued entry's place in it, by slot.
///
/// `@unchecked Sendable`: a slot's record is written only under the queue lock; the bytes of a place are
/// written only by the producer that reserved it, between its reservation and its commit (both under the
/// lock), and read by the sender only after it saw the commit under the lock and before it frees the entry
/// under the lock. The lock orders every write before the reads that depend on it, and no two threads ever
/// write the same byte concurrently.
private final class EntryStorage: @unchecked Sendable {
    /// The length of a place still being encoded, and of a void one.
    static let encoding = -1
    static let void = -2

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
        lengths.initialize(repeating: Self.void, count: entries)
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

    /// The committed length, or `encoding` / `void`.
    func length(of index: Int) -> Int { lengths[index] }
}
