#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import NIOCore

/// Short human-readable causes for log lines ("connection refused", not "IOError(errno: 111 …)").
enum NPDSErrorText {
    static func describe(_ error: any Error) -> String {
        switch error {
        case let error as IOError:
            return errnoText(error.errnoCode)
        case let error as GRPCError:
            return error.description
        case let error as ChannelError:
            switch error {
            case .connectTimeout(let amount):
                return "connect timed out after \(amount.nanoseconds / 1_000_000) ms"
            case .ioOnClosedChannel, .alreadyClosed, .outputClosed, .inputClosed:
                return "connection closed"
            case .eof:
                return "connection closed by server"
            default:
                return "\(error)"
            }
        case let error as EventLoopError:
            return "\(error)"
        case let error where String(reflecting: type(of: error)).hasPrefix("NIOHTTP2."):
            // NIOHTTP2Errors carry source locations in their descriptions; the type name says what happened.
            return "HTTP/2 protocol error (\(type(of: error)))"
        case let error as CustomStringConvertible:
            return error.description
        default:
            return String(describing: error)
        }
    }

    static func errnoText(_ code: CInt) -> String {
        guard let text = strerror(code) else { return "errno \(code)" }
        var message = String(cString: text)
        // "Connection refused" → "connection refused", to read well inside a sentence.
        if let first = message.first, first.isUppercase, message.dropFirst().first?.isLowercase ?? true {
            message = first.lowercased() + message.dropFirst()
        }
        return message
    }
}
