import ProxylibCore

/// Bytes the parser sends in a direction's stream, written into that direction's inject buffer whole frames
/// at a time where they fit, the rest later.
///
/// Towards the client, denials are written from the request direction into the reply inject buffer, which
/// holds 1 KiB; what does not fit waits here and the reply direction writes it at its next frame (or segment)
/// boundary, in pieces if need be (the datapath flushes a full buffer and calls again). Towards the server
/// (protocol v5), a segment re-emitted without its denied frames goes out the same way.
struct InjectionQueue {
    /// More than this waiting means the peer sends faster than it reads its answers: the connection closes.
    static let limit = 1 << 20

    private var bytes: [UInt8] = []
    private var sent = 0

    var isEmpty: Bool { sent >= bytes.count }

    /// Queues `frame` (whole) for `reply`'s inject buffer, writing it at once when nothing waits and it fits.
    /// False when the queue would exceed its limit.
    mutating func enqueue(_ frame: UnsafeRawBufferPointer, reply: Bool, connection: Connection) -> Bool {
        if isEmpty && connection.injectSpace(reply: reply) >= frame.count {
            connection.inject(reply: reply, frame)
            return true
        }
        if isEmpty {
            bytes.removeAll(keepingCapacity: true)
            sent = 0
        }
        guard bytes.count - sent + frame.count <= Self.limit else { return false }
        bytes.append(contentsOf: frame)
        return true
    }

    /// Queues `bytes` to be written by `flush` (for the direction being called: what it injects into its own
    /// buffer needs an INJECT op).
    mutating func append(_ bytes: UnsafeRawBufferPointer) -> Bool {
        if isEmpty {
            self.bytes.removeAll(keepingCapacity: true)
            sent = 0
        }
        guard self.bytes.count - sent + bytes.count <= Self.limit else { return false }
        self.bytes.append(contentsOf: bytes)
        return true
    }

    /// Writes what waits into the inject buffer of the direction being called (`reply`); the number of bytes
    /// written, for an INJECT op (0: nothing waits or there is no room).
    mutating func flush(reply: Bool, connection: Connection) -> Int {
        guard !isEmpty else { return 0 }
        let start = sent
        let written = bytes.withUnsafeBytes { all in
            connection.inject(reply: reply, UnsafeRawBufferPointer(rebasing: all[start...]))
        }
        sent += written
        if isEmpty {
            bytes.removeAll(keepingCapacity: true)
            sent = 0
        }
        return written
    }
}
