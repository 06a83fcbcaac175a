#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix
@testable import ProxylibNPDS
import Synchronization
import Testing

/// A unique unix socket path under /tmp (well under the 108-byte sun_path limit).
func transportSocketPath(_ name: String) -> String {
    "/tmp/npds-\(getpid())-\(name)-\(UInt32.random(in: 0...UInt32.max)).sock"
}

struct TransportTimeout: Error, CustomStringConvertible {
    let description: String
}

/// Polls `condition` until it holds or `timeout` passes (then records an issue and throws).
func transportEventually(
    _ what: String, timeout: Duration = .seconds(5), sourceLocation: SourceLocation = #_sourceLocation,
    _ condition: () -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        if ContinuousClock.now >= deadline {
            Issue.record("timed out after \(timeout) waiting for \(what)", sourceLocation: sourceLocation)
            throw TransportTimeout(description: what)
        }
        try await Task.sleep(for: .milliseconds(5))
    }
}

/// A minimal gRPC server for the transport tests: HTTP/2 over a unix socket (NIO, in process), serving one
/// bidirectional method. It records every stream's request headers and request messages, sends what the test
/// scripts (messages, raw DATA bytes, trailers, resets) and can be stopped abruptly and started again on the
/// same path.
final class TransportTestServer: Sendable {
    /// How the server answers a new stream's request headers.
    enum Mode: Sendable, Equatable {
        /// Response headers (:status 200, application/grpc) at once; messages when the test sends them.
        case respond
        /// A trailers-only response ending the call with `code`.
        case trailersOnly(code: Int, message: String)
        /// Nothing at all.
        case silent
    }

    struct Stream: Sendable {
        var headers: [String: String]
        var messages: [[UInt8]] = []
        var closed = false
        let openedAt: ContinuousClock.Instant
        let channel: any Channel
    }

    private struct State {
        var mode = Mode.respond
        var streams: [Stream] = []
        var connections: [any Channel] = []
        var connectionsAccepted = 0
        var serverChannel: (any Channel)?
    }

    let path: String
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let state = Mutex(State())

    init(path: String, mode: Mode = .respond) {
        self.path = path
        state.withLock { $0.mode = mode }
    }

    var mode: Mode {
        get { state.withLock { $0.mode } }
        set { state.withLock { $0.mode = newValue } }
    }

    var streams: [Stream] { state.withLock { $0.streams } }
    var connectionsAccepted: Int { state.withLock { $0.connectionsAccepted } }
    var openConnections: Int { state.withLock { $0.connections.filter(\.isActive).count } }

