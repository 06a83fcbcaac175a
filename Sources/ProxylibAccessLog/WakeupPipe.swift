#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Wakes the sender thread from `poll`: a non-blocking self-pipe. A signal stays pending until consumed,
/// so one sent before the thread starts waiting is not lost.
final class WakeupPipe: Sendable {
    private let readEnd: Int32
    private let writeEnd: Int32

    init?() {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { return nil }
        for fd in ends {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        readEnd = ends[0]
        writeEnd = ends[1]
    }

    deinit {
        close(readEnd)
        close(writeEnd)
    }

    /// The descriptor to poll for `POLLIN`.
    var pollDescriptor: Int32 { readEnd }

    /// Wakes the waiter (a full pipe means a wake-up is already pending).
    func signal() {
        var byte: UInt8 = 1
        while write(writeEnd, &byte, 1) < 0 && errno == EINTR {}
    }

    /// Clears pending wake-ups.
    func consume() {
        var bytes: (UInt64, UInt64) = (0, 0)
        while true {
            let n = withUnsafeMutableBytes(of: &bytes) { read(readEnd, $0.baseAddress, $0.count) }
            if n > 0 || (n < 0 && errno == EINTR) { continue }
            return
        }
    }

    /// Waits up to `milliseconds` (-1: without limit) for a wake-up; true when there was one (consumed).
    @discardableResult
    func wait(milliseconds: Int32) -> Bool {
        var descriptor = pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&descriptor, 1, milliseconds)
        guard ready > 0 else { return false }
        consume()
        return true
    }
}
