import Glibc
import Synchronization
import Testing
@testable import ProxylibAccessLog
import ProxylibCore

// The queue's reserve / encode / commit protocol: the sender takes only committed entries, in reservation
// order, never one still being encoded nor any reserved after it; places wrap around the ring; a full ring
// drops at reservation; close() during a reservation neither waits for it nor counts it twice.

/// Takes the committed entries at the head as the sender does (one batch, freed in one call), skipping void
/// places. Empty when nothing is ready.
func takeReady(_ queue: AccessLogQueue) -> [[UInt8]] {
    guard case let .send(first, count) = queue.nextWork() else { return [] }
    var packets: [[UInt8]] = []
    var slot = first
    for _ in 0..<count {
        if let packet = queue.packet(slot: slot) { packets.append(Array(packet)) }
        slot = queue.slot(after: slot)
    }
    queue.finish(entries: count, delivered: packets.count, undelivered: 0)
    return packets
}

extension AccessLogQueue.ReserveOutcome {
    var reservation: AccessLogQueue.Reservation? {
        switch self {
        case .reserved(let reservation), .reservedAfterDropping(let reservation, _, _): reservation
        case .droppedQueueFull, .closed: nil
        }
    }
}

/// A test payload: the reservation's ticket (8 bytes), the producing thread (1 byte), its sequence number
/// (4 bytes), then bytes derived from the ticket, so that a packet shows whether it is whole and whose it is.
func payload(ticket: UInt64, thread: Int = 0, sequence: Int = 0, length: Int) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: max(length, 13))
    for index in 0..<8 { bytes[index] = UInt8(truncatingIfNeeded: ticket >> (8 * UInt64(index))) }
    bytes[8] = UInt8(truncatingIfNeeded: thread)
    for index in 0..<4 { bytes[9 + index] = UInt8(truncatingIfNeeded: sequence >> (8 * index)) }
    for index in 13..<bytes.count { bytes[index] = UInt8(truncatingIfNeeded: ticket &* 31 &+ UInt64(index)) }
    return bytes
}

func ticket(_ packet: [UInt8]) -> UInt64 {
    (0..<8).reduce(UInt64(0)) { $0 | UInt64(packet[$1]) << (8 * UInt64($1)) }
}

func producer(_ packet: [UInt8]) -> (thread: Int, sequence: Int) {
    (Int(packet[8]), (0..<4).reduce(0) { $0 | Int(packet[9 + $1]) << (8 * $1) })
}

func isIntact(_ packet: [UInt8]) -> Bool {
    guard packet.count >= 13 else { return false }
    let number = ticket(packet)
    return (13..<packet.count).allSatisfy { packet[$0] == UInt8(truncatingIfNeeded: number &* 31 &+ UInt64($0)) }
}

/// Writes `bytes` into the reservation and commits it.
@discardableResult
func commit(_ queue: AccessLogQueue, _ reservation: AccessLogQueue.Reservation,
            _ bytes: [UInt8]) -> AccessLogQueue.CommitOutcome {
    queue.buffer(for: reservation).copyBytes(from: bytes)
    return queue.commit(reservation, length: bytes.count)
}

/// A flag shared with `@Sendable` closures.
final class SharedFlag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .acquiring) }
    func set(_ newValue: Bool) { value.store(newValue, ordering: .releasing) }
}

/// A counter shared with `@Sendable` closures.
final class SharedCounter: Sendable {
    private let count = Atomic<Int>(0)
    var value: Int { count.load(ordering: .acquiring) }
    func add() { count.add(1, ordering: .acquiringAndReleasing) }
}

/// A sender stand-in on its own thread: takes batches as `AccessLogSender` does (waiting on the wake-up pipe
/// when idle) until `count` packets arrived or 20 s passed.
final class QueueDrainer: Sendable {
    private let received = Mutex<[[UInt8]]>([])
    private let thread = Mutex<TestThread?>(nil)

    init(_ queue: AccessLogQueue, expecting count: Int) {
        thread.withLock { thread in
            thread = TestThread.start { [self] in
                let deadline = monotonicNanoseconds() + 20_000_000_000
                var packets: [[UInt8]] = []
                taking: while packets.count < count && monotonicNanoseconds() < deadline {
                    switch queue.nextWork() {
                    case let .send(first, ready):
                        var slot = first
                        var delivered = 0
                        for _ in 0..<ready {
                            if let packet = queue.packet(slot: slot) {
                                packets.append(Array(packet))
                                delivered += 1
                            }
                            slot = queue.slot(after: slot)
                        }
                        queue.finish(entries: ready, delivered: delivered, undelivered: 0)
                    case .idle:
                        queue.wakeup.wait(milliseconds: 10)
                    case .closed:
                        break taking
                    }
                }
                received.withLock { $0 = packets }
            }
        }
    }

