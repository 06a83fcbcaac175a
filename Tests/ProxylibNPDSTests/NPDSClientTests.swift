#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOPosix
import ProxylibCore
import ProxylibParsers
@testable import ProxylibNPDS
import Synchronization
import Testing

/// Records what the fake sessions were asked, across the client's streams.
final class TransportSessionLog: Sendable {
    private let state = Mutex<(sessions: Int, responses: [[UInt8]])>((0, []))

    var sessionsMade: Int { state.withLock { $0.sessions } }
    var responses: [[UInt8]] { state.withLock { $0.responses } }

    fileprivate func newSession() -> Int {
        state.withLock { state in
            state.sessions += 1
            return state.sessions
        }
    }

    fileprivate func record(_ response: [UInt8]) {
        state.withLock { $0.responses.append(response) }
    }
}

/// The message layer stand-in: the initial request is "hello <session>", each response "m" is answered
/// "ack <n> m" (n counts the responses of this session) and ACKed with version "m"; "bad" is NACKed.
struct TransportFakeSession: NPDSSession {
    let number: Int
    let log: TransportSessionLog
    var answered = 0

    init(log: TransportSessionLog) {
        self.log = log
        number = log.newSession()
    }

    mutating func initialRequest() -> [UInt8] {
        Array("hello \(number)".utf8)
    }

    mutating func handleResponse(_ message: [UInt8]) -> (reply: [UInt8], outcome: NPDSUpdateOutcome) {
        answered += 1
        log.record(message)
        let text = String(decoding: message, as: UTF8.self)
        let outcome: NPDSUpdateOutcome = text == "bad" ? .nacked(reason: "bad policy") : .acked(version: text)
        return (Array("ack \(answered) \(text)".utf8), outcome)
    }
}

private func text(_ bytes: [UInt8]) -> String {
    String(decoding: bytes, as: UTF8.self)
}

/// Timings that keep the tests quick: backoff 20 ms doubling up to 200 ms.
private func fastConfiguration(handshakeTimeout: TimeAmount = .seconds(5)) -> NPDSClientConfiguration {
    var configuration = NPDSClientConfiguration()
    configuration.initialBackoffMilliseconds = 20
    configuration.maximumBackoffMilliseconds = 200
    configuration.transport.handshakeTimeout = handshakeTimeout
    return configuration
}

/// Threads standing in for Envoy's: `init` and `shutdown()` block their caller, which must not be one of the
/// Swift concurrency pool's few threads (the test runner's); NIO's group shutdown itself needs Dispatch workers.
private let envoyThreads: NIOThreadPool = {
    let pool = NIOThreadPool(numberOfThreads: 8)
    pool.start()
    return pool
}()

/// Runs `body` on an "Envoy thread" and answers its result and how long it took.
private func onEnvoyThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> (T, Duration) {
    // The pool is never shut down, so it always runs the work.
    try! await envoyThreads.runIfActive {
        let start = ContinuousClock.now
        let result = body()
        return (result, ContinuousClock.now - start)
    }
}

/// Starts a client the way OpenModule does; answers it and how long `init` blocked.
private func startClient(
    path: String, log: TransportSessionLog, configuration: NPDSClientConfiguration = fastConfiguration()
) async -> (NPDSClient, Duration) {
    await onEnvoyThread {
        NPDSClient(path: path, nodeID: "host~127.0.0.2~test~localdomain", configuration: configuration) {
            TransportFakeSession(log: log)
        }
    }
}

private func makeClient(
    path: String, log: TransportSessionLog, configuration: NPDSClientConfiguration = fastConfiguration()
) async -> NPDSClient {
    await startClient(path: path, log: log, configuration: configuration).0
}

/// Shuts `client` down the way CloseModule does; answers how long it took.
@discardableResult
private func stop(_ client: NPDSClient) async -> Duration {
    await onEnvoyThread { client.shutdown() }.1
}

