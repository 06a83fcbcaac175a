/// The byte-level half of the `datapath-cassandra` oracle: a cursor for the native protocol's notation, frame
/// headers, protocol v5 segments and the two frame compressions — written for the oracle from the protocol
/// specification (native_protocol_v4.spec / v5.spec, LZ4 block format, Snappy format), without any parser code.
enum CQLWire {
    static let maxBody = 256 * 1024 * 1024
    /// The oracle gives up decompressing beyond this (fuzz inputs are at most 8 KiB).
    static let maxDecompressed = 16 * 1024 * 1024

    static let opError: UInt8 = 0x00, opStartup: UInt8 = 0x01, opReady: UInt8 = 0x02, opAuthenticate: UInt8 = 0x03
    static let opOptions: UInt8 = 0x05, opQuery: UInt8 = 0x07, opResult: UInt8 = 0x08, opPrepare: UInt8 = 0x09
    static let opExecute: UInt8 = 0x0A, opRegister: UInt8 = 0x0B, opBatch: UInt8 = 0x0D, opAuthResponse: UInt8 = 0x0F

    static let flagCompressed: UInt8 = 0x01, flagTracing: UInt8 = 0x02, flagPayload: UInt8 = 0x04, flagWarning: UInt8 = 0x08

    /// A frame header: 9 bytes from protocol v3 on, 8 (one-byte stream id) in v1 and v2.
    struct Head: Equatable {
        var isResponse: Bool
        var version: UInt8
        var flags: UInt8
        var stream: Int16
        var opcode: UInt8
        var length: Int
        var size: Int

        var total: Int { size + length }
        var isLegacy: Bool { size == 8 }

        /// Reads the header at `at`, nil when not all of it is there yet.
        init?(_ bytes: [UInt8], at: Int) {
            guard at < bytes.count else { return nil }
            let version = bytes[at] & 0x7F
            size = version < 3 ? 8 : 9
            guard bytes.count - at >= size else { return nil }
            isResponse = bytes[at] & 0x80 != 0
            self.version = version
            flags = bytes[at + 1]
            if size == 8 {
                stream = Int16(Int8(bitPattern: bytes[at + 2]))
                opcode = bytes[at + 3]
            } else {
                stream = Int16(bitPattern: UInt16(bytes[at + 2]) << 8 | UInt16(bytes[at + 3]))
                opcode = bytes[at + 4]
            }
            length = Int(bytes[(at + size - 4)..<(at + size)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        }
    }

    /// A cursor over a message body in the specification's notation; every read fails (nil / false) rather than
    /// reading past the end.
    struct Reader {
        let bytes: [UInt8]
        var at: Int
        let end: Int

        init(_ bytes: [UInt8], from: Int = 0, to: Int? = nil) {
            self.bytes = bytes
            at = from
            end = to ?? bytes.count
        }

        var left: Int { end - at }

        mutating func take(_ n: Int) -> [UInt8]? {
            guard n >= 0, left >= n else { return nil }
            defer { at += n }
            return Array(bytes[at..<(at + n)])
        }

        mutating func skip(_ n: Int) -> Bool {
            guard n >= 0, left >= n else { return false }
            at += n
            return true
        }

        mutating func byte() -> UInt8? { take(1)?[0] }

        /// [short]
        mutating func short() -> Int? { take(2).map { Int($0[0]) << 8 | Int($0[1]) } }

        /// [int]
        mutating func int() -> Int32? {
            take(4).map { Int32(bitPattern: $0.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }) }
        }

        /// [string], [short bytes]
        mutating func string() -> [UInt8]? {
            guard let n = short() else { return nil }
            return take(n)
        }

        /// [long string]
        mutating func longString() -> [UInt8]? {
            guard let n = int(), n >= 0 else { return nil }
            return take(Int(n))
        }

        /// [bytes] / [value]: a negative length carries no bytes.
        mutating func skipValue() -> Bool {
            guard let n = int() else { return false }
            return n < 0 || skip(Int(n))
        }

        /// [bytes map]
        mutating func skipBytesMap() -> Bool {
            guard let n = short() else { return false }
            for _ in 0..<n where string() == nil || !skipValue() { return false }
            return true
        }

        /// [string list]
        mutating func skipStringList() -> Bool {
            guard let n = short() else { return false }
            for _ in 0..<n where string() == nil { return false }
            return true
        }

        /// [string map]
        mutating func stringMap() -> [([UInt8], [UInt8])]? {
            guard let n = short() else { return nil }
            var pairs: [([UInt8], [UInt8])] = []
            for _ in 0..<n {
                guard let key = string(), let value = string() else { return nil }
                pairs.append((key, value))
            }
            return pairs
        }
    }

    enum Compression: Equatable { case lz4, snappy }

    /// The algorithm a STARTUP option value names (compared without case), nil for anything else.
    static func compression(named value: [UInt8]) -> Compression? {
        switch String(decoding: value.map(lower), as: UTF8.self) {
        case "lz4": return .lz4
        case "snappy": return .snappy
        default: return nil
        }
    }

    static func lower(_ byte: UInt8) -> UInt8 { (0x41...0x5A).contains(byte) ? byte | 0x20 : byte }

    /// A compressed frame body (protocol v4 and earlier): LZ4 with a 4-byte big-endian length first, or Snappy.
    static func decompressBody(_ body: [UInt8], _ algorithm: Compression) -> [UInt8]? {
        switch algorithm {
        case .lz4:
            var reader = Reader(body)
            guard let length = reader.int(), length >= 0, Int(length) <= maxDecompressed else { return nil }
            return lz4Block(Array(body[4...]), length: Int(length))
        case .snappy:
            return snappy(body)
        }
    }