    /// Waits for the thread and returns the packets in the order taken.
    func join() -> [[UInt8]] {
        thread.withLock { $0?.join() }
        return received.withLock { $0 }
    }
}

@Suite("AccessLogQueue reserve/commit")
struct AccessLogQueueProtocolTests {
    let smallLimits = AccessLogLimits(maxEntryBytes: 512, maxValueBytes: 128, maxItems: 8)

    @Test("the sender never takes an entry still being encoded, nor any entry reserved after it")
    func uncommittedHeadHoldsBack() throws {
        let wakeup = try #require(WakeupPipe())
        let queue = AccessLogQueue(capacity: 16, limits: .default, wakeup: wakeup)
        let a = try #require(queue.reserve(bytes: 100).reservation)
        let b = try #require(queue.reserve(bytes: 100).reservation)
        #expect(b.offset == a.offset + 100, "places follow each other")
        #expect(b.ticket == a.ticket + 1)
        #expect(commit(queue, b, payload(ticket: b.ticket, length: 40)) == .committed)
        wakeup.consume()
        #expect(queue.nextWork() == .idle, "b is committed, but a, reserved before it, is not")
        #expect(commit(queue, a, payload(ticket: a.ticket, length: 60)) == .committed)
        #expect(wakeup.wait(milliseconds: 0), "committing the head wakes the idle sender")
        let packets = takeReady(queue)
        #expect(packets.map(ticket) == [a.ticket, b.ticket])
        #expect(packets.map(\.count) == [60, 40])
        #expect(packets.allSatisfy(isIntact))
        #expect(queue.statistics == statistics(delivered: 2))
    }

    @Test("the newest entry gives the unused end of its place back, an older one keeps it until sent; abandoning the newest gives it all back")
    func unusedRoomGoesBack() throws {
        let wakeup = try #require(WakeupPipe())
        let queue = AccessLogQueue(capacity: 16, limits: .default, wakeup: wakeup)
        let a = try #require(queue.reserve(bytes: 300).reservation)
        let b = try #require(queue.reserve(bytes: 300).reservation)
        #expect(commit(queue, a, payload(ticket: a.ticket, length: 100)) == .committed)  // not the newest
        let c = try #require(queue.reserve(bytes: 50).reservation)
        #expect(c.offset == b.offset + 300)
        #expect(commit(queue, c, payload(ticket: c.ticket, length: 20)) == .committed)  // the newest
        let d = try #require(queue.reserve(bytes: 50).reservation)
        #expect(d.offset == c.offset + 20)
        queue.abandon(d)
        let e = try #require(queue.reserve(bytes: 50).reservation)
        #expect(e.offset == d.offset && e.ticket == d.ticket, "the abandoned newest place is free again")
        #expect(commit(queue, e, payload(ticket: e.ticket, length: 30)) == .committed)
        #expect(takeReady(queue).map(ticket) == [a.ticket], "b is still being encoded")
        #expect(commit(queue, b, payload(ticket: b.ticket, length: 300)) == .committed)
        let rest = takeReady(queue)
        #expect(rest.map(ticket) == [b.ticket, c.ticket, e.ticket])
        #expect(rest.allSatisfy(isIntact))
        #expect(queue.statistics == statistics(delivered: 4))
    }

    @Test("an older abandoned place becomes void: skipped by the sender and not counted")
    func abandonedOlderPlaceIsSkipped() throws {
        let wakeup = try #require(WakeupPipe())
        let queue = AccessLogQueue(capacity: 16, limits: .default, wakeup: wakeup)
        let a = try #require(queue.reserve(bytes: 64).reservation)
        let b = try #require(queue.reserve(bytes: 64).reservation)
        queue.abandon(a)
        #expect(queue.statistics.queued == 2, "the void place stays until the sender passes it")
        #expect(commit(queue, b, payload(ticket: b.ticket, length: 64)) == .committed)
        #expect(takeReady(queue).map(ticket) == [b.ticket])
        #expect(queue.statistics == statistics(delivered: 1))
        #expect(queue.commit(a, length: 10) == .discarded, "an abandoned reservation cannot be committed later")
        #expect(queue.statistics == statistics(delivered: 1))
    }

