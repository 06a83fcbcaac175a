import CProxylib
import Testing
@testable import ProxylibCore
@testable import ProxylibParsers

/// Payloads of the generated vectors, spelled as patterns so that 128 KiB frames need no hex. Mirrors `text`,
/// `noise` and `zeros` in Tests/cassandra/vectors/generate_wire_vectors.py.
enum WirePayload {
    case hex(String)
    /// "SELECT v FROM ks.tbl WHERE k = ?;" repeated: compresses well.
    case text(Int)
    /// xorshift32 low bytes: does not compress.
    case noise(Int, seed: UInt32)
    case zeros(Int)

    var bytes: [UInt8] {
        switch self {
        case .hex(let hex): return hexBytes(hex)
        case .text(let count):
            let unit = Array("SELECT v FROM ks.tbl WHERE k = ?;".utf8)
            return (0..<count).map { unit[$0 % unit.count] }
        case .noise(let count, let seed):
            var x = seed
            return (0..<count).map { _ in
                x ^= x << 13
                x ^= x >> 17
                x ^= x << 5
                return UInt8(truncatingIfNeeded: x)
            }
        case .zeros(let count): return [UInt8](repeating: 0, count: count)
        }
    }
}

/// A piece of a generated segment stream: literal bytes, or uncompressed payload bytes taken from the frame.
enum WirePart {
    case hex(String)
    case frame(from: Int, count: Int)
}

/// A frame the driver encoded into one or more segments: the stream and the headers the driver read back.
struct SegmentStreamVector: CustomTestStringConvertible {
    let name: String
    let compressedFormat: Bool
    let frame: WirePayload
    /// Whether `SegmentCodec.appendSegment(frame)` must produce exactly `wire`.
    let appendable: Bool
    let wire: [WirePart]
    let headers: [SegmentHeader]

    var testDescription: String { name }

    func frameBytes() -> [UInt8] { frame.bytes }

    func wireBytes(frame frameBytes: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = []
        for part in wire {
            switch part {
            case .hex(let hex): bytes += hexBytes(hex)
            case .frame(let from, let count): bytes += frameBytes[from..<(from + count)]
            }
        }
        return bytes
    }
}

func hexBytes(_ hex: String) -> [UInt8] {
    let digits = Array(hex.utf8)
    return stride(from: 0, to: digits.count - 1, by: 2).map { UInt8(String(decoding: digits[$0...$0 + 1], as: UTF8.self), radix: 16)! }
}

/// Runs `body` with an InputView over `pieces`, each its own GoSlice (so the view is scatter-gather).
func withInput<R>(_ pieces: [[UInt8]], _ body: (InputView) throws -> R) rethrows -> R {
    let storage = pieces.map { piece -> UnsafeMutableBufferPointer<UInt8> in
        let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(piece.count, 1))
        _ = buffer.initialize(from: piece)
        return buffer
    }
    defer { storage.forEach { $0.deallocate() } }
    let headers = zip(storage, pieces).map {
        GoSlice(data: UnsafeMutableRawPointer($0.0.baseAddress), len: GoInt($0.1.count), cap: GoInt($0.1.count))
    }
    return try headers.withUnsafeBufferPointer { buffer in
        try body(InputView(segments: buffer.baseAddress, count: buffer.count)!)
    }
}

/// `bytes` cut at `points` (ascending offsets inside it).
func split(_ bytes: [UInt8], at points: [Int]) -> [[UInt8]] {
    var pieces: [[UInt8]] = []
    var start = 0
    for point in points + [bytes.count] {
        pieces.append(Array(bytes[start..<point]))
        start = point
    }
    return pieces
}

/// A deterministic generator for the robustness tests.
struct WireRandom {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
    mutating func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) } }
}