    /// An LZ4 block (no frame): sequences of a token, literals, a 2-byte little-endian offset and a match;
    /// the last sequence has literals only. Nil unless it yields exactly `length` bytes.
    static func lz4Block(_ input: [UInt8], length: Int) -> [UInt8]? {
        var output: [UInt8] = []
        output.reserveCapacity(min(length, 1 << 16))
        var at = 0
        func extended(_ base: Int) -> Int? {
            var total = base
            guard base == 15 else { return total }
            while true {
                guard at < input.count else { return nil }
                let byte = input[at]
                at += 1
                total += Int(byte)
                guard total <= maxDecompressed else { return nil }
                if byte != 255 { return total }
            }
        }
        while true {
            guard at < input.count else { return nil }
            let token = input[at]
            at += 1
            guard let literals = extended(Int(token >> 4)), input.count - at >= literals else { return nil }
            output += input[at..<(at + literals)]
            at += literals
            guard output.count <= length else { return nil }
            if at == input.count { return output.count == length ? output : nil }
            guard input.count - at >= 2 else { return nil }
            let offset = Int(input[at]) | Int(input[at + 1]) << 8
            at += 2
            guard offset > 0, offset <= output.count, let match = extended(Int(token & 15)).map({ $0 + 4 }),
                  output.count + match <= length else {
                return nil
            }
            let start = output.count - offset
            for index in 0..<match { output.append(output[start + index]) }
        }
    }

    /// The Snappy format: a little-endian base-128 length, then literals and copies (1-, 2- or 4-byte offsets).
    static func snappy(_ input: [UInt8]) -> [UInt8]? {
        var at = 0
        var length = 0
        var shift = 0
        while true {
            guard at < input.count, shift <= 28 else { return nil }
            let byte = input[at]
            at += 1
            length |= Int(byte & 0x7F) << shift
            shift += 7
            if byte & 0x80 == 0 { break }
        }
        guard length <= maxDecompressed else { return nil }
        var output: [UInt8] = []
        while at < input.count {
            let tag = input[at]
            at += 1
            switch tag & 3 {
            case 0:
                var literals = Int(tag >> 2) + 1
                if literals > 60 {
                    let extra = literals - 60
                    guard input.count - at >= extra else { return nil }
                    literals = input[at..<(at + extra)].reversed().reduce(0) { $0 << 8 | Int($1) } + 1
                    at += extra
                }
                guard input.count - at >= literals, output.count + literals <= length else { return nil }
                output += input[at..<(at + literals)]
                at += literals
            default:
                let count: Int
                let offset: Int
                switch tag & 3 {
                case 1:
                    guard at < input.count else { return nil }
                    count = Int(tag >> 2 & 7) + 4
                    offset = Int(tag >> 5) << 8 | Int(input[at])
                    at += 1
                case 2:
                    guard input.count - at >= 2 else { return nil }
                    count = Int(tag >> 2) + 1
                    offset = Int(input[at]) | Int(input[at + 1]) << 8
                    at += 2
                default:
                    guard input.count - at >= 4 else { return nil }
                    count = Int(tag >> 2) + 1
                    offset = input[at..<(at + 4)].reversed().reduce(0) { $0 << 8 | Int($1) }
                    at += 4
                }
                guard offset > 0, offset <= output.count, output.count + count <= length else { return nil }
                let start = output.count - offset
                for index in 0..<count { output.append(output[start + index]) }
            }
        }
        return output.count == length ? output : nil
    }

    /// A protocol v5 segment (native_protocol_v5.spec, "Framing"): a little-endian header — payload length
    /// (17 bits) and the self-contained flag, or, in the compressed format, compressed length, uncompressed
    /// length (17 bits each; 0: stored uncompressed) and the flag — then its CRC24 (3 bytes), the payload and
    /// the payload's CRC32 (4 bytes). The CRCs are not checked here: segment traffic may always be refused.
    struct Segment {
        var headerSize: Int
        var payloadLength: Int
        var uncompressedLength: Int
        var selfContained: Bool
        var total: Int { headerSize + payloadLength + 4 }

        init?(_ bytes: [UInt8], at: Int, compressedFormat: Bool) {
            headerSize = compressedFormat ? 8 : 6
            let fieldBytes = compressedFormat ? 5 : 3
            guard bytes.count - at >= headerSize else { return nil }
            let bits = bytes[at..<(at + fieldBytes)].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            payloadLength = Int(bits & 0x1FFFF)
            if compressedFormat {
                uncompressedLength = Int(bits >> 17 & 0x1FFFF)
                selfContained = bits >> 34 & 1 == 1
            } else {
                uncompressedLength = 0
                selfContained = bits >> 17 & 1 == 1
            }
        }

        /// The payload of the whole segment at `at`, decompressed; nil when LZ4 fails.
        func payload(_ bytes: [UInt8], at: Int) -> [UInt8]? {
            let raw = Array(bytes[(at + headerSize)..<(at + headerSize + payloadLength)])
            return uncompressedLength == 0 ? raw : CQLWire.lz4Block(raw, length: uncompressedLength)
        }
    }

    /// Splits a self-contained segment's payload into whole frames; nil when it does not hold whole frames.
    static func frames(in payload: [UInt8]) -> [[UInt8]]? {
        let (frames, complete) = framesPrefix(in: payload)
        return complete ? frames : nil
    }

    /// The whole frames at the start of a segment payload, and whether that is all of it.
    static func framesPrefix(in payload: [UInt8]) -> (frames: [[UInt8]], complete: Bool) {
        var frames: [[UInt8]] = []
        var at = 0
        while at < payload.count {
            guard let head = Head(payload, at: at), !head.isLegacy, payload.count - at >= head.total else { return (frames, false) }
            frames.append(Array(payload[at..<(at + head.total)]))
            at += head.total
        }
        return (frames, true)
    }
}
