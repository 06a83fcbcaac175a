#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix
import ProxylibNPDS
import Synchronization

/// An NPDS server fed from a policy file: gRPC (`/cilium.NetworkPolicyDiscoveryService/StreamNetworkPolicies`)
/// over HTTP/2 on a unix socket, serving one `cilium.NetworkPolicy` for the endpoint, and pushing a new version
/// to every stream whenever the file changes.
final class PolicyServer: Sendable {
    static let npdsPath = "/cilium.NetworkPolicyDiscoveryService/StreamNetworkPolicies"
    /// How often the file's stat is compared with the last one.
    static let pollInterval = TimeAmount.milliseconds(200)

    let file: String
    let socketPath: String
    let endpointIP: String
    let ingress: Bool
    private let report: @Sendable (String) -> Void
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let state: Mutex<State>

    /// What is served right now.
    struct Snapshot: Sendable {
        var version: Int
        var nonce: String
        /// The packed DiscoveryResponse.
        var response: [UInt8]
        /// The packed NetworkPolicy (to tell a real change from a touch).
        var policy: [UInt8]
    }

    private struct State {
        var snapshot: Snapshot
        var stamp: FileStamp?
        /// The last file problem reported, so that a broken file is reported once, not every poll.
        var lastProblem: String?
        var serverChannel: (any Channel)?
        var connections: [ObjectIdentifier: any Channel] = [:]
        var streams: [ObjectIdentifier: any Channel] = [:]
        var poll: RepeatedTask?
        var started = false
        var stopped = false
    }

    /// Serves NPDS on `socketPath` from the YAML policy `file`, for endpoint `endpointIP` (the policy name
    /// connections use), direction `ingress` (else egress); watches the file and pushes changes; `report`
    /// receives human-readable lines (ACK of version N, NACK with the library's reason, file errors).
    /// Throws a `PolicyFileError` (path:line:column: reason) for a bad file.
    init(file: String, socketPath: String, endpointIP: String, ingress: Bool,
         report: @escaping @Sendable (String) -> Void) throws {
        self.file = file
        self.socketPath = socketPath
        self.endpointIP = endpointIP
        self.ingress = ingress
        self.report = report
        let stamp = FileStamp(path: file)
        let ports = try PolicyFile.load(path: file)
        let policy = PolicyEncoder.networkPolicy(endpointIP: endpointIP, ingress: ingress, ports: ports)
        state = Mutex(State(snapshot: Self.snapshot(version: 1, policy: policy), stamp: stamp))
    }

    /// Binds the socket (replacing a stale socket file) and starts watching the file.
    func start() throws {
        guard state.withLock({ state in
            defer { state.started = true }
            return !state.started && !state.stopped
        }) else { return }
        let channel = try ServerBootstrap(group: group)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    let accepted = self.state.withLock { state in
                        guard !state.stopped else { return false }
                        state.connections[ObjectIdentifier(channel)] = channel
                        return true
                    }
                    guard accepted else { throw ChannelError.ioOnClosedChannel }
                    channel.closeFuture.whenComplete { _ in
                        _ = self.state.withLock { $0.connections.removeValue(forKey: ObjectIdentifier(channel)) }
                    }
                    let handler = NIOHTTP2Handler(mode: .server, eventLoop: channel.eventLoop) { stream in
                        stream.eventLoop.makeCompletedFuture {
                            try stream.pipeline.syncOperations.addHandler(NPDSStreamHandler(server: self))
                        }
                    }
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
            .bind(unixDomainSocketPath: socketPath, cleanupExistingSocketFile: true)
            .wait()
        let poll = group.next().scheduleRepeatedTask(initialDelay: Self.pollInterval, delay: Self.pollInterval) {
            [self] _ in checkFile()
        }
        let stopped = state.withLock { state in
            state.serverChannel = channel
            state.poll = poll
            return state.stopped
        }
        if stopped {  // stop() ran while binding
            poll.cancel()
            try? channel.close().wait()
        }
    }

