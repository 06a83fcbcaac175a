// One proxied connection: client channel, upstream channel and the CDatapath connection between them.
//
// Everything here runs on the event loop both channels share (a dp_conn must never be used from two threads).
// Client bytes go through dp_filter_on_data (output to the upstream, and injected replies to the client);
// upstream bytes go through dp_filter_on_write (output to the client). An end of stream from one peer is run
// through the datapath with end_stream set, then the other peer's output is shut down once everything written to
// it has gone out. Any non-OK result closes both sides. The dp_conn is freed when both channels are closed.
import CDatapath
import NIOCore
import NIOPosix

/// What every connection of a listener shares.
struct ProxyConfig: Sendable {
    let module: ProxylibModule
    let parser: String
    let ingress: Bool
    let srcID: UInt32
    let dstID: UInt32
    let upstream: SocketAddress
    /// The upstream's `ip:port` (the connection's destination address).
    let upstreamText: String
    /// The policy name connections use: the upstream's IP, the endpoint the policy server serves.
    let policyName: String
    let debug: Bool
}

/// The datapath's debug lines (`--debug`), tagged with the connection id carried in the context pointer.
private let datapathDebugLog: dp_log_fn = { context, message in
    let id = UInt(bitPattern: context)
    Console.err("debug: connection \(id): \(message.map { String(cString: $0) } ?? "")")
}

final class ProxyConnection {
    enum Side: Sendable, CustomStringConvertible {
        case client, upstream
        var description: String { self == .client ? "client" : "upstream" }
    }

    let config: ProxyConfig
    let id: UInt64
    let client: Channel
    let upstream: Channel
    private let label: String

    private var datapath: OpaquePointer?
    private let toServer: UnsafeMutablePointer<dp_buf>
    private let toClient: UnsafeMutablePointer<dp_buf>

    /// End of stream from that peer has been run through the datapath.
    private var clientEnded = false
    private var upstreamEnded = false
    /// The channel is closed (channelInactive).
    private var clientClosed = false
    private var upstreamClosed = false
    private var aborted = false
    /// Both channels are closed and the datapath connection is freed.
    private var finished = false
    /// The last write to each channel: its output is shut down only after that has completed.
    private var lastWriteToClient: EventLoopFuture<Void>?
    private var lastWriteToUpstream: EventLoopFuture<Void>?

    /// Opens the datapath connection for an accepted client whose upstream connection is up, and wires both
    /// channels. Must run on their (common) event loop. Throws when OnNewConnection refuses the connection; the
    /// upstream channel is then closed (the caller's failure closes the client).
    @discardableResult
    static func start(config: ProxyConfig, id: UInt64, client: Channel, upstream: Channel) throws -> ProxyConnection {
        client.eventLoop.preconditionInEventLoop()
        // A datapath connection must never be driven from two threads: refuse rather than risk it.
        guard client.eventLoop === upstream.eventLoop else {
            upstream.close(promise: nil)
            throw HostError("connection \(id): client and upstream channels are on different event loops")
        }
        let source = client.remoteAddress?.proxylibString ?? "0.0.0.0:0"
        var options = dp_conn_options()
        if config.debug {
            options.log = datapathDebugLog
            options.log_ctx = UnsafeMutableRawPointer(bitPattern: UInt(id))
        }
        var conn: OpaquePointer?
        let result = dp_conn_new_ex(
            config.module.library, config.module.instanceID, config.parser, id, config.ingress ? 1 : 0,
            config.srcID, config.dstID, source, config.upstreamText, config.policyName, &options, &conn)
        guard result == FILTER_OK, let conn else {
            Console.err("connection \(id) \(source) -> \(config.upstreamText): refused by OnNewConnection: \(resultName(result))")
            upstream.close(promise: nil)
            throw HostError("OnNewConnection: \(resultName(result))")
        }
        let connection = ProxyConnection(config: config, id: id, client: client, upstream: upstream, datapath: conn,
                                         label: "connection \(id) \(source) -> \(config.upstreamText)")
        do {
            try client.pipeline.syncOperations.addHandler(ProxySideHandler(side: .client, connection: connection))
            try upstream.pipeline.syncOperations.addHandler(ProxySideHandler(side: .upstream, connection: connection))
            try upstream.syncOptions?.setOption(ChannelOptions.autoRead, value: true)
        } catch {
            connection.abort("setting up the channels failed: \(error)")
            throw error
        }
        if config.debug { Console.err("debug: \(connection.label): opened") }
        return connection
    }

    private init(config: ProxyConfig, id: UInt64, client: Channel, upstream: Channel, datapath: OpaquePointer,
                 label: String) {
        self.config = config
        self.id = id
        self.client = client
        self.upstream = upstream
        self.datapath = datapath
        self.label = label
        toServer = .allocate(capacity: 1)
        toServer.initialize(to: dp_buf())
        toClient = .allocate(capacity: 1)
        toClient.initialize(to: dp_buf())
    }

