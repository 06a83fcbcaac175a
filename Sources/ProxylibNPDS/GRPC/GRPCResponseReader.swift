import NIOCore
import NIOHPACK
import NIOHTTP2

/// The response side of one gRPC call, frame by frame. Pure: feed it the stream's inbound frame payloads and it
/// answers the messages they complete; once the call is over, `end` says how.
///
/// Accepted sequences (PROTOCOL-HTTP2.md):
///   HEADERS(:status 200, content-type application/grpc…)  DATA*  HEADERS(grpc-status…, END_STREAM)
///   HEADERS(:status, content-type, grpc-status…, END_STREAM)          (trailers-only)
/// Anything else ends the call with an error. `receive(_:)` never throws: an error becomes `end`, after the
/// messages completed before it.
struct GRPCResponseReader {
    enum End: Equatable, Sendable {
        /// Trailers with grpc-status 0.
        case ok
        case failed(GRPCError)
    }

    private enum State {
        case awaitingHeaders
        case receivingMessages
        case ended(End)
    }

    private var state = State.awaitingHeaders
    private var deframer: GRPCMessageDeframer

    init(maximumMessageLength: Int = GRPCFraming.defaultMaximumMessageLength) {
        deframer = GRPCMessageDeframer(maximumMessageLength: maximumMessageLength)
    }

    /// How the call ended, once it has.
    var end: End? {
        if case .ended(let end) = state { return end }
        return nil
    }

    /// Response headers were received and accepted.
    var receivedHeaders: Bool {
        if case .awaitingHeaders = state { return false }
        return true
    }

    /// Processes one inbound frame payload; returns the messages it completed (in order).
    mutating func receive(_ payload: HTTP2Frame.FramePayload) -> [[UInt8]] {
        switch payload {
        case .headers(let headers):
            receiveHeaders(headers.headers, endStream: headers.endStream)
            return []
        case .data(let data):
            return receiveData(data.data, endStream: data.endStream)
        case .rstStream(let code):
            finish(.failed(.streamReset("\(code)")))
            return []
        default:
            // PRIORITY, WINDOW_UPDATE, …: flow control is the HTTP/2 layer's business.
            return []
        }
    }

    /// The stream is gone (channel closed, connection lost) without its frames having ended the call.
    mutating func streamClosed() {
        guard end == nil else { return }
        do throws(GRPCError) {
            try deframer.finish()
            finish(.failed(.closedWithoutStatus))
        } catch {
            finish(.failed(error))
        }
    }

    private mutating func receiveHeaders(_ headers: HPACKHeaders, endStream: Bool) {
        switch state {
        case .awaitingHeaders:
            do throws(GRPCError) {
                // A trailers-only response may carry an HTTP error status: report that first.
                try GRPCMetadata.validateResponseHeaders(headers)
            } catch {
                finish(.failed(error))
                return
            }
            if endStream {
                finish(GRPCMetadata.statusError(inTrailers: headers).map(End.failed) ?? .ok)
            } else {
                state = .receivingMessages
            }
        case .receivingMessages:
            guard endStream else {
                finish(.failed(.unexpectedFrame("second HEADERS without END_STREAM")))
                return
            }
            // A half message left over means the server lost track of its framing; its status says more.
            if let error = GRPCMetadata.statusError(inTrailers: headers) {
                finish(.failed(error))
            } else {
                do throws(GRPCError) {
                    try deframer.finish()
                    finish(.ok)
                } catch {
                    finish(.failed(error))
                }
            }
        case .ended:
            break
        }
    }

    private mutating func receiveData(_ data: IOData, endStream: Bool) -> [[UInt8]] {
        switch state {
        case .awaitingHeaders:
            finish(.failed(.unexpectedFrame("DATA before response headers")))
            return []
        case .ended:
            return []
        case .receivingMessages:
            break
        }
        guard case .byteBuffer(let buffer) = data else {
            // Inbound frames always carry byte buffers; a file region cannot arrive from the network.
            finish(.failed(.unexpectedFrame("DATA without bytes")))
            return []
        }
        deframer.append(buffer)
        var messages: [[UInt8]] = []
        do throws(GRPCError) {
            while let message = try deframer.next() {
                messages.append(message)
            }
        } catch {
            finish(.failed(error))
            return messages
        }
        if endStream {
            streamClosed()
        }
        return messages
    }

    private mutating func finish(_ end: End) {
        state = .ended(end)
    }
}