    /// Ends every stream (trailers grpc-status 0), closes the connections and the socket, stops the watcher.
    /// Returns when everything is closed. Do not call it from the server's own event loop.
    func stop() {
        let (server, connections, streams, poll) = state.withLock { state in
            defer {
                state.stopped = true
                state.serverChannel = nil
                state.connections = [:]
                state.streams = [:]
                state.poll = nil
            }
            return (state.serverChannel, Array(state.connections.values), Array(state.streams.values), state.poll)
        }
        poll?.cancel()
        try? server?.close().wait()
        let loop = group.next()
        let finished = streams.map { stream in
            let promise = loop.makePromise(of: Void.self)
            stream.pipeline.fireUserInboundEventTriggered(NPDSStreamHandler.Finish(promise: promise))
            return promise.futureResult
        }
        // The trailers are small: they are out at once, or the connection is already gone.
        let done = loop.makePromise(of: Void.self)
        EventLoopFuture.whenAllComplete(finished, on: loop).whenComplete { _ in done.succeed() }
        let deadline = loop.scheduleTask(in: .milliseconds(500)) { done.succeed() }
        try? done.futureResult.wait()
        deadline.cancel()
        for connection in connections {
            try? connection.close().wait()
        }
        try? group.syncShutdownGracefully()
        if server != nil { unlink(socketPath) }
    }

    // MARK: Called by the stream handlers (on the event loop)

    var currentSnapshot: Snapshot { state.withLock { $0.snapshot } }

    /// Registers a stream for updates; false when the server is stopping.
    func streamOpened(_ channel: any Channel) -> Bool {
        state.withLock { state in
            guard !state.stopped else { return false }
            state.streams[ObjectIdentifier(channel)] = channel
            return true
        }
    }

    func streamClosed(_ channel: any Channel) {
        _ = state.withLock { $0.streams.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    /// A request answering one of our responses: an ACK or a NACK of the version its nonce names.
    func answered(_ request: PolicyEncoder.Request) {
        guard let version = Self.version(ofNonce: request.responseNonce) else {
            report("NPDS: request with an unknown nonce \"\(request.responseNonce)\" ignored")
            return
        }
        if let error = request.errorMessage {
            report("policy version \(version) REJECTED by the library: \(error)")
        } else {
            report("policy version \(version) accepted")
        }
    }

    func log(_ line: String) { report(line) }

    // MARK: Private

    private static func snapshot(version: Int, policy: [UInt8]) -> Snapshot {
        let nonce = "nonce-\(version)"
        let response = PolicyEncoder.discoveryResponse(version: String(version), nonce: nonce, policy: policy)
        return Snapshot(version: version, nonce: nonce, response: response, policy: policy)
    }

    private static func version(ofNonce nonce: String) -> Int? {
        guard nonce.hasPrefix("nonce-") else { return nil }
        return Int(nonce.dropFirst("nonce-".count))
    }

    /// Polled on the event loop: re-reads the file when its stat changed, and pushes a new version.
    private func checkFile() {
        let stamp = FileStamp(path: file)
        let unchanged = state.withLock { state in
            if state.stopped || state.stamp == stamp { return true }
            state.stamp = stamp
            return false
        }
        guard !unchanged else { return }

        let problem: String
        do {
            let ports = try PolicyFile.load(path: file)
            let policy = PolicyEncoder.networkPolicy(endpointIP: endpointIP, ingress: ingress, ports: ports)
            let update = state.withLock { state -> (version: Int, streams: [any Channel])? in
                state.lastProblem = nil
                guard policy != state.snapshot.policy else { return nil }
                state.snapshot = Self.snapshot(version: state.snapshot.version + 1, policy: policy)
                return (state.snapshot.version, Array(state.streams.values))
            }
            guard let update else { return }
            report("policy file \(file) changed: serving policy version \(update.version) to \(update.streams.count) stream(s)")
            for stream in update.streams {
                stream.pipeline.fireUserInboundEventTriggered(NPDSStreamHandler.PolicyChanged())
            }
            return
        } catch {
            problem = error.description
        }
        let (repeated, version) = state.withLock { state in
            defer { state.lastProblem = problem }
            return (state.lastProblem == problem, state.snapshot.version)
        }
        if !repeated {
            report("policy file error: \(problem) (still serving policy version \(version))")
        }
    }
}

/// What tells a changed file from an unchanged one without reading it.
struct FileStamp: Equatable, Sendable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var modifiedSeconds: Int
    var modifiedNanoseconds: Int

    /// nil when the file cannot be stat()ed (then the next successful stat is a change).
    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        size = Int64(info.st_size)
        modifiedSeconds = Int(info.st_mtim.tv_sec)
        modifiedNanoseconds = Int(info.st_mtim.tv_nsec)
    }
}

