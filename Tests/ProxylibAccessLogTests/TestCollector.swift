import Glibc
import Synchronization

/// An access-log collector like the Cilium agent's: a unix SOCK_SEQPACKET server that reads one
/// `cilium.LogEntry` per packet and decodes it with protobuf-c. It runs on its own thread; it can pause
/// reading (a stuck collector) and be stopped (a dead one: the listener and every connection are closed).
final class TestCollector: Sendable {
    let path: String
    private let state = Mutex(State())
    private let stopping = Atomic<Bool>(false)
    private let paused = Atomic<Bool>(false)
    private let hangingUp = Atomic<Bool>(false)
    private let thread = Mutex<TestThread?>(nil)

    private struct State {
        var packets: [[UInt8]] = []
        var entries: [DecodedLogEntry] = []
        var undecodable = 0
        var connectionsAccepted = 0
    }

    struct SetupError: Error, CustomStringConvertible {
        var call: String
        var code: Int32
        var description: String { "\(call): errno \(code)" }
    }

    init(path: String) {
        self.path = path
    }

    /// Binds and listens at `path`, then serves on a thread until `stop()`.
    @discardableResult
    func start() throws -> TestCollector {
        unlink(path)
        let listener = socket(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard listener >= 0 else { throw SetupError(call: "socket", code: errno) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0 else {
            close(listener)
            throw SetupError(call: "bind", code: errno)
        }
        guard listen(listener, 16) == 0 else {
            close(listener)
            throw SetupError(call: "listen", code: errno)
        }
        stopping.store(false, ordering: .sequentiallyConsistent)
        thread.withLock { $0 = TestThread.start { [self] in serve(listener: listener) } }
        return self
    }

    /// Kills the collector: closes the listener and every accepted connection (unread packets are lost),
    /// removes the socket file.
    func stop() {
        stopping.store(true, ordering: .sequentiallyConsistent)
        thread.withLock { thread in
            thread?.join()
            thread = nil
        }
        unlink(path)
    }

    func pauseReading() { paused.store(true, ordering: .sequentiallyConsistent) }
    /// While set, every accepted connection is closed at once.
    func hangUpOnAccept(_ enabled: Bool) { hangingUp.store(enabled, ordering: .sequentiallyConsistent) }
    func resumeReading() { paused.store(false, ordering: .sequentiallyConsistent) }

    var entries: [DecodedLogEntry] { state.withLock { $0.entries } }
    var packets: [[UInt8]] { state.withLock { $0.packets } }
    var count: Int { state.withLock { $0.entries.count + $0.undecodable } }
    var undecodable: Int { state.withLock { $0.undecodable } }
    var connectionsAccepted: Int { state.withLock { $0.connectionsAccepted } }

    /// Waits until at least `count` packets arrived.
    func waitFor(_ count: Int, timeout: Duration = .seconds(5)) async -> Bool {
        await eventually(timeout: timeout) { self.count >= count }
    }

    // MARK: The server thread

    private func serve(listener: Int32) {
        var connections: [Int32] = []
        var buffer = [UInt8](repeating: 0, count: 256 * 1024)
        defer {
            connections.forEach { close($0) }
            close(listener)
        }
        while !stopping.load(ordering: .sequentiallyConsistent) {
            let reading = !paused.load(ordering: .sequentiallyConsistent)
            var descriptors = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0)]
            if reading {
                descriptors += connections.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            }
            guard poll(&descriptors, nfds_t(descriptors.count), 10) > 0 else { continue }
            if descriptors[0].revents != 0 {
                let connection = accept(listener, nil, nil)
                if connection >= 0 && hangingUp.load(ordering: .sequentiallyConsistent) {
                    close(connection)
                    state.withLock { $0.connectionsAccepted += 1 }
                } else if connection >= 0 {
                    _ = fcntl(connection, F_SETFL, fcntl(connection, F_GETFL) | O_NONBLOCK)
                    connections.append(connection)
                    state.withLock { $0.connectionsAccepted += 1 }
                }
            }
            for descriptor in descriptors.dropFirst() where descriptor.revents != 0 {
                if !drain(descriptor.fd, buffer: &buffer) {
                    close(descriptor.fd)
                    connections.removeAll { $0 == descriptor.fd }
                }
            }
        }
    }

    /// Reads every pending packet; false when the peer closed the connection.
    private func drain(_ fd: Int32, buffer: inout [UInt8]) -> Bool {
        while true {
            let received = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if received > 0 {
                let packet = Array(buffer[0..<received])
                let entry = DecodedLogEntry.decode(packet)
                state.withLock { state in
                    state.packets.append(packet)
                    if let entry { state.entries.append(entry) } else { state.undecodable += 1 }
                }
                continue
            }
            if received == 0 { return false }
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR
        }
    }
}