    func start() async throws {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    self.state.withLock {
                        $0.connections.append(channel)
                        $0.connectionsAccepted += 1
                    }
                    let handler = NIOHTTP2Handler(mode: .server, eventLoop: channel.eventLoop) { stream in
                        stream.eventLoop.makeCompletedFuture {
                            try stream.pipeline.syncOperations.addHandler(StreamHandler(server: self))
                        }
                    }
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
            .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true)
            .get()
        state.withLock { $0.serverChannel = channel }
    }

    /// Kills the server: the listening socket and every connection closed at once (no GOAWAY, no trailers).
    /// The socket file stays, so connecting is refused until `start()` again.
    func stop() async {
        let (server, connections) = state.withLock { state in
            defer {
                state.serverChannel = nil
                state.connections = []
            }
            return (state.serverChannel, state.connections)
        }
        try? await server?.close().get()
        for connection in connections {
            try? await connection.close().get()
        }
    }

    /// Stops and releases the server's thread; removes the socket file.
    func shutdown() async {
        await stop()
        try? await group.shutdownGracefully()
        unlink(path)
    }

    // MARK: Scripting a stream (the latest one by default)

    func send(_ message: [UInt8], stream: Int? = nil) {
        sendRaw([GRPCFraming.frame(message)], stream: stream)
    }

    /// Each buffer goes out as its own DATA frame.
    func sendRaw(_ frames: [ByteBuffer], stream: Int? = nil) {
        guard let channel = channel(stream) else { return }
        for frame in frames {
            channel.write(HTTP2Frame.FramePayload.data(.init(data: .byteBuffer(frame))), promise: nil)
        }
        channel.flush()
    }

    func sendRaw(_ bytes: [[UInt8]], stream: Int? = nil) {
        sendRaw(bytes.map { ByteBuffer(bytes: $0) }, stream: stream)
    }

    /// Trailers ending the call.
    func finish(status: Int, message: String? = nil, stream: Int? = nil) {
        var trailers = HPACKHeaders([("grpc-status", "\(status)")])
        if let message { trailers.add(name: "grpc-message", value: message) }
        channel(stream)?.writeAndFlush(HTTP2Frame.FramePayload.headers(.init(headers: trailers, endStream: true)),
                                       promise: nil)
    }

    func reset(stream: Int? = nil) {
        channel(stream)?.writeAndFlush(HTTP2Frame.FramePayload.rstStream(.internalError), promise: nil)
    }

    private func channel(_ index: Int?) -> (any Channel)? {
        state.withLock { state in
            guard let index = index ?? (state.streams.isEmpty ? nil : state.streams.count - 1),
                  state.streams.indices.contains(index) else { return nil }
            return state.streams[index].channel
        }
    }

    // MARK: Called by the stream handlers (on the server's event loop)

    fileprivate func opened(headers: [String: String], channel: any Channel) -> (index: Int, mode: Mode) {
        state.withLock { state in
            state.streams.append(Stream(headers: headers, openedAt: .now, channel: channel))
            return (state.streams.count - 1, state.mode)
        }
    }

    fileprivate func received(_ message: [UInt8], stream: Int) {
        state.withLock { $0.streams[stream].messages.append(message) }
    }

    fileprivate func closed(stream: Int) {
        state.withLock { $0.streams[stream].closed = true }
    }

    private final class StreamHandler: ChannelInboundHandler {
        typealias InboundIn = HTTP2Frame.FramePayload
        typealias OutboundOut = HTTP2Frame.FramePayload

        let server: TransportTestServer
        var index: Int?
        var deframer = GRPCMessageDeframer()

        init(server: TransportTestServer) {
            self.server = server
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .headers(let headers) where index == nil:
                var fields: [String: String] = [:]
                for (name, value, _) in headers.headers { fields[name] = value }
                let (index, mode) = server.opened(headers: fields, channel: context.channel)
                self.index = index
                switch mode {
                case .respond:
                    let response = HPACKHeaders([(":status", "200"), ("content-type", "application/grpc")])
                    context.writeAndFlush(wrapOutboundOut(.headers(.init(headers: response))), promise: nil)
                case .trailersOnly(let code, let message):
                    let response = HPACKHeaders([
                        (":status", "200"), ("content-type", "application/grpc"),
                        ("grpc-status", "\(code)"), ("grpc-message", message),
                    ])
                    context.writeAndFlush(wrapOutboundOut(.headers(.init(headers: response, endStream: true))),
                                          promise: nil)
                case .silent:
                    break
                }
            case .data(let data):
                guard let index, case .byteBuffer(let buffer) = data.data else { return }
                deframer.append(buffer)
                while let message = try? deframer.next() {
                    server.received(message, stream: index)
                }
            default:
                break
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            if let index { server.closed(stream: index) }
            context.fireChannelInactive()
        }
    }
}

/// A unix-socket server that does not speak HTTP/2: it writes `greeting` (if any) to every connection and then
/// either keeps it open in silence or closes it.
final class TransportRawServer: Sendable {
    let path: String
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let serverChannel = Mutex<(any Channel)?>(nil)
    private let accepted = Mutex(0)

    init(path: String) {
        self.path = path
    }

    var connectionsAccepted: Int { accepted.withLock { $0 } }

    func start(greeting: [UInt8], closeAfterGreeting: Bool) async throws {
        let channel = try await ServerBootstrap(group: group)
            .childChannelInitializer { [self] channel in
                self.accepted.withLock { $0 += 1 }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        Greeter(greeting: greeting, closeAfterGreeting: closeAfterGreeting))
                }
            }
            .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true)
            .get()
        serverChannel.withLock { $0 = channel }
    }

    func shutdown() async {
        let channel = serverChannel.withLock { $0 }
        try? await channel?.close().get()
        try? await group.shutdownGracefully()
        unlink(path)
    }

    private final class Greeter: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let greeting: [UInt8]
        let closeAfterGreeting: Bool

        init(greeting: [UInt8], closeAfterGreeting: Bool) {
            self.greeting = greeting
            self.closeAfterGreeting = closeAfterGreeting
        }

        func channelActive(context: ChannelHandlerContext) {
            if !greeting.isEmpty {
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: greeting)), promise: nil)
            }
            if closeAfterGreeting { context.close(promise: nil) }
            context.fireChannelActive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            // Whatever the client says goes unanswered.
        }
    }
}
