/// How the connection's bytes are framed, as negotiated in its first exchange: the compression STARTUP asked
/// for, and — protocol v5 — the switch to segments once the server has answered STARTUP (READY or
/// AUTHENTICATE): from then on both directions carry segments.
struct Framing {
    private(set) var compression: CassandraCompression?
    private(set) var requestsInSegments = false
    private(set) var repliesInSegments = false
    /// The version of a STARTUP waiting for its answer.
    private var startupVersion: UInt8?

    /// v5 segments use the compressed header format when LZ4 was negotiated.
    var segmentsCompressed: Bool { compression == .lz4 }

    mutating func noteStartup(version: UInt8, compression: CassandraCompression?) {
        self.compression = compression
        startupVersion = version
    }

    /// A reply frame passing (before segments): READY or AUTHENTICATE to a v5 STARTUP switches both directions.
    mutating func noteReply(_ header: FrameHeader) {
        guard let version = startupVersion else { return }
        if header.opcode == Opcode.ready || header.opcode == Opcode.authenticate {
            startupVersion = nil
            if version >= 5 && header.version >= 5 {
                requestsInSegments = true
                repliesInSegments = true
            }
        } else if header.opcode == Opcode.error {
            startupVersion = nil
        }
    }
}