/// The NPDS transport and client against an in-process HTTP/2 gRPC server on a unix socket, with a fake session.
@Suite struct NPDSClientTests {
    @Test func noServerInitReturnsPromptlyAndKeepsRetrying() async throws {
        let path = transportSocketPath("absent")
        let log = TransportSessionLog()
        let (client, elapsed) = await startClient(path: path, log: log)
        #expect(elapsed < .seconds(5), "init waits for the first attempt only")
        let status = client.status
        #expect(status.connectedStreams == 0)
        #expect(status.lastAttemptEnd == .connectFailed("no such file or directory"))
        try await transportEventually("retries") { client.status.attempts >= 5 }
        #expect(client.status.errorsLogged == 1, "one error line for the cause, not one per retry")
        #expect(await stop(client) < .seconds(3))
        #expect(client.status.isStopped)
    }

    @Test func serverStartedLaterIsReachedWithinTheBackoff() async throws {
        let path = transportSocketPath("late")
        let log = TransportSessionLog()
        // Production timings: 100 ms, 200 ms, 400 ms, … between attempts.
        let client = await makeClient(path: path, log: log, configuration: .default)
        #expect(client.status.connectedStreams == 0)

        try await Task.sleep(for: .milliseconds(300))
        let server = TransportTestServer(path: path)
        try await server.start()
        let started = ContinuousClock.now
        // The next attempt is at most ~800 ms away; the bound is loose so a loaded CI machine does not flake.
        try await transportEventually("the stream", timeout: .seconds(10)) { server.streams.first?.messages.count == 1 }
        _ = started

        let stream = server.streams[0]
        #expect(stream.headers[":method"] == "POST")
        #expect(stream.headers[":scheme"] == "http")
        #expect(stream.headers[":path"] == "/cilium.NetworkPolicyDiscoveryService/StreamNetworkPolicies")
        #expect(stream.headers[":authority"] == "localhost")
        #expect(stream.headers["content-type"] == "application/grpc")
        #expect(stream.headers["te"] == "trailers")
        #expect(stream.messages.map(text) == ["hello 1"])
        // The server may read the request a moment before the client's task records the stream.
        try await transportEventually("the client's status") { client.status.connectedStreams == 1 }
        #expect(client.status.isConnected)
        await stop(client)
        await server.shutdown()
    }

    @Test func initReturnsAfterTheStreamIsEstablished() async throws {
        let path = transportSocketPath("up")
        let server = TransportTestServer(path: path)
        try await server.start()
        let log = TransportSessionLog()
        let client = await makeClient(path: path, log: log)
        #expect(client.status.connectedStreams == 1, "init returned after the first attempt succeeded")
        #expect(client.status.attempts == 1)
        try await transportEventually("initial request") { server.streams.first?.messages.count == 1 }
        await stop(client)
        await server.shutdown()
    }

