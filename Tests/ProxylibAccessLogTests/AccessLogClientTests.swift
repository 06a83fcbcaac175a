import Glibc
import Synchronization
import Testing
import CProxylib
@testable import ProxylibCore
import ProxylibParsers
import ProxylibTestSupport
@testable import ProxylibAccessLog

/// A generic entry numbered `sequence` (and `thread`), to check order and completeness at the collector.
func numberedEntry(_ sequence: Int, thread: Int = 0) -> AccessLogEntry {
    sampleEntry(.generic(proto: "test", fields: [("thread", "\(thread)"), ("seq", "\(sequence)")]))
}

func sequenceNumbers(_ entries: [DecodedLogEntry], thread: Int = 0) -> [Int] {
    entries.filter { $0.genericFields["thread"] == "\(thread)" }.compactMap { Int($0.genericFields["seq"] ?? "") }
}

/// Quick redials so that tests do not wait for the production backoff.
let fastRedial = AccessLogClient.Configuration(minimumRedialDelay: .milliseconds(10),
                                               maximumRedialDelay: .milliseconds(50))

@Suite("AccessLogClient", .serialized)
struct AccessLogClientTests {
    @Test("an r2d2 denial through the runtime reaches the collector with every field set")
    func r2d2DeniedEntry() async throws {
        let collector = try TestCollector(path: temporarySocketPath("r2d2")).start()
        defer { collector.stop() }
        let clients = Mutex<[AccessLogClient]>([])
        let runtime = ProxylibRuntime(registry: BuiltinParsers.registry, makeAccessLog: { params in
            let client = AccessLogClient(path: params.accessLogPath)
            clients.withLock { $0.append(client) }
            return client
        })
        let instanceID = runtime.openModule([("access-log-path", collector.path)], debug: false)
        #expect(instanceID != 0)
        // Allow READ only, so the WRITE below is denied.
        let rule = PortNetworkPolicyRuleConfig(l7Proto: "r2d2", l7: .generic(allow: [["cmd": "READ"]], deny: []))
        try runtime.instances.find(instanceID)!.updatePolicy(
            [NetworkPolicyConfig(endpointIPs: ["10.2.2.2"], endpointID: 7,
                                 ingress: [PortNetworkPolicyConfig(port: 80, rules: [rule])], egress: [])],
            version: "1")

        let before = UInt64(clock_realtime_nanoseconds())
        do {
            let connection = TestConnection(runtime: runtime, instanceID: instanceID, parser: "r2d2", ingress: true,
                                            sourceID: 1234, destinationID: 5678, sourceAddress: "10.1.1.1:34567",
                                            destinationAddress: "10.2.2.2:80", policyName: "10.2.2.2")
            #expect(connection.admission == FILTER_OK)
            let outcome = connection.onData(segments: [Array("WRITE /etc/passwd\r\nREAD /public/a\r\n".utf8)])
            #expect(outcome.ops == [.drop(19), .pass(16), .more(1)])
            #expect(outcome.replyInjected == Array("ERROR\r\n".utf8))
        }
        let after = UInt64(clock_realtime_nanoseconds())

        #expect(await collector.waitFor(2))
        let entries = collector.entries
        try #require(entries.count == 2)
        let denied = entries[0]
        #expect(denied.entryType == 2)  // Denied
        #expect(denied.timestamp >= before && denied.timestamp <= after)
        #expect(denied.isIngress)
        #expect(denied.policyName == "10.2.2.2")
        #expect(denied.sourceSecurityID == 1234)
        #expect(denied.destinationSecurityID == 5678)
        #expect(denied.sourceAddress == "10.1.1.1:34567")
        #expect(denied.destinationAddress == "10.2.2.2:80")
        #expect(denied.ciliumRuleRef == "")
        #expect(denied.proxyID == 0)
        guard case let .generic(proto, _) = denied.l7 else {
            Issue.record("not a generic_l7 entry: \(denied.l7)")
            return
        }
        #expect(proto == "r2d2")
        #expect(denied.genericFields == ["cmd": "WRITE", "file": "/etc/passwd"])

        let allowed = entries[1]
        #expect(allowed.entryType == 0)  // Request
        #expect(allowed.genericFields == ["cmd": "READ", "file": "/public/a"])
        #expect(allowed.timestamp >= denied.timestamp && allowed.timestamp <= after)

        runtime.closeModule(instanceID)
        let client = try #require(clients.withLock { $0.first })
        #expect(client.statistics == statistics(delivered: 2))
    }