/// One NPDS call (an HTTP/2 stream): response headers at once, the current policy on the first request, a new
/// response on every change, ACK/NACK reports, trailers when the client half-closes or the server stops.
private final class NPDSStreamHandler: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    /// The policy changed: send the new version (if the stream has asked for policies).
    struct PolicyChanged: Sendable {}
    /// The server stops: end the call.
    struct Finish: Sendable {
        let promise: EventLoopPromise<Void>
    }

    private let server: PolicyServer
    private var deframer = GRPCMessageDeframer()
    private var headersReceived = false
    private var ended = false
    /// The version last sent on this stream; nil before the first request.
    private var sentVersion: Int?

    init(server: PolicyServer) {
        self.server = server
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !ended else { return }
        switch unwrapInboundIn(data) {
        case .headers(let headers) where !headersReceived:
            headersReceived = true
            let path = headers.headers.first(name: ":path")
            guard path == PolicyServer.npdsPath else {
                endCall(context: context, status: 12, message: "unknown method \(path ?? "(none)")", headersSent: false)
                return
            }
            guard server.streamOpened(context.channel) else {
                endCall(context: context, status: 14, message: "server is shutting down", headersSent: false)
                return
            }
            let response = HPACKHeaders([(":status", "200"), ("content-type", "application/grpc")])
            context.writeAndFlush(wrapOutboundOut(.headers(.init(headers: response))), promise: nil)
            if headers.endStream { endCall(context: context, status: 0, message: nil, headersSent: true) }
        case .headers(let trailers):
            // Request trailers: the client is done.
            if trailers.endStream { endCall(context: context, status: 0, message: nil, headersSent: true) }
        case .data(let frame):
            guard headersReceived, case .byteBuffer(let bytes) = frame.data else { return }
            deframer.append(bytes)
            do {
                while let message = try deframer.next() {
                    handle(message, context: context)
                    if ended { return }
                }
            } catch {
                server.log("NPDS: bad request stream: \(error)")
                endCall(context: context, status: 13, message: "\(error)", headersSent: true)
                return
            }
            if frame.endStream { endCall(context: context, status: 0, message: nil, headersSent: true) }
        default:
            break
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case is PolicyChanged:
            guard !ended, let sentVersion, server.currentSnapshot.version != sentVersion else { return }
            sendCurrent(context: context)
        case let finish as Finish:
            if ended {
                finish.promise.succeed()
            } else {
                endCall(context: context, status: 0, message: nil, headersSent: headersReceived, promise: finish.promise)
            }
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        ended = true
        server.streamClosed(context.channel)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        ended = true
        server.streamClosed(context.channel)
        context.close(promise: nil)
    }

    private func handle(_ message: [UInt8], context: ChannelHandlerContext) {
        guard let request = PolicyEncoder.decodeRequest(message) else {
            server.log("NPDS: malformed DiscoveryRequest (\(message.count) bytes)")
            endCall(context: context, status: 3, message: "malformed DiscoveryRequest", headersSent: true)
            return
        }
        if !request.responseNonce.isEmpty {
            server.answered(request)
        }
        if sentVersion == nil {
            if !request.typeURL.isEmpty && request.typeURL != PolicyEncoder.typeURL {
                server.log("NPDS: stream asks for \(request.typeURL); serving \(PolicyEncoder.typeURL) anyway")
            }
            sendCurrent(context: context)
        } else if server.currentSnapshot.version != sentVersion {
            sendCurrent(context: context)
        }
    }

    private func sendCurrent(context: ChannelHandlerContext) {
        let snapshot = server.currentSnapshot
        sentVersion = snapshot.version
        let frame = GRPCFraming.frame(snapshot.response, allocator: context.channel.allocator)
        context.writeAndFlush(wrapOutboundOut(.data(.init(data: .byteBuffer(frame)))), promise: nil)
    }

    /// Ends the call with `grpc-status` (in trailers, or a trailers-only response before the headers).
    private func endCall(context: ChannelHandlerContext, status: Int, message: String?, headersSent: Bool,
                         promise: EventLoopPromise<Void>? = nil) {
        ended = true
        server.streamClosed(context.channel)
        var trailers = HPACKHeaders()
        if !headersSent {
            trailers.add(name: ":status", value: "200")
            trailers.add(name: "content-type", value: "application/grpc")
        }
        trailers.add(name: "grpc-status", value: String(status))
        if let message { trailers.add(name: "grpc-message", value: Self.percentEncoded(message)) }
        context.writeAndFlush(wrapOutboundOut(.headers(.init(headers: trailers, endStream: true))), promise: promise)
    }

    /// `grpc-message` encoding: bytes outside printable ASCII, and '%', as %XX.
    private static func percentEncoded(_ text: String) -> String {
        var output = ""
        for byte in text.utf8 {
            if byte >= 0x20 && byte <= 0x7E && byte != UInt8(ascii: "%") {
                output.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                let hex = String(byte, radix: 16, uppercase: true)
                output += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return output
    }
}
