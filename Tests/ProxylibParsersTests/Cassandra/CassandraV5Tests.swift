import CProxylib
import Testing
@testable import ProxylibCore
@testable import ProxylibParsers
import ProxylibTestSupport

/// Protocol v5 through the C datapath: STARTUP and its READY in frames, then segments both ways — whole
/// segments passed, denials answered as segments, a segment with allowed and denied frames re-sent without
/// the denied ones, a frame spanning segments, and the compressed header format.
@Suite struct CassandraV5Tests {
    typealias Event = ConversationEvent

    static func segment(_ frames: [UInt8], compressedFormat: Bool = false) -> [UInt8] {
        var out: [UInt8] = []
        frames.withUnsafeBytes { SegmentCodec.appendSegment(payload: $0, compressedFormat: compressedFormat, to: &out) }
        return out
    }

    /// Segments that are not self-contained, each carrying `size` bytes of `frame` (uncompressed format).
    static func spanning(_ frame: [UInt8], size: Int) -> [UInt8] {
        var out: [UInt8] = []
        var start = 0
        while start < frame.count {
            let part = Array(frame[start..<min(frame.count, start + size)])
            let length = part.count
            // 17 bits of length, bit 17 = self-contained (0 here), little-endian over 3 bytes, then CRC24.
            let header: [UInt8] = [UInt8(length & 0xff), UInt8((length >> 8) & 0xff), UInt8((length >> 16) & 0x01)]
            let crc24 = header.withUnsafeBytes { SegmentCodec.crc24($0) }
            out += header + [UInt8(crc24 & 0xff), UInt8((crc24 >> 8) & 0xff), UInt8((crc24 >> 16) & 0xff)]
            let crc32 = part.withUnsafeBytes { SegmentCodec.crc32($0) }
            out += part + withUnsafeBytes(of: crc32.littleEndian, Array.init)
            start += size
        }
        return out
    }

    static let startup = CQ.startup(version: 5)
    static let ready = CQ.ready(version: 5)
    static let open1 = CQ.query("SELECT * FROM ks.open", stream: 11, version: 5)
    static let secret2 = CQ.query("SELECT * FROM ks.secret", stream: 12, version: 5)
    static let open3 = CQ.query("INSERT INTO ks.open (k) VALUES (3)", stream: 13, version: 5)
    static let void11 = CQ.voidResult(stream: 11, version: 5)
    static let handshake: [Event] = [
        .client(startup), .expect(server: startup, client: []),
        .server(ready), .expect(server: [], client: ready),
    ]

    static func scenarios(compressedFormat c: Bool) -> [(String, [Event])] {
        let padding = String(repeating: "x", count: 300_000)
        let big = CQ.query("SELECT * FROM ks.open WHERE k = '\(padding)'", stream: 20, version: 5)
        let bigSecret = CQ.query("SELECT * FROM ks.secret WHERE k = '\(padding)'", stream: 21, version: 5)
        return [
            ("an allowed frame in a segment passes whole", handshake + [
                .client(segment(open1, compressedFormat: c)), .expect(server: segment(open1, compressedFormat: c), client: []),
                .server(segment(void11, compressedFormat: c)), .expect(server: [], client: segment(void11, compressedFormat: c)),
            ]),
            ("a denied frame is answered with a segment", handshake + [
                .client(segment(secret2, compressedFormat: c)),
                .expect(server: [], client: segment(CQ.unauthorized(stream: 12, version: 5), compressedFormat: c)),
            ]),
            ("a segment of allowed and denied frames is re-sent without the denied", handshake + [
                .client(segment(open1 + secret2 + open3, compressedFormat: c)),
                .expect(server: segment(open1 + open3, compressedFormat: c),
                        client: segment(CQ.unauthorized(stream: 12, version: 5), compressedFormat: c)),
            ]),
            ("prepare and execute in segments", handshake + [
                .client(segment(CQ.prepare("SELECT * FROM ks.open", stream: 30, version: 5), compressedFormat: c)),
                .expect(server: segment(CQ.prepare("SELECT * FROM ks.open", stream: 30, version: 5), compressedFormat: c), client: []),
                .server(segment(CQ.preparedResult(Array("abcd".utf8), stream: 30, version: 5), compressedFormat: c)),
                .expect(server: [], client: segment(CQ.preparedResult(Array("abcd".utf8), stream: 30, version: 5), compressedFormat: c)),
                .client(segment(CQ.execute(Array("abcd".utf8), stream: 31, version: 5, trailing: CQ.shortBytes([]) + CQ.short(1) + CQ.int(0)),
                                compressedFormat: c)),
                .expect(server: segment(CQ.execute(Array("abcd".utf8), stream: 31, version: 5, trailing: CQ.shortBytes([]) + CQ.short(1) + CQ.int(0)),
                                        compressedFormat: c), client: []),
            ]),
        ] + (c ? [] : [
            ("a frame spanning segments is decided whole", handshake + [
                .client(spanning(big, size: 100_000)), .expect(server: spanning(big, size: 100_000), client: []),
                .client(spanning(bigSecret, size: 100_000)),
                .expect(server: [], client: segment(CQ.unauthorized(stream: 21, version: 5))),
            ]),
            ("a corrupt segment header closes the connection", handshake + [
                // A 16-byte payload behind a header whose CRC24 does not match.
                .client([0x10, 0, 0, 0, 0, 0] + [UInt8](repeating: 0, count: 20)), .expectParserError,
            ]),
        ])
    }

    @Test(arguments: [false, true])
    func segments(_ compressedFormat: Bool) throws {
        for (name, events) in Self.scenarios(compressedFormat: compressedFormat) {
            let startup = CQ.startup(compression: compressedFormat ? "lz4" : nil, version: 5)
            let script = events.map { event -> Event in
                if case .client(let bytes) = event, bytes == Self.startup { return .client(startup) }
                if case .expect(let server, let client) = event, server == Self.startup { return .expect(server: startup, client: client) }
                return event
            }
            try ConversationEvent.play(script, parser: "cassandra", policy: CQ.policy(CQ.table("^ks\\.open$")))
        }
    }
}
