/// Why a gRPC call on the NPDS stream ended badly: what the server sent that we cannot take, or the status it
/// ended the call with. Every case reads as the tail of a log line ("NPDS: stream on /path failed: …").
public enum GRPCError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A message with the compressed flag set: we never offer an encoding, so the server must not use one.
    case compressedMessage
    /// A message whose flag byte is neither 0 nor 1.
    case invalidMessageFlag(UInt8)
    /// A length prefix above the limit (guards against a garbage or hostile prefix pinning memory).
    case messageTooLarge(length: UInt32, limit: Int)
    /// The stream ended with part of a message still buffered.
    case truncatedMessage(bufferedBytes: Int)
    /// Response headers without `:status`, or with a status other than 200.
    case badHTTPStatus(String?)
    /// Response headers whose content-type is not `application/grpc[+…|;…]`.
    case badContentType(String?)
    /// DATA before the response headers, a second set of headers that does not end the stream, …
    case unexpectedFrame(String)
    /// Trailers without `grpc-status`, or with one that is not a number.
    case invalidGRPCStatus(String?)
    /// The call ended with a non-zero `grpc-status`; `message` is the percent-decoded `grpc-message`.
    case status(code: Int, message: String)
    /// The server reset the stream (RST_STREAM).
    case streamReset(String)
    /// The stream ended (end-of-stream on DATA, or the stream channel closed) without trailers.
    case closedWithoutStatus

    public var description: String {
        switch self {
        case .compressedMessage:
            return "server sent a compressed message (compression is not supported)"
        case .invalidMessageFlag(let flag):
            return "server sent a message with invalid flag byte \(flag)"
        case .messageTooLarge(let length, let limit):
            return "server sent a message of \(length) bytes (limit \(limit))"
        case .truncatedMessage(let bytes):
            return "stream ended inside a message (\(bytes) bytes buffered)"
        case .badHTTPStatus(let status):
            return "unexpected HTTP status \(status ?? "(none)")"
        case .badContentType(let type):
            return "unexpected content-type \(type ?? "(none)")"
        case .unexpectedFrame(let what):
            return "protocol error: \(what)"
        case .invalidGRPCStatus(let raw):
            return raw.map { "invalid grpc-status \"\($0)\"" } ?? "trailers without grpc-status"
        case .status(let code, let message):
            let name = GRPCStatusCode.name(of: code)
            return message.isEmpty ? "grpc-status \(code) (\(name))" : "grpc-status \(code) (\(name)): \(message)"
        case .streamReset(let code):
            return "stream reset by server (\(code))"
        case .closedWithoutStatus:
            return "stream closed by server without grpc-status"
        }
    }
}

/// gRPC status code names, for log lines only.
enum GRPCStatusCode {
    static let ok = 0

    static func name(of code: Int) -> String {
        switch code {
        case 0: return "OK"
        case 1: return "CANCELLED"
        case 2: return "UNKNOWN"
        case 3: return "INVALID_ARGUMENT"
        case 4: return "DEADLINE_EXCEEDED"
        case 5: return "NOT_FOUND"
        case 6: return "ALREADY_EXISTS"
        case 7: return "PERMISSION_DENIED"
        case 8: return "RESOURCE_EXHAUSTED"
        case 9: return "FAILED_PRECONDITION"
        case 10: return "ABORTED"
        case 11: return "OUT_OF_RANGE"
        case 12: return "UNIMPLEMENTED"
        case 13: return "INTERNAL"
        case 14: return "UNAVAILABLE"
        case 15: return "DATA_LOSS"
        case 16: return "UNAUTHENTICATED"
        default: return "code \(code)"
        }
    }
}
