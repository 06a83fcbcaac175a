// Line output without stdio buffering: each line is one write(2), so lines from different threads never mix
// and every line is on its way as soon as it is printed (also when stdout is a pipe).
import Glibc
import NIOCore

enum Console {
    /// Writes `line` and a newline to standard output (access-log lines).
    static func out(_ line: String) { write(fd: 1, line) }

    /// Writes `line` and a newline to standard error (status, policy reports, errors, debug).
    static func err(_ line: String) { write(fd: 2, line) }

    private static func write(fd: Int32, _ line: String) {
        var bytes = Array(line.utf8)
        bytes.append(UInt8(ascii: "\n"))
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return
                }
                offset += n
            }
        }
    }
}

/// A short text for a socket error: the system's message for an errno, NIO's description otherwise.
func describe(_ error: Error) -> String {
    if let error = error as? IOError { return String(cString: strerror(error.errnoCode)) }
    if let error = error as? ChannelError, case .connectTimeout(let timeout) = error {
        return "connect timed out after \(timeout.nanoseconds / 1_000_000) ms"
    }
    return "\(error)"
}
