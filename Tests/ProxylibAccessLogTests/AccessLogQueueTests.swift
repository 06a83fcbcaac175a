import Testing
@testable import ProxylibAccessLog
import ProxylibCore

/// The byte ring under the access-log queue: entries of every size wrap around it, come out in order and
/// intact, and a full ring (or a full entry count) drops instead of overwriting.
@Suite struct AccessLogQueueTests {
    let limits = AccessLogLimits(maxEntryBytes: 512, maxValueBytes: 128, maxItems: 8)

    func entry(_ number: Int, padding: Int) -> AccessLogEntry {
        sampleEntry(.generic(proto: "ring", fields: L7Fields([("n", String(number)),
                                                              ("pad", String(repeating: "x", count: padding))])))
    }

    /// Takes the head entry as the sender does; nil when empty.
    func takeHead(_ queue: AccessLogQueue) -> [UInt8]? {
        guard case let .send(slot, _) = queue.nextWork(), let packet = queue.packet(slot: slot) else { return nil }
        let bytes = Array(packet)
        queue.finish(entries: 1, delivered: 1, undelivered: 0)
        return bytes
    }

    @Test func entriesOfEverySizeWrapAroundInOrderAndIntact() throws {
        let wakeup = try #require(WakeupPipe())
        let queue = AccessLogQueue(capacity: 64, limits: limits, wakeup: wakeup, ringBytes: 4 * 512)
        let encoder = AccessLogEncoder(limits: limits)
        var expected: [[UInt8]] = []
        var generator = SplitMix64(seed: 42)
        var queued = 0
        var taken = 0
        for number in 0..<3000 {
            // Mostly produce, sometimes consume a few: the ring wraps many times, at every alignment.
            let e = entry(number, padding: Int.random(in: 0...120, using: &generator))
            switch queue.enqueue(e) {
            case .queued, .queuedAfterDropping:
                expected.append(try #require(encoder.encode(e)))
                queued += 1
            case .droppedQueueFull:
                break
            default:
                Issue.record("unexpected outcome")
            }
            for _ in 0..<Int.random(in: 0...2, using: &generator) {
                guard let bytes = takeHead(queue) else { break }
                #expect(bytes == expected[taken], "entry \(taken)")
                taken += 1
            }
        }
        while let bytes = takeHead(queue) {
            #expect(bytes == expected[taken], "entry \(taken)")
            taken += 1
        }
        #expect(taken == queued)
        #expect(queued > 1000, "the ring was reused many times")
        let statistics = queue.statistics
        #expect(statistics.delivered == UInt64(queued))
        #expect(statistics.undelivered == UInt64(3000 - queued))
        #expect(statistics.queued == 0)
    }

    @Test func aFullRingDropsAndKeepsWhatItHolds() throws {
        let wakeup = try #require(WakeupPipe())
        let queue = AccessLogQueue(capacity: 1000, limits: limits, wakeup: wakeup, ringBytes: 4 * 512)
        let encoder = AccessLogEncoder(limits: limits)
        var kept: [[UInt8]] = []
        var dropped = 0
        for number in 0..<200 {
            let e = entry(number, padding: 100)
            if case .queued = queue.enqueue(e) {
                kept.append(try #require(encoder.encode(e)))
            } else {
                dropped += 1
            }
        }
        // 2 KiB of ring, entries of ~150 bytes, and 512 bytes of room needed for each new one.
        #expect(kept.count > 5 && kept.count < 14)
        #expect(dropped == 200 - kept.count)
        for bytes in kept {
            #expect(takeHead(queue) == bytes)
        }
        #expect(takeHead(queue) == nil)
        // Room again once drained.
        if case .queuedAfterDropping(let runDropped, _) = queue.enqueue(entry(0, padding: 0)) {
            #expect(runDropped == UInt64(dropped))
        } else {
            Issue.record("expected the first entry after the drops to report them")
        }
    }

    @Test func theEntryCountBindsToo() throws {
        let wakeup = try #require(WakeupPipe())
        let queue = AccessLogQueue(capacity: 3, limits: limits, wakeup: wakeup)
        for number in 0..<3 {
            #expect(queue.enqueue(entry(number, padding: 0)) == .queued)
        }
        #expect(queue.enqueue(entry(3, padding: 0)) == .droppedQueueFull(firstOfRun: true, total: 1))
        #expect(queue.ringBytes == 4 * 512, "at least four entries of the largest size")
    }
}
