import ProxylibCore

/// A reply the parser writes into the client's inject buffer (a denial), up to 80 bytes held in place. When
/// the buffer has less room than the reply, it is written in pieces over consecutive calls: the datapath
/// flushes a full buffer and calls again, and the reply stays whole on the wire.
struct InjectedReply {
    private var words: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) =
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    private(set) var count = 0
    private var sent = 0

    static let capacity = 80

    init(_ bytes: UnsafeRawBufferPointer) {
        count = min(bytes.count, Self.capacity)
        withUnsafeMutableBytes(of: &words) { target in
            if let base = target.baseAddress, let source = bytes.baseAddress, count > 0 {
                base.copyMemory(from: source, byteCount: count)
            }
        }
    }

    init(_ text: StaticString) {
        self.init(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    var isComplete: Bool { sent >= count }

    /// Writes as much of the rest as fits; returns the bytes written.
    mutating func write(to connection: Connection) -> Int {
        let start = sent
        let end = count
        let written = withUnsafeBytes(of: &words) { bytes in
            connection.inject(reply: true, UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
        }
        sent += written
        return written
    }
}
