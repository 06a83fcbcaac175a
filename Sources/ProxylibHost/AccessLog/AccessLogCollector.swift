// The access-log socket the library sends to: a unix SOCK_SEQPACKET listener, one cilium.LogEntry per packet.
// One thread polls the listener, every accepted connection and a wake-up pipe; each packet is decoded and printed
// as one line on stdout.
import Glibc

final class AccessLogCollector: @unchecked Sendable {
    let path: String
    private let json: Bool
    private let listenFD: Int32
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private var thread: pthread_t?

    /// Largest packet read whole; longer ones are reported as truncated (MSG_TRUNC).
    private static let maxPacket = 1 << 20

    /// Creates and binds the listening socket at `path`; throws a readable error.
    init(path: String, json: Bool) throws {
        self.path = path
        self.json = json
        let fd = socket(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw HostError("access-log socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard pathBytes.count < capacity else {
            close(fd)
            throw HostError("access-log socket path too long: \(path)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
            raw[pathBytes.count] = 0
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            let message = String(cString: strerror(errno))
            close(fd)
            throw HostError("access-log socket \(path): \(message)")
        }
        var pipeFDs: [Int32] = [0, 0]
        guard pipe(&pipeFDs) == 0 else {
            close(fd)
            throw HostError("pipe: \(String(cString: strerror(errno)))")
        }
        for descriptor in pipeFDs { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
        listenFD = fd
        wakeRead = pipeFDs[0]
        wakeWrite = pipeFDs[1]
    }

    deinit {
        close(listenFD)
        close(wakeRead)
        close(wakeWrite)
    }

    /// Starts the reading thread.
    func start() throws {
        var tid = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        let rc = pthread_create(&tid, nil, { context in
            let collector = Unmanaged<AccessLogCollector>.fromOpaque(context!).takeRetainedValue()
            collector.run()
            return nil
        }, context)
        guard rc == 0 else {
            Unmanaged<AccessLogCollector>.fromOpaque(context).release()
            throw HostError("cannot start the access-log thread: \(String(cString: strerror(rc)))")
        }
        thread = tid
    }

    /// Stops the thread (after it has printed what is already queued on the sockets) and removes the socket file.
    func stop() {
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
        if let thread {
            pthread_join(thread, nil)
            self.thread = nil
        }
        unlink(path)
    }

    private func run() {
        var clients: [Int32] = []
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.maxPacket, alignment: 16)
        defer {
            buffer.deallocate()
            clients.forEach { close($0) }
        }
        var stopping = false
        while true {
            // Once asked to stop, the wake-up pipe is left out (it stays readable) and the sockets are drained.
            var fds = [pollfd(fd: stopping ? -1 : wakeRead, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0)]
            fds += clients.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let n = poll(&fds, nfds_t(fds.count), stopping ? 0 : -1)
            if n < 0 {
                if errno == EINTR { continue }
                Console.err("access-log: poll: \(String(cString: strerror(errno)))")
                return
            }
            if n == 0 && stopping { return }
            if fds[0].revents != 0 { stopping = true }
            if fds[1].revents & Int16(POLLIN) != 0 {
                let client = accept(listenFD, nil, nil)
                if client >= 0 {
                    _ = fcntl(client, F_SETFD, FD_CLOEXEC)
                    clients.append(client)
                }
            }
            var closed: Set<Int32> = []
            for entry in fds.dropFirst(2) where entry.revents != 0 {
                if !readPacket(from: entry.fd, into: buffer) { closed.insert(entry.fd) }
            }
            if !closed.isEmpty {
                closed.forEach { close($0) }
                clients.removeAll { closed.contains($0) }
            }
        }
    }

    /// Reads and prints one packet; false when the peer has gone.
    private func readPacket(from fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        let n = recv(fd, buffer.baseAddress, buffer.count, Int32(MSG_TRUNC) | Int32(MSG_DONTWAIT))
        if n < 0 {
            return errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK
        }
        if n == 0 { return false }
        if n > buffer.count {
            Console.err("access-log: dropped a \(n)-byte packet (longer than \(buffer.count) bytes)")
            return true
        }
        guard let record = AccessLogRecord(packet: UnsafeRawBufferPointer(rebasing: buffer[0..<n])) else {
            Console.err("access-log: a \(n)-byte packet is not a cilium.LogEntry")
            return true
        }
        Console.out(json ? record.jsonLine : record.textLine)
        return true
    }
}