    @Test func responsesAreAnsweredInOrderWhateverTheFraming() async throws {
        let path = transportSocketPath("exchange")
        let server = TransportTestServer(path: path)
        try await server.start()
        let log = TransportSessionLog()
        let client = await makeClient(path: path, log: log)
        try await transportEventually("initial request") { server.streams.first?.messages.count == 1 }

        server.send(Array("v1".utf8))
        try await transportEventually("first ACK") { server.streams[0].messages.count == 2 }
        #expect(client.status.lastOutcome == .acked(version: "v1"))

        // One message split over three DATA frames, then two messages (and the start of a third) in one frame.
        let v2 = Array(GRPCFraming.frame(Array("v2-split".utf8)).readableBytesView)
        server.sendRaw([Array(v2[..<2]), Array(v2[2..<7]), Array(v2[7...])])
        let v3 = Array(GRPCFraming.frame(Array("v3".utf8)).readableBytesView)
        let v4 = Array(GRPCFraming.frame(Array("bad".utf8)).readableBytesView)
        let v5 = Array(GRPCFraming.frame(Array("v5".utf8)).readableBytesView)
        server.sendRaw([v3 + v4 + v5[..<3], Array(v5[3...])])
        try await transportEventually("all ACKs") { server.streams[0].messages.count == 6 }

        #expect(server.streams[0].messages.map(text)
                == ["hello 1", "ack 1 v1", "ack 2 v2-split", "ack 3 v3", "ack 4 bad", "ack 5 v5"])
        #expect(log.responses.map(text) == ["v1", "v2-split", "v3", "bad", "v5"])
        #expect(client.status.responses == 5)
        #expect(client.status.lastOutcome == .acked(version: "v5"))
        #expect(server.streams.count == 1, "one stream throughout")
        await stop(client)
        await server.shutdown()
    }

    @Test func serverKilledMidStreamReconnectsWithAFreshStream() async throws {
        let path = transportSocketPath("killed")
        let server = TransportTestServer(path: path)
        try await server.start()
        let log = TransportSessionLog()
        let client = await makeClient(path: path, log: log)
        try await transportEventually("initial request") { server.streams.first?.messages.count == 1 }
        server.send(Array("v1".utf8))
        try await transportEventually("ACK") { server.streams[0].messages.count == 2 }

        await server.stop()
        // The lost stream is counted as a stream failure (by the time the test looks, a retry may already have
        // failed to connect and be the last attempt).
        try await transportEventually("the client notices") { client.status.streamFailures == 1 }
        // The socket is gone while the server is down; the client keeps trying.
        try await transportEventually("failed attempts") {
            if case .connectFailed = client.status.lastAttemptEnd { return true }
            return false
        }

        try await server.start()
        try await transportEventually("a second stream") {
            server.streams.count == 2 && server.streams[1].messages.count == 1
        }
        #expect(server.streams[1].messages.map(text) == ["hello \(log.sessionsMade)"],
                "a fresh session: the initial request again")
        server.send(Array("v2".utf8))
        try await transportEventually("ACK on the new stream") { server.streams[1].messages.count == 2 }
        #expect(text(server.streams[1].messages[1]) == "ack 1 v2", "the new session counts from 1")
        #expect(client.status.connectedStreams == 2)
        await stop(client)
        await server.shutdown()
    }

    @Test func grpcStatusEndsTheStreamAndTheClientReconnects() async throws {
        let path = transportSocketPath("status")
        let server = TransportTestServer(path: path)
        try await server.start()
        let log = TransportSessionLog()
        let client = await makeClient(path: path, log: log)
        try await transportEventually("initial request") { server.streams.first?.messages.count == 1 }

        server.finish(status: 13, message: "agent%20restarting%20%E2%9C%93")
        try await transportEventually("a second stream") { server.streams.count >= 2 }
        #expect(client.status.lastAttemptEnd == .streamFailed("grpc-status 13 (INTERNAL): agent restarting ✓"))
        try await transportEventually("initial request again") { server.streams[1].messages.count == 1 }

        // A clean end (grpc-status 0) is also followed by a new stream.
        server.finish(status: 0)
        try await transportEventually("a third stream") { server.streams.count >= 3 }
        await stop(client)
        await server.shutdown()
    }

    @Test func resetStreamIsRecoveredFrom() async throws {
        let path = transportSocketPath("reset")
        let server = TransportTestServer(path: path)
        try await server.start()
        let client = await makeClient(path: path, log: TransportSessionLog())
        try await transportEventually("initial request") { server.streams.first?.messages.count == 1 }
        server.reset()
        try await transportEventually("a second stream") { server.streams.count >= 2 }
        await stop(client)
        await server.shutdown()
    }

    @Test func rejectedCallsBackOffExponentially() async throws {
        let path = transportSocketPath("unimpl")
        let server = TransportTestServer(path: path, mode: .trailersOnly(code: 12, message: "unknown%20method"))
        try await server.start()
        var configuration = fastConfiguration()
        configuration.initialBackoffMilliseconds = 40
        configuration.maximumBackoffMilliseconds = 2_000
        let client = await makeClient(path: path, log: TransportSessionLog(), configuration: configuration)
        try await transportEventually("five calls", timeout: .seconds(10)) { server.streams.count >= 5 }
        try await transportEventually("the status") {
            client.status.lastAttemptEnd == .streamFailed("grpc-status 12 (UNIMPLEMENTED): unknown method")
        }
        await stop(client)
        #expect(client.status.errorsLogged == 1)
        let opened = server.streams.map(\.openedAt)
        let gaps = zip(opened.dropFirst(), opened).map { $0 - $1 }
        // At least 40, 80, 160, 320 ms between calls: a call the server never accepted does not reset the
        // backoff (with a reset every gap would be ~40 ms). Only lower bounds: a slow machine stretches gaps.
        for (index, minimum) in [40, 80, 160, 320].enumerated() {
            #expect(gaps[index] >= .milliseconds(minimum - 5), "gaps \(gaps)")
        }
        await server.shutdown()
    }

    @Test func shutdownIsPromptAndStopsReconnecting() async throws {
        let path = transportSocketPath("shutdown")
        let server = TransportTestServer(path: path)
        try await server.start()
        let log = TransportSessionLog()
        let client = await makeClient(path: path, log: log)
        try await transportEventually("initial request") { server.streams.first?.messages.count == 1 }

        #expect(await stop(client) < .seconds(3))
        try await transportEventually("the server sees the stream close") { server.streams[0].closed }
        try await transportEventually("the connection is closed") { server.openConnections == 0 }
        #expect(await stop(client) < .seconds(1), "idempotent")

        // No callbacks after shutdown, and no reconnection.
        let responses = log.responses.count
        server.send(Array("late".utf8))
        try await Task.sleep(for: .milliseconds(300))
        #expect(log.responses.count == responses)
        #expect(server.streams.count == 1)
        #expect(server.connectionsAccepted == 1)
        #expect(client.status.isStopped)
        await server.shutdown()
    }

    @Test func shutdownDuringALongBackoffIsPrompt() async throws {
        let path = transportSocketPath("backoff")
        var configuration = NPDSClientConfiguration()
        configuration.initialBackoffMilliseconds = 10_000
        let log = TransportSessionLog()
        let client = await makeClient(path: path, log: log, configuration: configuration)
        #expect(client.status.attempts >= 1)
        #expect(await stop(client) < .seconds(3))
        #expect(log.sessionsMade == 0, "a session is made only for an open stream")
    }

    @Test func shutdownFromManyThreadsAtOnce() async throws {
        let path = transportSocketPath("race")
        let server = TransportTestServer(path: path)
        try await server.start()
        let client = await makeClient(path: path, log: TransportSessionLog())
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<8 { group.addTask { await stop(client) } }
        }
        #expect(client.status.isStopped)
        await server.shutdown()
    }

    @Test func manyClientsStartAndStop() async throws {
        let path = transportSocketPath("many")
        let server = TransportTestServer(path: path)
        try await server.start()
        for round in 0..<10 {
            let client = await makeClient(path: path, log: TransportSessionLog())
            #expect(client.status.connectedStreams == 1, "round \(round)")
            await stop(client)
        }
        try await transportEventually("all connections closed") { server.openConnections == 0 }
        #expect(server.connectionsAccepted == 10)
        await server.shutdown()
    }

    @Test func oversizedAndCompressedMessagesEndTheStreamWithoutCrashing() async throws {
        let path = transportSocketPath("garbage")
        let server = TransportTestServer(path: path)
        try await server.start()
        let log = TransportSessionLog()
        let client = await makeClient(path: path, log: log)
        try await transportEventually("initial request") { server.streams.first?.messages.count == 1 }

        server.sendRaw([[0, 0xff, 0xff, 0xff, 0xff, 1, 2, 3]])
        try await transportEventually("a second stream") { server.streams.count >= 2 }
        #expect(client.status.lastAttemptEnd
                == .streamFailed("server sent a message of 4294967295 bytes (limit 67108864)"))

        try await transportEventually("initial request") { server.streams[1].messages.count == 1 }
        server.sendRaw([[1, 0, 0, 0, 1, 0x42]])
        try await transportEventually("a third stream") { server.streams.count >= 3 }
        #expect(client.status.lastAttemptEnd
                == .streamFailed("server sent a compressed message (compression is not supported)"))
        #expect(log.responses.isEmpty, "nothing reached the session")
        await stop(client)
        await server.shutdown()
    }

    @Test func nonHTTP2ServerFailsTheAttemptWithoutCrashing() async throws {
        let path = transportSocketPath("raw")
        let server = TransportRawServer(path: path)
        try await server.start(greeting: Array("HTTP/1.1 400 Bad Request\r\n\r\n garbage \u{0}\u{1}\u{2}".utf8),
                               closeAfterGreeting: false)
        let log = TransportSessionLog()
        let client = await makeClient(path: path, log: log)
        #expect(client.status.connectedStreams == 0)
        if case .handshakeFailed = client.status.lastAttemptEnd {} else {
            Issue.record("expected a handshake failure, got \(String(describing: client.status.lastAttemptEnd))")
        }
        try await transportEventually("retries") { server.connectionsAccepted >= 3 }
        await stop(client)
        await server.shutdown()
    }

    @Test func hugeHTTP2FrameFromTheServerIsAConnectionErrorNotACrash() async throws {
        let path = transportSocketPath("frame")
        let server = TransportRawServer(path: path)
        // An empty SETTINGS frame (the server's preface), then a DATA frame header announcing 16 MiB - 1 on
        // stream 1, far above the 16 KiB SETTINGS_MAX_FRAME_SIZE the client allows, followed by junk.
        let settings: [UInt8] = [0, 0, 0, 0x4, 0, 0, 0, 0, 0]
        let hugeData: [UInt8] = [0xff, 0xff, 0xff, 0x0, 0, 0, 0, 0, 1] + [UInt8](repeating: 0xab, count: 4096)
        try await server.start(greeting: settings + hugeData, closeAfterGreeting: false)
        let log = TransportSessionLog()
        let client = await makeClient(path: path, log: log)
        try await transportEventually("retries") { server.connectionsAccepted >= 3 }
        #expect(log.responses.isEmpty)
        #expect(client.status.lastAttemptEnd != nil)
        await stop(client)
        await server.shutdown()
    }

    @Test func largePolicyMessagesFlowThroughFlowControl() async throws {
        let path = transportSocketPath("large")
        let server = TransportTestServer(path: path)
        try await server.start()
        let log = TransportSessionLog()
        let client = await makeClient(path: path, log: log)
        try await transportEventually("initial request") { server.streams.first?.messages.count == 1 }
        // Sizes around and well beyond the 64 KiB default HTTP/2 windows (and our 1 MiB one): delivery needs
        // WINDOW_UPDATEs on the way.
        var expected: [[UInt8]] = []
        for size in [65_535, 65_536 + 5, 200_000, (1 << 20) + 1, 3 << 20] {
            var message = [UInt8](repeating: 0x5a, count: size)
            for index in stride(from: 0, to: size, by: 4093) { message[index] = UInt8(truncatingIfNeeded: index >> 12) }
            expected.append(message)
            server.send(message)
        }
        try await transportEventually("five ACKs", timeout: .seconds(10)) { server.streams[0].messages.count == 6 }
        #expect(log.responses.count == 5)
        #expect(log.responses == expected)
        #expect(server.streams[0].messages.count == 6)
        await stop(client)
        await server.shutdown()
    }

    @Test func silentServerTimesOutTheHandshake() async throws {
        let path = transportSocketPath("silent")
        let server = TransportRawServer(path: path)
        try await server.start(greeting: [], closeAfterGreeting: false)
        let log = TransportSessionLog()
        let (client, elapsed) = await startClient(
            path: path, log: log, configuration: fastConfiguration(handshakeTimeout: .milliseconds(200)))
        #expect(elapsed < .seconds(5))
        #expect(client.status.lastAttemptEnd == .handshakeFailed("no HTTP/2 settings from server within 200 ms"))
        await stop(client)
        await server.shutdown()
    }

    /// OpenModule must not hold Envoy's main thread for the whole handshake timeout of a silent agent.
    @Test func initStopsWaitingForASilentServerBeforeTheHandshakeTimeout() async throws {
        let path = transportSocketPath("mute")
        let server = TransportRawServer(path: path)
        try await server.start(greeting: [], closeAfterGreeting: false)
        let log = TransportSessionLog()
        var configuration = fastConfiguration(handshakeTimeout: .seconds(5))
        configuration.firstAttemptWait = .milliseconds(300)
        let clock = ContinuousClock()
        let started = clock.now
        let (client, elapsed) = await startClient(path: path, log: log, configuration: configuration)
        #expect(elapsed < .seconds(3), "init returned after its own bound, not the 5 s handshake timeout")
        // On a machine too loaded to get here within the handshake timeout, the attempt may have ended already.
        if clock.now - started < .seconds(4) {
            #expect(client.status.lastAttemptEnd == nil, "the attempt is still going on in the background")
        }
        #expect(NPDSClientConfiguration.default.firstAttemptWait <= .seconds(1))
        await stop(client)
        await server.shutdown()
    }

    @Test func serverThatClosesAtOnceIsRetried() async throws {
        let path = transportSocketPath("slam")
        let server = TransportRawServer(path: path)
        try await server.start(greeting: [], closeAfterGreeting: true)
        let client = await makeClient(path: path, log: TransportSessionLog())
        #expect(client.status.connectedStreams == 0)
        try await transportEventually("retries") { server.connectionsAccepted >= 6 }
        #expect(client.status.errorsLogged <= 2, "alternating causes are each logged once")
        await stop(client)
        await server.shutdown()
    }

    // MARK: With the real message layer

    @Test func realStreamStateInstallsPoliciesAndAcks() async throws {
        let path = transportSocketPath("real")
        let server = TransportTestServer(path: path)
        try await server.start()
        let instance = Instance(id: 1, params: ModuleParams(xdsPath: path), registry: BuiltinParsers.registry)
        let client = await onEnvoyThread { NPDSClient(path: path, nodeID: instance.nodeID, instance: instance) }.0
        try await transportEventually("initial request") { server.streams.first?.messages.count == 1 }
        #expect(decodeRequestWithProtobufC(server.streams[0].messages[0])?.versionInfo == "")

        server.send(encodedResponse(version: "7", nonce: "n1", resources: []))
        try await transportEventually("ACK") { server.streams[0].messages.count == 2 }
        let ack = decodeRequestWithProtobufC(server.streams[0].messages[1])
        #expect(ack?.versionInfo == "7")
        #expect(ack?.responseNonce == "n1")
        #expect(ack?.errorMessage == nil)
        #expect(instance.policyMap.version == "7")
        #expect(client.status.lastOutcome == .acked(version: "7"))

        // A new stream starts again from version "" with a fresh state.
        await server.stop()
        try await server.start()
        try await transportEventually("a second stream") {
            server.streams.count == 2 && server.streams[1].messages.count == 1
        }
        #expect(decodeRequestWithProtobufC(server.streams[1].messages[0])?.versionInfo == "")
        await stop(client)
        await server.shutdown()
    }
}