    @Test("a full ring or entry count drops at reservation (before any encoding) and reports the run when room is back")
    func fullDropsAtReservation() throws {
        let wakeup = try #require(WakeupPipe())
        // Room for four places of 512 bytes.
        let queue = AccessLogQueue(capacity: 8, limits: smallLimits, wakeup: wakeup, ringBytes: 2048)
        var held: [AccessLogQueue.Reservation] = []
        for expected in [0, 512, 1024, 1536] {
            let reservation = try #require(queue.reserve(bytes: 512).reservation)
            #expect(reservation.offset == expected)
            held.append(reservation)
        }
        #expect(queue.reserve(bytes: 512) == .droppedQueueFull(firstOfRun: true, total: 1))
        #expect(queue.reserve(bytes: 1) == .droppedQueueFull(firstOfRun: false, total: 2),
                "no room at the end, and the head leaves none at the start")
        for reservation in held.prefix(2) {
            #expect(commit(queue, reservation, payload(ticket: reservation.ticket, length: 512)) == .committed)
        }
        #expect(takeReady(queue).count == 2)
        // The head is now the third place (offset 1024): the ring wraps to the start.
        guard case let .reservedAfterDropping(wrapped, dropped, total) = queue.reserve(bytes: 512) else {
            Issue.record("expected a reservation reporting the drops")
            return
        }
        #expect(wrapped.offset == 0 && dropped == 2 && total == 2)
        #expect(queue.reserve(bytes: 512) == .droppedQueueFull(firstOfRun: true, total: 3),
                "a place may not reach the head")
        let small = try #require(queue.reserve(bytes: 100).reservation)
        #expect(small.offset == 512)
        for reservation in held.suffix(2) + [wrapped, small] {
            #expect(commit(queue, reservation, payload(ticket: reservation.ticket, length: 100)) == .committed)
        }
        var tickets: [UInt64] = []
        while true {
            let packets = takeReady(queue)
            if packets.isEmpty { break }
            #expect(packets.allSatisfy(isIntact))
            tickets += packets.map(ticket)
        }
        #expect(tickets == [2, 3, 4, 5])
        #expect(queue.statistics == statistics(delivered: 6, undelivered: 3))

        // The entry count binds too, however small the entries.
        let counted = AccessLogQueue(capacity: 2, limits: smallLimits, wakeup: wakeup)
        #expect(counted.reserve(bytes: 16).reservation != nil)
        #expect(counted.reserve(bytes: 16).reservation != nil)
        #expect(counted.reserve(bytes: 16) == .droppedQueueFull(firstOfRun: true, total: 1))
    }

    @Test("close() during a reservation: no new reservations, the flush sends what is committed, the late commit is counted once")
    func closeDuringReservation() throws {
        let wakeup = try #require(WakeupPipe())
        let queue = AccessLogQueue(capacity: 16, limits: .default, wakeup: wakeup)
        let a = try #require(queue.reserve(bytes: 64).reservation)
        #expect(commit(queue, a, payload(ticket: a.ticket, length: 64)) == .committed)
        let b = try #require(queue.reserve(bytes: 64).reservation)
        #expect(queue.close())
        #expect(!queue.close())
        #expect(queue.reserve(bytes: 64) == .closed)
        #expect(queue.nextWork() == .closed)
        // The sender's final flush: the committed head, then everything else dropped.
        let ready = try #require(queue.readyEntries())
        #expect(ready.count == 1)
        queue.finish(entries: 1, delivered: 1, undelivered: 0)
        #expect(queue.readyEntries() == nil, "b is still being encoded")
        #expect(queue.discardAll() == 1)
        // b's producer finishes after the flush.
        #expect(commit(queue, b, payload(ticket: b.ticket, length: 64)) == .discarded)
        #expect(queue.statistics == statistics(delivered: 1, undelivered: 1))
    }

    @Test("an entry whose NUL bytes outgrow its reservation is encoded again in a full place, intact and in order")
    func nulBytesOutgrowTheReservation() throws {
        let wakeup = try #require(WakeupPipe())
        let queue = AccessLogQueue(capacity: 16, limits: .default, wakeup: wakeup)
        let encoder = AccessLogEncoder(limits: .default)
        let entry = sampleEntry(.generic(proto: "nul", fields: [("v", String(repeating: "\u{0}", count: 40))]))
        let size = encoder.reservationSize(for: entry)
        let expected = try #require(encoder.encode(entry))
        #expect(size < expected.count, "each NUL is written as three bytes")

        // Alone, its first place is the newest: given back, and the entry takes the same offset again.
        #expect(queue.enqueue(entry) == .queued)
        #expect(takeReady(queue) == [expected])

        // Behind an entry still being encoded.
        let first = try #require(queue.reserve(bytes: 64).reservation)
        #expect(queue.enqueue(entry) == .queued)
        #expect(queue.statistics.queued == 2)
        #expect(commit(queue, first, payload(ticket: first.ticket, length: 64)) == .committed)
        let packets = takeReady(queue)
        #expect(packets.count == 2)
        #expect(packets.first.map(ticket) == first.ticket)
        #expect(packets.last == expected)
        #expect(queue.statistics == statistics(delivered: 3))
    }

    @Test("random reservations, out-of-order commits and abandons wrap the ring many times; the sender sees reservation order")
    func randomInterleavingsWrapAround() throws {
        let wakeup = try #require(WakeupPipe())
        let queue = AccessLogQueue(capacity: 16, limits: smallLimits, wakeup: wakeup, ringBytes: 2048)
        var generator = SplitMix64(seed: 7)
        var open: [AccessLogQueue.Reservation] = []
        var committed: Set<UInt64> = []
        var abandoned: Set<UInt64> = []
        var received: [UInt64] = []
        var wraps = 0
        var lastOffset = 0
        var drops = 0
        func take() {
            for packet in takeReady(queue) {
                #expect(isIntact(packet))
                received.append(ticket(packet))
            }
        }
        for _ in 0..<20_000 {
            switch Int.random(in: 0..<10, using: &generator) {
            case 0..<4 where open.count < 4:
                let bytes = Int.random(in: 13...512, using: &generator)
                if let reservation = queue.reserve(bytes: bytes).reservation {
                    if reservation.offset < lastOffset { wraps += 1 }
                    // An abandoned newest place is given back whole, number included.
                    abandoned.remove(reservation.ticket)
                    lastOffset = reservation.offset
                    // What a producer in the middle of encoding leaves there.
                    queue.buffer(for: reservation).initializeMemory(as: UInt8.self, repeating: 0xEE)
                    open.append(reservation)
                } else {
                    drops += 1
                }
            case 4..<7 where !open.isEmpty:
                let reservation = open.remove(at: Int.random(in: 0..<open.count, using: &generator))
                if Int.random(in: 0..<20, using: &generator) == 0 {
                    queue.abandon(reservation)
                    abandoned.insert(reservation.ticket)
                } else {
                    let length = Int.random(in: 13...reservation.bytes, using: &generator)
                    #expect(commit(queue, reservation, payload(ticket: reservation.ticket, length: length)) == .committed)
                    committed.insert(reservation.ticket)
                }
            default:
                take()
            }
            // Nothing is taken while an older reservation is open.
            if let oldestOpen = open.map(\.ticket).min(), let newest = received.last {
                #expect(newest < oldestOpen)
            }
        }
        for reservation in open {
            #expect(commit(queue, reservation, payload(ticket: reservation.ticket, length: 13)) == .committed)
            committed.insert(reservation.ticket)
        }
        take()
        take()
        #expect(received == committed.sorted(), "every committed entry, in reservation order")
        #expect(received.allSatisfy { !abandoned.contains($0) })
        #expect(wraps > 100, "the ring wrapped many times")
        #expect(drops > 0, "and was full at times")
        #expect(queue.statistics == statistics(delivered: UInt64(received.count), undelivered: UInt64(drops)))
    }

    @Test("concurrent producers with slow encoders: every entry whole, in reservation order, each thread's in order, none read before its commit")
    func concurrentProducersWithSlowEncoders() throws {
        let wakeup = try #require(WakeupPipe())
        // A small ring (about 30 places): producers find it full, wait and retry, so it wraps around constantly.
        let queue = AccessLogQueue(capacity: 32, limits: smallLimits, wakeup: wakeup, ringBytes: 2048)
        let threads = 3
        let perThread = 2000
        let drainer = QueueDrainer(queue, expecting: threads * perThread)
        TestThread.runConcurrently(threads) { thread in
            var generator = SplitMix64(seed: UInt64(thread + 1))
            for sequence in 0..<perThread {
                let bytes = Int.random(in: 13...64, using: &generator)
                var reservation: AccessLogQueue.Reservation?
                while reservation == nil {
                    reservation = queue.reserve(bytes: bytes).reservation
                    if reservation == nil { sched_yield() }
                }
                guard let reservation else { return }
                // Garbage first: a sender reading the place before the commit would see it.
                queue.buffer(for: reservation).initializeMemory(as: UInt8.self, repeating: 0xEE)
                if Int.random(in: 0..<16, using: &generator) == 0 {
                    usleep(UInt32.random(in: 20...300, using: &generator))  // a slow encoder
                } else if Int.random(in: 0..<4, using: &generator) == 0 {
                    sched_yield()
                }
                let length = Int.random(in: 13...bytes, using: &generator)
                let bytesOut = payload(ticket: reservation.ticket, thread: thread, sequence: sequence, length: length)
                _ = commit(queue, reservation, bytesOut)
            }
        }
        let packets = drainer.join()
        #expect(packets.count == threads * perThread)
        #expect(packets.allSatisfy(isIntact), "no packet was read before its commit")
        #expect(packets.map(ticket) == (0..<UInt64(threads * perThread)).map { $0 }, "reservation order, no gaps")
        for thread in 0..<threads {
            let sequences = packets.map(producer).filter { $0.thread == thread }.map(\.sequence)
            #expect(sequences == Array(0..<perThread), "thread \(thread) in order")
        }
        #expect(queue.statistics.delivered == UInt64(threads * perThread))
    }

    @Test("enqueue from four threads with a slow encoder: entries whole and each thread's in order")
    func enqueueWithSlowEncoder() throws {
        let wakeup = try #require(WakeupPipe())
        let perThread = 500
        let queue = AccessLogQueue(capacity: 4 * perThread, limits: .default, wakeup: wakeup, afterEncoding: {
            if UInt8.random(in: 0...15) == 0 { usleep(UInt32.random(in: 20...300)) }
        })
        let drainer = QueueDrainer(queue, expecting: 4 * perThread)
        let notQueued = SharedCounter()
        TestThread.runConcurrently(4) { thread in
            for sequence in 0..<perThread where queue.enqueue(numberedEntry(sequence, thread: thread)) != .queued {
                notQueued.add()
            }
        }
        #expect(notQueued.value == 0)
        let packets = drainer.join()
        #expect(packets.count == 4 * perThread)
        let encoder = AccessLogEncoder(limits: .default)
        let entries = packets.compactMap { DecodedLogEntry.decode($0) }
        #expect(entries.count == packets.count)
        for thread in 0..<4 {
            #expect(sequenceNumbers(entries, thread: thread) == Array(0..<perThread))
        }
        for (packet, entry) in zip(packets, entries) {
            let thread = Int(entry.genericFields["thread"] ?? "") ?? -1
            let sequence = Int(entry.genericFields["seq"] ?? "") ?? -1
            #expect(packet == encoder.encode(numberedEntry(sequence, thread: thread)))
        }
    }

    @Test("varint sizes at every byte boundary")
    func varintSizes() {
        #expect(ProtobufWriter.varintSize(0) == 1)
        for bytes in 1...9 {
            let largest = UInt64(1) << (7 * UInt64(bytes)) - 1
            #expect(ProtobufWriter.varintSize(largest) == bytes)
            #expect(ProtobufWriter.varintSize(largest + 1) == bytes + 1)
        }
        #expect(ProtobufWriter.varintSize(UInt64.max) == 10)
    }

    @Test("the reservation is the room the encoder needs, exact below the limits, an upper bound up to them")
    func reservationSizeMatchesTheEncoding() throws {
        var generator = SplitMix64(seed: 2024)
        func text(_ maximum: Int) -> String {
            let count = Int.random(in: 0...maximum, using: &generator)
            // Mostly ASCII, some two- and three-byte characters.
            return String((0..<count).map { _ -> Character in
                switch Int.random(in: 0..<10, using: &generator) {
                case 0: "é"
                case 1: "→"
                default: Character(Unicode.Scalar(UInt8.random(in: 0x21...0x7E, using: &generator)))
                }
            })
        }
        for limits in [AccessLogLimits.default, smallLimits, AccessLogLimits(maxEntryBytes: 1024, maxValueBytes: 64, maxItems: 4)] {
            let encoder = AccessLogEncoder(limits: limits)
            var exact = 0
            var full = 0
            for round in 0..<3000 {
                let longest = [8, 40, 300, 2000][round % 4]
                let l7: L7LogRecord
                if round % 5 == 4 {
                    l7 = .kafka(correlationID: Int32.random(in: -3...100_000, using: &generator), errorCode: 0,
                                apiVersion: Int32.random(in: 0...9, using: &generator), apiKey: -1,
                                topics: (0..<Int.random(in: 0...6, using: &generator)).map { _ in text(longest) })
                } else {
                    l7 = .generic(proto: text(12), fields: L7Fields((0..<Int.random(in: 0...6, using: &generator)).map { _ in
                        (text(10), text(longest))
                    }))
                }
                let entry = sampleEntry(l7, type: round % 3 == 0 ? .denied : .request, ingress: round % 2 == 0,
                                        policyName: text(20), source: text(30), destination: text(30))
                let size = encoder.reservationSize(for: entry)
                let encoded = try #require(encoder.encode(entry))
                #expect(encoded.count <= size, "round \(round)")
                #expect(size <= limits.maxEntryBytes)
                if size < limits.maxEntryBytes {
                    // Into exactly that room.
                    var room = [UInt8](repeating: 0, count: size)
                    let written = room.withUnsafeMutableBytes { encoder.encode(entry, into: $0) }
                    #expect(written == encoded.count)
                    #expect(Array(room.prefix(written ?? 0)) == encoded)
                    let isCut = entry.policyName.utf8.count > limits.maxValueBytes
                        || entry.sourceAddress.utf8.count > limits.maxValueBytes
                        || entry.destinationAddress.utf8.count > limits.maxValueBytes || longest > limits.maxValueBytes
                    if !isCut {
                        // The L7 length is written at its longest (2 bytes here), then moved back.
                        #expect((0...1).contains(size - encoded.count), "exact when nothing is cut (round \(round))")
                        exact += 1
                    }
                } else {
                    full += 1
                }
            }
            #expect(exact > 200 && full > 100, "both kinds were exercised (\(exact) exact, \(full) at the limit)")
        }
    }
}

