/// Seed scripts for `datapath-cassandra`: native-protocol conversations under the oracle's policy (allow select
/// on `ks.pub…` and insert into `ks.orders`, deny tables containing `secret`, remote 7 anything else, remote 9
/// nothing), built here from the specification's layouts.
enum CassandraSeeds {
    typealias Step = FuzzSeeds.Step

    // MARK: Notation

    static func short(_ value: Int) -> [UInt8] { [UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)] }
    static func int(_ value: Int) -> [UInt8] { [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: value >> $0) } }
    static func string(_ text: String) -> [UInt8] { short(text.utf8.count) + Array(text.utf8) }
    static func longString(_ text: String) -> [UInt8] { int(text.utf8.count) + Array(text.utf8) }
    static func shortBytes(_ bytes: [UInt8]) -> [UInt8] { short(bytes.count) + bytes }

    static func frame(response: Bool = false, version: UInt8 = 4, flags: UInt8 = 0, stream: Int = 0, opcode: UInt8,
                      body: [UInt8]) -> [UInt8] {
        [(response ? 0x80 : 0) | version, flags] + short(stream & 0xFFFF) + [opcode] + int(body.count) + body
    }

    /// A v1/v2 frame: one-byte stream id.
    static func legacy(version: UInt8, opcode: UInt8, body: [UInt8]) -> [UInt8] {
        [version, 0, 1, opcode] + int(body.count) + body
    }

    static func options(version: UInt8 = 4, stream: Int = 0) -> [UInt8] {
        frame(version: version, stream: stream, opcode: 0x05, body: [])
    }

    static func startup(version: UInt8 = 4, stream: Int = 1, compression: String? = nil) -> [UInt8] {
        var pairs = [("CQL_VERSION", "3.0.0")]
        if let compression { pairs.append(("COMPRESSION", compression)) }
        return frame(version: version, stream: stream, opcode: 0x01,
                     body: short(pairs.count) + pairs.flatMap { string($0.0) + string($0.1) })
    }

    /// QUERY with consistency ONE and no flags (v5: an [int] of flags, 0x80 naming a keyspace).
    static func query(_ cql: String, version: UInt8 = 4, stream: Int = 2, keyspace: String? = nil) -> [UInt8] {
        var body = longString(cql) + short(1)
        if version >= 5 {
            body += int(keyspace == nil ? 0 : 0x80) + (keyspace.map(string) ?? [])
        } else {
            body += [0]
        }
        return frame(version: version, stream: stream, opcode: 0x07, body: body)
    }

    static func prepare(_ cql: String, version: UInt8 = 4, stream: Int = 3) -> [UInt8] {
        frame(version: version, stream: stream, opcode: 0x09, body: longString(cql) + (version >= 5 ? int(0) : []))
    }

    static func execute(_ id: [UInt8], version: UInt8 = 4, stream: Int = 4) -> [UInt8] {
        var body = shortBytes(id)
        if version >= 5 { body += shortBytes(id) }
        body += short(1) + (version >= 5 ? int(0) : [0])
        return frame(version: version, stream: stream, opcode: 0x0A, body: body)
    }

    enum Entry { case query(String), prepared([UInt8]) }

    static func batch(_ entries: [Entry], version: UInt8 = 4, stream: Int = 5) -> [UInt8] {
        var body: [UInt8] = [0] + short(entries.count)
        for entry in entries {
            switch entry {
            case .query(let cql): body += [0] + longString(cql) + short(0)
            case .prepared(let id): body += [1] + shortBytes(id) + short(1) + int(1) + [7]
            }
        }
        body += short(1) + (version >= 5 ? int(0) : [0])
        return frame(version: version, stream: stream, opcode: 0x0D, body: body)
    }

    static func ready(version: UInt8 = 4, stream: Int = 1) -> [UInt8] {
        frame(response: true, version: version, stream: stream, opcode: 0x02, body: [])
    }

    static func supported(stream: Int = 0) -> [UInt8] {
        frame(response: true, stream: stream, opcode: 0x06,
              body: short(1) + string("COMPRESSION") + short(2) + string("lz4") + string("snappy"))
    }

    static func rows(stream: Int) -> [UInt8] {
        frame(response: true, stream: stream, opcode: 0x08, body: int(2) + int(1) + int(1) + string("ks") + string("pub")
              + string("a") + short(9) + int(1) + int(1) + [7])
    }

    static func setKeyspace(_ keyspace: String, stream: Int, version: UInt8 = 4) -> [UInt8] {
        frame(response: true, version: version, stream: stream, opcode: 0x08, body: int(3) + string(keyspace))
    }

    /// RESULT Prepared; `flags` 0x02/0x08/0x04 put a tracing id, warnings, a custom payload first.
    static func preparedResult(_ id: [UInt8], stream: Int, flags: UInt8 = 0, version: UInt8 = 4) -> [UInt8] {
        var body: [UInt8] = []
        if flags & 0x02 != 0 { body += [UInt8](repeating: 0x11, count: 16) }
        if flags & 0x08 != 0 { body += short(1) + string("slow") }
        if flags & 0x04 != 0 { body += short(1) + string("k") + int(1) + [1] }
        body += int(4) + shortBytes(id) + (version >= 5 ? shortBytes(id) : []) + int(1) + int(0) + int(0) + int(0) + int(0)
        return frame(response: true, version: version, flags: flags, stream: stream, opcode: 0x08, body: body)
    }

    static func serverError(stream: Int, code: Int = 0x2200) -> [UInt8] {
        frame(response: true, stream: stream, opcode: 0x00, body: int(code) + string("invalid"))
    }

    static func event() -> [UInt8] {
        frame(response: true, stream: -1, opcode: 0x0C, body: string("STATUS_CHANGE") + string("UP") + [4, 10, 0, 0, 1] + int(9042))
    }

    // MARK: Compression (stored, uncompressed blocks: valid in both formats)

    /// LZ4 body: the length, then one block of literals only.
    static func lz4(_ data: [UInt8]) -> [UInt8] { int(data.count) + lz4Block(data) }

    static func lz4Block(_ data: [UInt8]) -> [UInt8] {
        var block: [UInt8] = []
        if data.count < 15 {
            block.append(UInt8(data.count) << 4)
        } else {
            block.append(0xF0)
            var rest = data.count - 15
            while rest >= 255 {
                block.append(255)
                rest -= 255
            }
            block.append(UInt8(rest))
        }
        return block + data
    }

    /// Snappy: the length as a varint, then one literal.
    static func snappy(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var n = data.count
        while n >= 0x80 {
            out.append(UInt8(n & 0x7F) | 0x80)
            n >>= 7
        }
        out.append(UInt8(n))
        if data.count <= 60 {
            out.append(UInt8(data.count - 1) << 2)
        } else {
            out += [60 << 2, UInt8(data.count - 1)]
        }
        return out + data
    }

    /// A frame with the compression flag and its body compressed by `compress`.
    static func compressed(_ frame: [UInt8], _ compress: ([UInt8]) -> [UInt8]) -> [UInt8] {
        let body = compress(Array(frame[9...]))
        return [frame[0], frame[1] | 0x01] + Array(frame[2..<5]) + int(body.count) + body
    }

    // MARK: v5 segments

    static func crc24(_ value: UInt64, bytes: Int) -> UInt32 {
        var crc: UInt32 = 0x875060
        var rest = value
        for _ in 0..<bytes {
            crc ^= UInt32(rest & 0xFF) << 16
            rest >>= 8
            for _ in 0..<8 {
                crc <<= 1
                if crc & 0x100_0000 != 0 { crc ^= 0x197_4F0B }
            }
        }
        return crc & 0xFF_FFFF
    }

    static func crc32(_ data: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in [0xFA, 0x2D, 0x55, 0xCA] + data {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 != 0 ? crc >> 1 ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }

    /// A segment around `payload`: the uncompressed format, or (LZ4 negotiated) the compressed one, its payload
    /// LZ4-compressed when `compress` (else stored, uncompressed length 0).
    static func segment(_ payload: [UInt8], selfContained: Bool = true, compressedFormat: Bool = false,
                        compress: Bool = false) -> [UInt8] {
        let body = compress ? lz4Block(payload) : payload
        let fields = compressedFormat ? 5 : 3
        var header = UInt64(body.count)
        if compressedFormat {
            header |= UInt64(compress ? payload.count : 0) << 17 | (selfContained ? 1 << 34 : 0)
        } else {
            header |= selfContained ? 1 << 17 : 0
        }
        let crc = crc24(header, bytes: fields)
        let crc32 = crc32(body)
        return (0..<fields).map { UInt8(truncatingIfNeeded: header >> (8 * $0)) } + (0..<3).map { UInt8(truncatingIfNeeded: crc >> (8 * $0)) }
            + body + (0..<4).map { UInt8(truncatingIfNeeded: crc32 >> (8 * $0)) }
    }

    // MARK: Scripts

    static let id1: [UInt8] = Array("0123456789abcdef".utf8)
    static let id2: [UInt8] = Array("fedcba9876543210".utf8)

    static func scripts() -> [[UInt8]] {
        let setup = FuzzSeeds.setup
        let script = FuzzSeeds.script
        let c = { (bytes: [UInt8]) in Step.clientBytes(bytes) }
        let s = { (bytes: [UInt8]) in Step.serverBytes(bytes) }
        return [
            // A driver's start: OPTIONS, STARTUP, then allowed and denied queries, pipelined.
            script(0, [c(options() + startup()), s(supported() + ready()),
                       c(query("SELECT * FROM ks.pub", stream: 2) + query("SELECT * FROM ks.secret", stream: 3)
                         + query("INSERT INTO ks.orders (id) VALUES (1)", stream: 4) + query("DELETE FROM ks.orders WHERE id = 1", stream: 5)),
                       s(rows(stream: 2) + frame(response: true, stream: 4, opcode: 0x08, body: int(1)))]),
            // USE: unqualified names in the confirmed keyspace, and in one still in flight.
            script(0, [c(startup() + query("USE ks", stream: 2)), s(ready() + setKeyspace("ks", stream: 2)),
                       c(query("SELECT a FROM pub WHERE a = 1", stream: 3) + query("select * from orders", stream: 4)
                         + query("USE \"Other\"", stream: 5) + query("SELECT * FROM pub", stream: 6)),
                       s(setKeyspace("Other", stream: 5)), c(query("SELECT * FROM pub;", stream: 7))]),
            // PREPARE, its answer (with tracing, warnings and a custom payload), EXECUTE; an unknown id.
            script(0, [c(prepare("INSERT INTO ks.orders (id) VALUES (?)", stream: 3) + prepare("SELECT * FROM ks.secret", stream: 8)),
                       s(preparedResult(id1, stream: 3, flags: 0x0E) + preparedResult(id2, stream: 8)),
                       c(execute(id1, stream: 4) + execute(id2, stream: 9) + execute(Array("nope".utf8), stream: 10))]),
            // BATCH frames: query and prepared entries, v3/v4 flags byte, a prepared id never seen.
            script(0, [c(prepare("UPDATE ks.orders SET a = 1 WHERE id = ?", stream: 3)), s(preparedResult(id1, stream: 3)),
                       c(batch([.query("INSERT INTO ks.orders (id) VALUES (1)"), .query("INSERT INTO ks.orders (id) VALUES (2)")], version: 3)
                         + batch([.query("INSERT INTO ks.orders (id) VALUES (1)"), .prepared(id1)], stream: 6)
                         + batch([.prepared(id2)], stream: 7) + batch([], stream: 8))]),
            // Tricky CQL: literals and comments that mention other tables, quoting, no spaces, two statements.
            script(0, [c(query("SELECT * FROM ks.pub WHERE c = 'x from ks.secret'", stream: 1)
                         + query("SELECT/* from ks.secret */*FROM\"ks\".\"pub\" -- from ks.secret\n", stream: 2)
                         + query("SELECT * FROM ks.pub WHERE a = $$ ; DROP TABLE ks.secret $$", stream: 3)
                         + query("SELECT * FROM ks.pub; DROP TABLE ks.pub", stream: 4)
                         + query("SELECT * FROM ks.pub /* unterminated", stream: 5)
                         + query("SELECT*FROM ks.pubsecret", stream: 6) + query("INSERT INTO ks.\"orders\" JSON '{}'", stream: 7)
                         + query("SELECT \"from\" FROM KS.PUB", stream: 8) + query("insert into ks.orders_x (a) values (1)", stream: 9))]),
            // A batch in CQL.
            script(0, [c(query("BEGIN UNLOGGED BATCH USING TIMESTAMP 1 INSERT INTO ks.orders (a) VALUES (1); INSERT INTO ks.orders (a) VALUES (2) APPLY BATCH;", stream: 1)
                         + query("BEGIN BATCH INSERT INTO ks.orders (a) VALUES (1) DELETE FROM ks.secret WHERE a = 1 APPLY BATCH", stream: 2)
                         + query("BEGIN BATCH APPLY BATCH", stream: 3))]),
            // Compression negotiated: LZ4 and Snappy bodies.
            script(0, [c(startup(compression: "lz4")), s(ready()),
                       c(compressed(query("SELECT * FROM ks.pub", stream: 2), lz4) + compressed(query("SELECT * FROM ks.secret", stream: 3), lz4))]),
            script(0, [c(startup(compression: "snappy")), s(ready()),
                       c(compressed(query("INSERT INTO ks.orders (a) VALUES (1)", stream: 2), snappy)
                         + compressed(prepare("SELECT * FROM ks.pub", stream: 3), snappy)),
                       s(compressed(preparedResult(id1, stream: 3), snappy)), c(execute(id1))]),
            // Protocol v5: frames until STARTUP is answered, then segments.
            script(0, [c(options(version: 5) + startup(version: 5)), s(ready(version: 5)),
                       c(segment(query("SELECT * FROM ks.pub", version: 5, stream: 2) + query("SELECT * FROM ks.secret", version: 5, stream: 3))),
                       s(segment(frame(response: true, version: 5, stream: 2, opcode: 0x08, body: int(1))))]),
            // v5 with LZ4: segments in the compressed format, stored and compressed; a frame over two segments;
            // PREPARE, USE and their answers inside segments.
            script(0, [c(startup(version: 5, compression: "lz4")), s(ready(version: 5)),
                       c(segment(query("SELECT * FROM ks.pub", version: 5, stream: 2), compressedFormat: true)
                         + segment(query("INSERT INTO ks.orders (a) VALUES (1)", version: 5, stream: 3)
                                   + query("INSERT INTO ks.secret (a) VALUES (1)", version: 5, stream: 4), compressedFormat: true, compress: true)
                         + segment(prepare("SELECT * FROM ks.pub", version: 5, stream: 5), compressedFormat: true)),
                       s(segment(preparedResult(id1, stream: 5, version: 5), compressedFormat: true, compress: true)),
                       c(segment(execute(id1, version: 5, stream: 6), compressedFormat: true))]),
            script(0, [c(startup(version: 5)), s(ready(version: 5)),
                       c(segment(Array(query("SELECT * FROM ks.pub WHERE a = 'a long value'", version: 5, stream: 2).prefix(20)), selfContained: false)
                         + segment(Array(query("SELECT * FROM ks.pub WHERE a = 'a long value'", version: 5, stream: 2).dropFirst(20)), selfContained: false)
                         + segment(query("USE ks", version: 5, stream: 3))),
                       s(segment(setKeyspace("ks", stream: 3, version: 5))),
                       c(segment(query("SELECT * FROM pub", version: 5, stream: 4) + query("SELECT * FROM secret", version: 5, stream: 5)))]),
            script(0, [c(query("SELECT * FROM pub", version: 5, stream: 2, keyspace: "ks") + prepare("SELECT * FROM ks.pub", version: 5)
                         + batch([.query("INSERT INTO ks.orders (a) VALUES (1)")], version: 5)),
                       s(preparedResult(id1, stream: 3, version: 5)), c(execute(id1, version: 5))]),
            // Version negotiation: v2 and v6 OPTIONS/STARTUP go to the server; a v2 QUERY does not.
            script(0, [c(legacy(version: 2, opcode: 0x05, body: []) + startup(version: 6)),
                       s(serverError(stream: 1, code: 0x000A)), c(legacy(version: 1, opcode: 0x07, body: longString("SELECT 1")))]),
            // Malformed: a response bit, an opcode that is no request, a truncated query, a 300 MB length.
            script(0, [c(frame(response: true, stream: 1, opcode: 0x07, body: []))]),
            script(0, [c(frame(stream: 1, opcode: 0x08, body: []))]),
            script(0, [c(frame(stream: 1, opcode: 0x07, body: int(100) + Array("SELECT".utf8)))]),
            script(0, [c([4, 0, 0, 1, 7] + int(300 << 20))]),
            // Remote 9 (denied everything), remote 7 (anything but `secret`), remote 2.
            script(setup(2, false, 0, 0), [c(startup() + query("SELECT * FROM ks.pub") + query("USE ks", stream: 3)
                                             + execute(id1, stream: 4))]),
            script(setup(1, false, 0, 0), [c(query("DROP TABLE ks.secret") + query("CREATE KEYSPACE IF NOT EXISTS secret WITH x = 1", stream: 3)
                                             + query("TRUNCATE TABLE ks.t", stream: 4) + query("USE secret", stream: 5)),
                                           s(setKeyspace("secret", stream: 5)), c(query("UPDATE t SET a = 1", stream: 6))]),
            script(setup(3, true, 0, 0), [c(query("SELECT * FROM ks.public") + query("CREATE INDEX ON ks.pub (a)", stream: 3))]),
            // Small inject buffer, one op per call: denials queue until the reply side writes them.
            script(setup(0, false, 1, 3), [c(query("SELECT * FROM ks.a", stream: 1) + query("SELECT * FROM ks.b", stream: 2)
                                             + query("SELECT * FROM ks.pub", stream: 3)),
                                           s(rows(stream: 3)), .flushReplyInject, s(event())]),
            // A frame in pieces; a custom payload on a QUERY; a reply passed before it is all there.
            script(0, [c(Array(query("SELECT * FROM ks.pub", stream: 1).prefix(5))),
                       c(Array(query("SELECT * FROM ks.pub", stream: 1).dropFirst(5))),
                       c(frame(flags: 0x04, stream: 2, opcode: 0x07,
                               body: short(1) + string("k") + int(1) + [1] + longString("SELECT * FROM ks.pub") + short(1) + [0])),
                       s(Array(rows(stream: 1).prefix(12))), s(Array(rows(stream: 1).dropFirst(12))), .closeMidFrame]),
        ]
    }
}