    @Test("a kafka entry reaches the collector with every field set")
    func kafkaEntry() async throws {
        let collector = try TestCollector(path: temporarySocketPath("kafka")).start()
        defer { collector.stop() }
        let client = AccessLogClient(path: collector.path)
        defer { client.shutdown() }
        let entry = AccessLogEntry(
            timestampNanoseconds: 1_722_000_000_000_000_001, isIngress: false, entryType: .denied,
            policyName: "f00d::10", sourceSecurityID: 42, destinationSecurityID: 4_000_000_000,
            sourceAddress: "[f00d::10]:50000", destinationAddress: "[f00d::20]:9092",
            l7: .kafka(correlationID: 77, errorCode: 29, apiVersion: 5, apiKey: 0, topics: ["orders", "audit"]))
        client.log(entry)
        #expect(await collector.waitFor(1))
        #expect(collector.entries == [DecodedLogEntry(
            timestamp: 1_722_000_000_000_000_001, entryType: 2, policyName: "f00d::10", ciliumRuleRef: "",
            sourceSecurityID: 42, sourceAddress: "[f00d::10]:50000", destinationAddress: "[f00d::20]:9092",
            isIngress: false, destinationSecurityID: 4_000_000_000, proxyID: 0,
            l7: .kafka(correlationID: 77, errorCode: 29, apiVersion: 5, apiKey: 0, topics: ["orders", "audit"]))])
    }

    @Test("a collector that appears after the client: queued entries and later ones arrive, in order")
    func collectorAppearsLater() async throws {
        let path = temporarySocketPath("late")
        let client = AccessLogClient(path: path, configuration: fastRedial)
        defer { client.shutdown() }
        for sequence in 0..<5 { client.log(numberedEntry(sequence)) }
        try await Task.sleep(for: .milliseconds(100))  // a few failed redials
        #expect(client.statistics.queued == 5)

        let collector = try TestCollector(path: path).start()
        defer { collector.stop() }
        for sequence in 5..<10 { client.log(numberedEntry(sequence)) }
        #expect(await collector.waitFor(10))
        #expect(sequenceNumbers(collector.entries) == Array(0..<10))
        #expect(await eventually { client.statistics == statistics(delivered: 10, reconnects: 1) })
        #expect(collector.connectionsAccepted == 1)
    }

    @Test("a collector killed and restarted: the client reconnects and later entries arrive")
    func collectorRestarts() async throws {
        let path = temporarySocketPath("restart")
        let first = try TestCollector(path: path).start()
        let client = AccessLogClient(path: path, configuration: fastRedial)
        defer { client.shutdown() }
        for sequence in 0..<3 { client.log(numberedEntry(sequence)) }
        #expect(await first.waitFor(3))
        first.stop()

        // Logged while the collector is gone: the first send fails, the redials fail, all are kept.
        for sequence in 3..<6 { client.log(numberedEntry(sequence)) }
        try await Task.sleep(for: .milliseconds(100))
        #expect(client.statistics.delivered == 3)

        let second = try TestCollector(path: path).start()
        defer { second.stop() }
        for sequence in 6..<9 { client.log(numberedEntry(sequence)) }
        #expect(await second.waitFor(6))
        #expect(sequenceNumbers(second.entries) == Array(3..<9))
        #expect(await eventually { client.statistics == statistics(delivered: 9, reconnects: 1) })
    }

    @Test("a collector that accepts and hangs up at once: the client backs off instead of redialling in a loop")
    func hangingUpCollector() async throws {
        let collector = try TestCollector(path: temporarySocketPath("hangup")).start()
        defer { collector.stop() }
        collector.hangUpOnAccept(true)
        let client = AccessLogClient(path: collector.path, configuration: .init(
            minimumRedialDelay: .milliseconds(20), maximumRedialDelay: .milliseconds(80), maxSendAttempts: 3))
        defer { client.shutdown() }
        // An entry every 2 ms for 400 ms: each connection fails within milliseconds.
        let start = ContinuousClock.now
        for sequence in 0..<200 {
            client.log(numberedEntry(sequence))
            try await Task.sleep(for: .milliseconds(2))
        }
        // Backing off 20, 40, 80, 80… ms allows about six connections in 400 ms; redialling after each failure
        // would make about a hundred. The bound follows the time the loop really took: on a loaded machine or
        // under ThreadSanitizer the 200 sleeps take 1.5 s and more, and the backoff rightly allows more dials.
        let backedOffDials = 4 + Int((ContinuousClock.now - start) / .milliseconds(80))
        #expect(client.statistics.reconnects < backedOffDials + 6)
        #expect(collector.connectionsAccepted < backedOffDials + 7)

        collector.hangUpOnAccept(false)
        client.log(numberedEntry(1000))
        #expect(await eventually { collector.entries.contains { $0.genericFields["seq"] == "1000" } })
        #expect(await eventually { client.statistics.queued == 0 })
        let final = client.statistics
        #expect(final.delivered + final.undelivered == 201)
    }

    @Test("a collector that stops reading: log() stays fast, entries are dropped and counted, no crash")
    func stuckCollector() async throws {
        let collector = try TestCollector(path: temporarySocketPath("stuck")).start()
        defer { collector.stop() }
        let client = AccessLogClient(path: collector.path)
        defer { client.shutdown() }
        client.log(numberedEntry(0))
        #expect(await collector.waitFor(1))
        collector.pauseReading()

        let calls = 50_000
        let entries = (1...calls).map { numberedEntry($0) }
        var slowest: UInt64 = 0
        let start = monotonicNanoseconds()
        for entry in entries {
            let before = monotonicNanoseconds()
            client.log(entry)
            slowest = max(slowest, monotonicNanoseconds() - before)
        }
        let total = monotonicNanoseconds() - start
        // A sanity bound, not a benchmark: no call may wait on the socket.
        #expect(slowest < 50_000_000, "slowest log() call: \(slowest / 1000) µs")
        #expect(total < 5_000_000_000, "\(calls) calls took \(total / 1_000_000) ms")

        let stalled = client.statistics
        #expect(stalled.undelivered > 0)
        #expect(stalled.queued <= 1024)
        #expect(stalled.delivered + stalled.undelivered + UInt64(stalled.queued) == UInt64(calls + 1))

        // Once the collector reads again, everything that was not dropped arrives.
        collector.resumeReading()
        #expect(await eventually { client.statistics.queued == 0 })
        let drained = client.statistics
        #expect(drained.delivered + drained.undelivered == UInt64(calls + 1))
        #expect(drained.undelivered == stalled.undelivered)
        #expect(await collector.waitFor(Int(drained.delivered)))
        #expect(collector.count == Int(drained.delivered))
        #expect(collector.undecodable == 0)
        let received = sequenceNumbers(collector.entries)
        #expect(received == received.sorted())
    }

    @Test("shutdown is prompt with a stuck collector, idempotent, and later entries are ignored")
    func shutdownStuck() async throws {
        let collector = try TestCollector(path: temporarySocketPath("shutdown")).start()
        defer { collector.stop() }
        collector.pauseReading()
        let client = AccessLogClient(path: collector.path)
        for sequence in 0..<5000 { client.log(numberedEntry(sequence)) }
        try await Task.sleep(for: .milliseconds(50))  // the sender is now waiting for room in the socket

        let start = monotonicNanoseconds()
        client.shutdown()
        let elapsed = monotonicNanoseconds() - start
        #expect(elapsed < 500_000_000, "shutdown took \(elapsed / 1_000_000) ms")

        let final = client.statistics
        #expect(final.queued == 0)
        #expect(final.delivered + final.undelivered == 5000)
        client.shutdown()
        client.log(numberedEntry(5000))
        #expect(client.statistics == final)
    }

    @Test("shutdown is prompt while the client waits to redial a missing collector")
    func shutdownWhileRedialling() async throws {
        let client = AccessLogClient(path: temporarySocketPath("absent"),
                                     configuration: .init(minimumRedialDelay: .seconds(30), maximumRedialDelay: .seconds(30)))
        client.log(numberedEntry(0))
        try await Task.sleep(for: .milliseconds(20))
        let start = monotonicNanoseconds()
        client.shutdown()
        let elapsed = monotonicNanoseconds() - start
        #expect(elapsed < 500_000_000, "shutdown took \(elapsed / 1_000_000) ms")
        #expect(client.statistics == statistics(undelivered: 1))
    }

    @Test("entries queued just before shutdown are still handed to a reading collector")
    func shutdownFlushes() async throws {
        let collector = try TestCollector(path: temporarySocketPath("flush")).start()
        defer { collector.stop() }
        let client = AccessLogClient(path: collector.path)
        for sequence in 0..<100 { client.log(numberedEntry(sequence)) }
        client.shutdown()
        #expect(client.statistics == statistics(delivered: 100))
        #expect(await collector.waitFor(100))
        #expect(sequenceNumbers(collector.entries) == Array(0..<100))
    }

    @Test("log() from four threads at once: every entry arrives, each thread's in order")
    func concurrentLoggers() async throws {
        let collector = try TestCollector(path: temporarySocketPath("concurrent")).start()
        defer { collector.stop() }
        let perThread = 2000
        let client = AccessLogClient(path: collector.path, configuration: .init(queueCapacity: 4 * perThread))
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

    @Test("the client made by the runtime is shut down at the last CloseModule")
    func closeModuleShutsDown() async throws {
        let collector = try TestCollector(path: temporarySocketPath("close")).start()
        defer { collector.stop() }
        let clients = Mutex<[AccessLogClient]>([])
        let runtime = ProxylibRuntime(registry: BuiltinParsers.registry, makeAccessLog: { params in
            let client = AccessLogClient(path: params.accessLogPath)
            clients.withLock { $0.append(client) }
            return client
        })
        let id = runtime.openModule([("access-log-path", collector.path)], debug: false)
        #expect(runtime.openModule([("access-log-path", collector.path)], debug: false) == id)
        let client = try #require(clients.withLock { $0.first })
        client.log(numberedEntry(0))
        runtime.closeModule(id)
        client.log(numberedEntry(1))
        #expect(await collector.waitFor(2))
        runtime.closeModule(id)
        client.log(numberedEntry(2))
        #expect(client.statistics == statistics(delivered: 2))
        try await Task.sleep(for: .milliseconds(50))
        #expect(sequenceNumbers(collector.entries) == [0, 1])
        #expect(clients.withLock { $0.count } == 1)
    }
}

func statistics(delivered: UInt64 = 0, undelivered: UInt64 = 0, reconnects: UInt64 = 0, queued: Int = 0) -> AccessLogStatistics {
    var statistics = AccessLogStatistics()
    statistics.delivered = delivered
    statistics.undelivered = undelivered
    statistics.reconnects = reconnects
    statistics.queued = queued
    return statistics
}

func clock_realtime_nanoseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_REALTIME, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}
