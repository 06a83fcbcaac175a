// The listener: accepts clients, connects each to the upstream on the client's own event loop, and hands both
// channels to a ProxyConnection.
import CDatapath
import NIOCore
import NIOPosix
import Glibc
import Synchronization

final class ProxyServer: Sendable {
    let config: ProxyConfig
    let group: MultiThreadedEventLoopGroup
    private let nextID = Atomic<UInt64>(0)
    private let serverChannel = Mutex<Channel?>(nil)

    init(config: ProxyConfig, threads: Int = System.coreCount) {
        self.config = config
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads))
    }

    /// The next connection id (1, 2, …), unique for the life of the host.
    func newConnectionID() -> UInt64 {
        nextID.add(1, ordering: .relaxed).newValue
    }

    /// Checks at start-up that the library knows the parser: opens a probe connection and closes it again.
    func probeParser() throws {
        var conn: OpaquePointer?
        let result = dp_conn_new(
            config.module.library, config.module.instanceID, config.parser, newConnectionID(), config.ingress ? 1 : 0,
            config.srcID, config.dstID, "127.0.0.1:1", config.upstreamText, config.policyName, &conn)
        if let conn { dp_conn_free(conn) }
        switch result {
        case FILTER_OK, FILTER_POLICY_DROP:
            return
        case FILTER_UNKNOWN_PARSER:
            throw HostError("unknown parser '\(config.parser)' (OnNewConnection: UNKNOWN_PARSER)")
        default:
            throw HostError("parser '\(config.parser)' cannot open connections (OnNewConnection: \(resultName(result)))")
        }
    }

    /// Binds the listener; throws a readable error (e.g. the port is in use).
    func start(listen: SocketAddress, listenText: String) throws -> SocketAddress? {
        let config = self.config
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [self] client in
                let id = self.newConnectionID()
                return ClientBootstrap(group: client.eventLoop)
                    .connectTimeout(.seconds(5))
                    .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
                    .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
                    .channelOption(ChannelOptions.autoRead, value: false)
                    .connect(to: config.upstream)
                    .flatMapErrorThrowing { error in
                        let source = client.remoteAddress?.proxylibString ?? "?"
                        Console.err("connection \(id) \(source) -> \(config.upstreamText): upstream connect failed: \(describe(error))")
                        throw error
                    }
                    .flatMapThrowing { upstream in
                        _ = try ProxyConnection.start(config: config, id: id, client: client, upstream: upstream)
                    }
            }
        let channel: Channel
        do {
            channel = try bootstrap.bind(to: listen).wait()
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            throw HostError("cannot listen on \(listenText): address already in use")
        } catch {
            throw HostError("cannot listen on \(listenText): \(error)")
        }
        serverChannel.withLock { $0 = channel }
        return channel.localAddress
    }

    /// Closes the listener and every connection, then stops the event loops.
    func stop() {
        let channel = serverChannel.withLock { channel in
            defer { channel = nil }
            return channel
        }
        try? channel?.close().wait()
        try? group.syncShutdownGracefully()
    }
}
