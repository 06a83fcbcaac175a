import NIOCore
import NIOHTTP2
import NIOPosix

/// How one connection attempt ended. Every attempt ends: a stream that the server closes cleanly is still the
/// end of the attempt (the client reconnects, as upstream's does after EOF).
enum NPDSAttemptEnd: Equatable, Sendable {
    /// The unix socket could not be connected (missing, refused, timed out).
    case connectFailed(String)
    /// Connected, but the peer did not complete the HTTP/2 handshake, or the stream could not be opened.
    case handshakeFailed(String)
    /// The stream was open and the initial request sent; then it failed (gRPC status, protocol error,
    /// connection lost).
    case streamFailed(String)
    /// The server ended the call with grpc-status OK.
    case serverClosed
    /// `shutdown()` ended it.
    case stopped

    /// Whether the stream had been established (the backoff is reset after such an attempt).
    var wasConnected: Bool {
        switch self {
        case .streamFailed, .serverClosed: return true
        case .connectFailed, .handshakeFailed, .stopped: return false
        }
    }
}

/// Knobs of the transport; the defaults are the production values, tests shrink the timings.
struct NPDSTransportConfiguration: Sendable {
    var connectTimeout: TimeAmount = .seconds(2)
    /// How long the server may take to send its HTTP/2 SETTINGS after the socket connects.
    var handshakeTimeout: TimeAmount = .seconds(5)
    var maximumMessageLength = GRPCFraming.defaultMaximumMessageLength
    /// HTTP/2 receive window (stream and connection): a full policy snapshot arrives without a round trip
    /// per 64 KiB.
    var receiveWindow = 1 << 20

    static let `default` = NPDSTransportConfiguration()
}

/// What the transport needs from the client around one attempt. All calls come from the attempt's task.
protocol NPDSAttemptHost: Sendable {
    /// The connection channel of the attempt, for `shutdown()` to close; false when the client is stopping
    /// (the transport then closes the channel itself and ends the attempt).
    func attach(connection: any Channel) -> Bool
    /// The stream is open and the initial request sent.
    func streamEstablished()
    /// The server accepted the call (response headers arrived): a healthy connection, the backoff starts over.
    func callAccepted()
    /// Runs `body` (a call into the session, which touches the instance) unless the client is stopping;
    /// nil when it is.
    func ifRunning<Result>(_ body: () -> Result) -> Result?
    /// The session's verdict on one response.
    func recordOutcome(_ outcome: NPDSUpdateOutcome)
}

/// One NPDS connection attempt: unix socket → HTTP/2 (prior knowledge, no TLS) → one bidirectional gRPC stream
/// → the initial request → for each response message, the session's reply. Runs in the client's task, on the
/// client's event loop.
struct NPDSTransport: Sendable {
    typealias StreamChannel = NIOAsyncChannel<HTTP2Frame.FramePayload, HTTP2Frame.FramePayload>

    let path: String
    let eventLoop: any EventLoop
    let configuration: NPDSTransportConfiguration

    /// The pieces of a connected HTTP/2 connection.
    private struct Connection: Sendable {
        let channel: any Channel
        let multiplexer: NIOHTTP2Handler.AsyncStreamMultiplexer<Void>
        let handshake: EventLoopFuture<Void>
        let report: HTTP2ConnectionReport
    }

    /// Runs the attempt; `makeSession` is called once the stream is open (each stream gets a fresh session).
    func run<Session: NPDSSession>(
        makeSession: () -> Session, host: some NPDSAttemptHost
    ) async -> NPDSAttemptEnd {
        let connection: Connection
        do {
            connection = try await connect()
        } catch {
            return .connectFailed(NPDSErrorText.describe(error))
        }
        defer { connection.channel.close(promise: nil) }
        guard host.attach(connection: connection.channel) else { return .stopped }

        let stream: StreamChannel
        do {
            try await connection.handshake.get()
            stream = try await connection.multiplexer.openStream { channel in
                channel.eventLoop.makeCompletedFuture {
                    try StreamChannel(wrappingChannelSynchronously: channel)
                }
            }
        } catch {
            return .handshakeFailed(connection.report.closeReason ?? NPDSErrorText.describe(error))
        }

        let result: NPDSAttemptEnd
        do {
            result = try await stream.executeThenClose { inbound, outbound in
                var session = makeSession()
                return try await exchange(session: &session, host: host, report: connection.report,
                                          inbound: inbound, outbound: outbound)
            }
        } catch {
            // Writing or reading the stream failed: usually the connection went away under it.
            result = .streamFailed(connection.report.closeReason ?? NPDSErrorText.describe(error))
        }
        return result
    }