@Suite("AccessLogClient reserve/commit", .serialized)
struct AccessLogClientReservationTests {
    @Test("shutdown does not wait for an entry still being encoded, and counts it undelivered once")
    func shutdownDuringReservation() async throws {
        let collector = try TestCollector(path: temporarySocketPath("reserved")).start()
        defer { collector.stop() }
        let holding = SharedFlag()
        let stalled = SharedFlag()
        let client = AccessLogClient(path: collector.path, configuration: fastRedial, afterEncoding: {
            guard holding.isSet else { return }
            stalled.set(true)
            while holding.isSet { usleep(1000) }
        })
        client.log(numberedEntry(0))
        #expect(await collector.waitFor(1))
        holding.set(true)
        let logger = TestThread.start { client.log(numberedEntry(1)) }
        #expect(await eventually { stalled.isSet })
        let start = monotonicNanoseconds()
        client.shutdown()
        let elapsed = monotonicNanoseconds() - start
        #expect(elapsed < 200_000_000, "shutdown took \(elapsed / 1_000_000) ms")
        holding.set(false)
        logger.join()
        client.log(numberedEntry(2))
        #expect(client.statistics == statistics(delivered: 1, undelivered: 1))
        try await Task.sleep(for: .milliseconds(50))
        #expect(sequenceNumbers(collector.entries) == [0])
    }

    @Test("log() from four threads with slow encoders: every entry arrives, each thread's in order")
    func concurrentLoggersWithSlowEncoders() async throws {
        let collector = try TestCollector(path: temporarySocketPath("slow")).start()
        defer { collector.stop() }
        let perThread = 1000
        let client = AccessLogClient(path: collector.path, configuration: .init(queueCapacity: 4 * perThread),
                                     afterEncoding: {
            if UInt8.random(in: 0...31) == 0 { usleep(UInt32.random(in: 20...500)) }
        })
        defer { client.shutdown() }
        TestThread.runConcurrently(4) { thread in
            for sequence in 0..<perThread { client.log(numberedEntry(sequence, thread: thread)) }
        }
        #expect(await collector.waitFor(4 * perThread, timeout: .seconds(20)))
        let entries = collector.entries
        for thread in 0..<4 {
            #expect(sequenceNumbers(entries, thread: thread) == Array(0..<perThread))
        }
        #expect(await eventually { client.statistics == statistics(delivered: UInt64(4 * perThread)) })
    }
}