    deinit {
        release()
        toServer.deinitialize(count: 1)
        toServer.deallocate()
        toClient.deinitialize(count: 1)
        toClient.deallocate()
    }

    /// Frees the datapath connection (Close at the library) and the output buffers.
    private func release() {
        if let datapath {
            dp_conn_free(datapath)
            self.datapath = nil
            dp_buf_free(toServer)
            dp_buf_free(toClient)
        }
    }

    // MARK: Events from the two channels

    func received(_ buffer: ByteBuffer, from side: Side) {
        run(buffer, from: side, endStream: false)
    }

    /// The peer on `side` has sent its end of stream (or closed without us seeing one).
    func ended(_ side: Side) {
        switch side {
        case .client:
            guard !clientEnded else { return }
            clientEnded = true
        case .upstream:
            guard !upstreamEnded else { return }
            upstreamEnded = true
        }
        guard !aborted else { return }
        run(nil, from: side, endStream: true)
        guard !aborted else { return }
        if config.debug { Console.err("debug: \(label): end of stream from the \(side)") }
        switch side {
        case .client: shutdownOutput(upstream, after: lastWriteToUpstream)
        case .upstream: shutdownOutput(client, after: lastWriteToClient)
        }
    }

    func inactive(_ side: Side) {
        switch side {
        case .client: clientClosed = true
        case .upstream: upstreamClosed = true
        }
        // A peer whose FIN arrived after our own output was shut down closes the channel without an inputClosed
        // event: that is still its end of stream.
        if !aborted { ended(side) }
        if clientClosed && upstreamClosed && !finished {
            finished = true
            release()
            if config.debug { Console.err("debug: \(label): closed (last: \(side))") }
        }
    }

    func writabilityChanged(_ side: Side, writable: Bool) {
        // Backpressure: stop reading from the peer that feeds a channel that cannot take more.
        let source = side == .client ? upstream : client
        try? source.syncOptions?.setOption(ChannelOptions.autoRead, value: writable)
    }

    func failed(_ side: Side, _ error: Error) {
        abort("\(side) error: \(describe(error))")
    }

    /// Closes both sides now.
    func abort(_ reason: String) {
        guard !aborted else { return }
        aborted = true
        if config.debug || !(clientEnded && upstreamEnded) {
            Console.err("\(label): closed: \(reason)")
        }
        if let datapath { dp_conn_close(datapath) }
        client.close(promise: nil)
        upstream.close(promise: nil)
    }

    // MARK: Datapath

    private func run(_ buffer: ByteBuffer?, from side: Side, endStream: Bool) {
        guard !aborted, let datapath else { return }
        dp_buf_truncate(toServer, 0)
        dp_buf_truncate(toClient, 0)
        let eos: Int32 = endStream ? 1 : 0
        let call = { (bytes: UnsafePointer<UInt8>?, count: Int) -> FilterResult in
            switch side {
            case .client: return dp_filter_on_data(datapath, bytes, count, eos, self.toServer, self.toClient)
            case .upstream: return dp_filter_on_write(datapath, bytes, count, eos, self.toClient)
            }
        }
        let result: FilterResult
        if let buffer {
            result = buffer.withUnsafeReadableBytes { raw in
                call(raw.baseAddress?.assumingMemoryBound(to: UInt8.self), raw.count)
            }
        } else {
            result = call(nil, 0)
        }
        guard result == FILTER_OK else {
            abort("datapath result \(resultName(result)) on \(side == .client ? "client" : "upstream") data")
            return
        }
        if let write = send(toServer, to: upstream) { lastWriteToUpstream = write }
        if let write = send(toClient, to: client) { lastWriteToClient = write }
    }

    private func send(_ output: UnsafeMutablePointer<dp_buf>, to channel: Channel) -> EventLoopFuture<Void>? {
        let count = output.pointee.len
        guard count > 0, let data = output.pointee.data else { return nil }
        var buffer = channel.allocator.buffer(capacity: count)
        buffer.writeBytes(UnsafeRawBufferPointer(start: data, count: count))
        return channel.writeAndFlush(buffer)
    }

    private func shutdownOutput(_ channel: Channel, after write: EventLoopFuture<Void>?) {
        guard let write else {
            channel.close(mode: .output, promise: nil)
            return
        }
        write.assumeIsolated().whenComplete { _ in channel.close(mode: .output, promise: nil) }
    }
}

/// Feeds one channel's events to its ProxyConnection.
final class ProxySideHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    let side: ProxyConnection.Side
    let connection: ProxyConnection

    init(side: ProxyConnection.Side, connection: ProxyConnection) {
        self.side = side
        self.connection = connection
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        connection.received(unwrapInboundIn(data), from: side)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            connection.ended(side)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        connection.inactive(side)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        connection.writabilityChanged(side, writable: context.channel.isWritable)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        connection.failed(side, error)
    }
}

@available(*, unavailable)
extension ProxySideHandler: Sendable {}