    private func connect() async throws -> Connection {
        let configuration = self.configuration
        return try await ClientBootstrap(group: eventLoop)
            .connectTimeout(configuration.connectTimeout)
            .connect(unixDomainSocketPath: path) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let report = HTTP2ConnectionReport()
                    let handshake = channel.eventLoop.makePromise(of: Void.self)
                    let multiplexer = try channel.pipeline.syncOperations.configureAsyncHTTP2Pipeline(
                        mode: .client,
                        configuration: Self.http2Configuration(configuration)
                    ) { pushed in
                        // A server cannot open streams to a client that disabled push; close any that appears.
                        pushed.close(promise: nil)
                        return pushed.eventLoop.makeSucceededVoidFuture()
                    }
                    try channel.pipeline.syncOperations.addHandler(
                        HTTP2ConnectionWatcher(handshake: handshake, report: report,
                                               timeout: configuration.handshakeTimeout))
                    return Connection(channel: channel, multiplexer: multiplexer,
                                      handshake: handshake.futureResult, report: report)
                }
            }
    }

    private static func http2Configuration(
        _ configuration: NPDSTransportConfiguration
    ) -> NIOHTTP2Handler.Configuration {
        var http2 = NIOHTTP2Handler.Configuration()
        let window = max(65_535, min(configuration.receiveWindow, Int(Int32.max)))
        http2.connection.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: 100),
            HTTP2Setting(parameter: .maxHeaderListSize, value: 16_384),
            HTTP2Setting(parameter: .enablePush, value: 0),
            HTTP2Setting(parameter: .initialWindowSize, value: window),
        ]
        http2.connection.targetWindowSize = window
        http2.stream.targetWindowSize = window
        return http2
    }

    /// The gRPC call on the open stream. Returns how the call ended; throws when the stream itself fails.
    private func exchange<Session: NPDSSession>(
        session: inout Session,
        host: some NPDSAttemptHost,
        report: HTTP2ConnectionReport,
        inbound: NIOAsyncChannelInboundStream<HTTP2Frame.FramePayload>,
        outbound: NIOAsyncChannelOutboundWriter<HTTP2Frame.FramePayload>
    ) async throws -> NPDSAttemptEnd {
        guard let initial = host.ifRunning({ session.initialRequest() }) else { return .stopped }
        let headers = HTTP2Frame.FramePayload.Headers(headers: GRPCMetadata.requestHeaders())
        try await outbound.write(contentsOf: [.headers(headers), dataFrame(initial)])
        host.streamEstablished()

        var reader = GRPCResponseReader(maximumMessageLength: configuration.maximumMessageLength)
        var accepted = false
        for try await payload in inbound {
            let messages = reader.receive(payload)
            if !accepted && reader.receivedHeaders && reader.end == nil {
                accepted = true
                host.callAccepted()
            }
            for message in messages {
                guard let (reply, outcome) = host.ifRunning({ session.handleResponse(message) }) else {
                    return .stopped
                }
                host.recordOutcome(outcome)
                try await outbound.write(dataFrame(reply))
            }
            if let end = reader.end {
                return Self.attemptEnd(end, report: report)
            }
        }
        reader.streamClosed()
        return Self.attemptEnd(reader.end ?? .failed(.closedWithoutStatus), report: report)
    }

    private func dataFrame(_ message: [UInt8]) -> HTTP2Frame.FramePayload {
        .data(.init(data: .byteBuffer(GRPCFraming.frame(message))))
    }

    private static func attemptEnd(_ end: GRPCResponseReader.End, report: HTTP2ConnectionReport) -> NPDSAttemptEnd {
        switch end {
        case .ok:
            return .serverClosed
        case .failed(.closedWithoutStatus):
            // The stream just went away: the connection's fate says why.
            return .streamFailed(report.closeReason ?? GRPCError.closedWithoutStatus.description)
        case .failed(let error):
            return .streamFailed(error.description)
        }
    }
}
