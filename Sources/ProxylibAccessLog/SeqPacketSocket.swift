#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A connected unix `SOCK_SEQPACKET` socket to the access-log collector, used by the sender thread only.
/// Each `send` is one packet: the kernel takes all of it or none.
struct SeqPacketSocket: ~Copyable {
    private let fd: Int32

    /// Connects without blocking (a unix connect completes at once or fails, e.g. `EAGAIN` when the
    /// collector's accept backlog is full). Returns the socket or the `errno` of the failure.
    static func connect(to address: UnixSocketAddress) -> Result<SeqPacketSocket, SocketError> {
        guard var storage = address.storage else {
            return .failure(SocketError(operation: "connect", code: ENAMETOOLONG))
        }
        let type = Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
        let fd = socket(AF_UNIX, type, 0)
        guard fd >= 0 else { return .failure(SocketError(operation: "socket", code: errno)) }
        let result = withUnsafePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard result == 0 else {
            let code = errno
            close(fd)
            return .failure(SocketError(operation: "connect", code: code))
        }
        return .success(SeqPacketSocket(fd: fd))
    }

    private init(fd: Int32) {
        self.fd = fd
    }

    deinit {
        close(fd)
    }

    enum SendOutcome {
        /// The kernel took the packet.
        case sent
        /// No room in the socket buffer and `waitingOn` was nil.
        case wouldBlock
        /// `waitingOn` was signalled while waiting for room.
        case interrupted
        /// The kernel refused this packet (e.g. `EMSGSIZE`); the connection is still usable.
        case rejected(SocketError)
        /// The connection is broken (`EPIPE`, `ECONNRESET`, …).
        case failed(SocketError)
    }

    /// Sends `packet`. While the socket buffer is full, waits for room or for `wakeup` to be signalled
    /// (without a pipe: answers `.wouldBlock`). Never raises SIGPIPE.
    func send(_ packet: UnsafeRawBufferPointer, waitingOn wakeup: WakeupPipe?) -> SendOutcome {
        while true {
            let sent = Glibc.send(fd, packet.baseAddress, packet.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
            if sent >= 0 { return .sent }
            let code = errno
            switch code {
            case EINTR:
                continue
            case EAGAIN, EWOULDBLOCK:
                guard let wakeup else { return .wouldBlock }
                // The timeout only guards against a missed wake-up; shutdown signals the pipe.
                let woken = withUnsafeTemporaryAllocation(of: pollfd.self, capacity: 2) { descriptors in
                    descriptors[0] = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                    descriptors[1] = pollfd(fd: wakeup.pollDescriptor, events: Int16(POLLIN), revents: 0)
                    return poll(descriptors.baseAddress, 2, 1000) > 0 && descriptors[1].revents != 0
                }
                if woken {
                    wakeup.consume()
                    return .interrupted
                }
            case EMSGSIZE, ENOBUFS:
                return .rejected(SocketError(operation: "send", code: code))
            default:
                return .failed(SocketError(operation: "send", code: code))
            }
        }
    }
}

/// A unix socket path as a `sockaddr_un`, prepared once so that redialling allocates nothing.
struct UnixSocketAddress: @unchecked Sendable {
    /// nil when the path is empty, contains NUL or does not fit `sun_path`.
    let storage: sockaddr_un?

    init(path: String) {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard !bytes.isEmpty, bytes.count < MemoryLayout.size(ofValue: address.sun_path), !bytes.contains(0) else {
            storage = nil
            return
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        storage = address
    }
}

/// A failed socket call and its `errno`.
struct SocketError: Error, CustomStringConvertible {
    var operation: String
    var code: Int32

    var description: String {
        "\(operation): \(String(cString: strerror(code))) (errno \(code))"
    }
}
