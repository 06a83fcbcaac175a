import NIOCore
import NIOHTTP2
import Synchronization

/// What happened to an HTTP/2 connection, readable from any thread: why it closed, for the log line.
final class HTTP2ConnectionReport: Sendable {
    private let reason = Mutex<String?>(nil)

    /// The first cause recorded (later ones are usually consequences of it).
    var closeReason: String? { reason.withLock { $0 } }

    func record(_ cause: String) {
        reason.withLock { if $0 == nil { $0 = cause } }
    }
}

/// Sits after the HTTP/2 handler on the connection channel, where NIOHTTP2 forwards the connection-level
/// frames: completes `handshake` when the server's first SETTINGS arrives (the server speaks HTTP/2), fails it
/// when the connection errors or closes first or the server stays silent for `timeout`, and records why the
/// connection ended (GOAWAY, protocol error, EOF).
final class HTTP2ConnectionWatcher: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame

    struct HandshakeError: Error, CustomStringConvertible {
        let description: String
    }

    private let handshake: EventLoopPromise<Void>
    private let report: HTTP2ConnectionReport
    private let timeout: TimeAmount
    private var timeoutTask: Scheduled<Void>?
    private var handshakeDone = false

    init(handshake: EventLoopPromise<Void>, report: HTTP2ConnectionReport, timeout: TimeAmount) {
        self.handshake = handshake
        self.report = report
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { armTimeout(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        armTimeout(context: context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.payload {
        case .settings(.settings):
            completeHandshake(.success(()))
        case .goAway(_, let errorCode, let opaqueData):
            var detail = ""
            if let opaqueData, opaqueData.readableBytes > 0 {
                let text = String(decoding: opaqueData.readableBytesView.prefix(200), as: UTF8.self)
                detail = ": \(text)"
            }
            report.record("server sent GOAWAY (\(errorCode))\(detail)")
        default:
            break
        }
        // Connection-level frames end here: nothing further down the pipeline wants them.
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let cause = NPDSErrorText.describe(error)
        report.record(cause)
        completeHandshake(.failure(HandshakeError(description: cause)))
        // The HTTP/2 handler closes the connection on connection errors itself; close on anything else.
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        report.record("connection closed by server")
        completeHandshake(.failure(HandshakeError(description: "connection closed before HTTP/2 settings")))
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        completeHandshake(.failure(HandshakeError(description: "connection closed")))
    }

    private func armTimeout(context: ChannelHandlerContext) {
        guard timeoutTask == nil, !handshakeDone else { return }
        let channel = context.channel
        let milliseconds = timeout.nanoseconds / 1_000_000
        // Closing fails the handshake through channelInactive; the report keeps the real cause.
        timeoutTask = context.eventLoop.scheduleTask(in: timeout) { [report] in
            report.record("no HTTP/2 settings from server within \(milliseconds) ms")
            channel.close(promise: nil)
        }
    }

    private func completeHandshake(_ result: Result<Void, any Error>) {
        guard !handshakeDone else { return }
        handshakeDone = true
        timeoutTask?.cancel()
        timeoutTask = nil
        handshake.completeWith(result)
    }
}
