import CProxylib
import ProxylibCore

/// Replays a parser test vector the way swift-nio's ByteToMessageDecoderVerifier does: the same bytes
/// delivered whole, one byte at a time, and split at random points must yield the same decisions.
///
/// Delivery follows the datapath's contract: input not yet decided stays buffered (as separate segments,
/// so parsers see scatter-gather input) and is presented again with the next bytes; PASS/DROP beyond the
/// buffered input consume the following bytes without calling the parser; MORE n waits for n more bytes.
public struct ReplayVerifier {
    public enum Delivery: CustomStringConvertible, Sendable {
        case whole
        case byteByByte
        case randomSplits(seed: UInt64)

        public var description: String {
            switch self {
            case .whole: return "whole"
            case .byteByByte: return "byte-by-byte"
            case .randomSplits(let seed): return "random splits (seed \(seed))"
            }
        }

        public static let all: [Delivery] = [.whole, .byteByByte, .randomSplits(seed: 0x5eed), .randomSplits(seed: 42)]
    }

    /// Everything a delivery produced: the decisions in order (MORE left out: how often a parser asks for
    /// more depends on the delivery), the bytes injected into each direction, and the first non-OK result.
    public struct Transcript: Equatable, CustomStringConvertible, Sendable {
        public var decisions: [ParserOp] = []
        public var injectedIntoReply: [UInt8] = []
        public var injectedIntoOriginal: [UInt8] = []
        public var result: FilterResult = FILTER_OK

        public init(decisions: [ParserOp] = [], injectedIntoReply: String = "", injectedIntoOriginal: String = "",
                    result: FilterResult = FILTER_OK) {
            self.decisions = decisions
            self.injectedIntoReply = Array(injectedIntoReply.utf8)
            self.injectedIntoOriginal = Array(injectedIntoOriginal.utf8)
            self.result = result
        }

        public var description: String {
            "decisions \(decisions) reply-inject \(String(decoding: injectedIntoReply, as: UTF8.self).debugDescription) orig-inject \(String(decoding: injectedIntoOriginal, as: UTF8.self).debugDescription) result \(result)"
        }
    }

    /// Feeds `bytes` in one direction of `connection` with `delivery`.
    public static func replay(_ bytes: [UInt8], reply: Bool = false, into connection: TestConnection,
                              delivery: Delivery) -> Transcript {
        var transcript = Transcript()
        var buffered: [[UInt8]] = []
        var skip = 0  // bytes of future input already decided (PASS/DROP beyond the buffered input)
        var need = 0  // bytes the parser waits for

        for var chunk in chunks(of: bytes, delivery: delivery) {
            if skip > 0 {
                let n = min(skip, chunk.count)
                chunk.removeFirst(n)
                skip -= n
                if chunk.isEmpty { continue }
            }
            buffered.append(chunk)
            let available = buffered.reduce(0) { $0 + $1.count }
            if available < need { continue }
            need = 0
            var again = true
            while again {
                again = false
                let outcome = connection.onData(reply: reply, segments: buffered)
                transcript.injectedIntoReply += outcome.replyInjected
                transcript.injectedIntoOriginal += outcome.originalInjected
                if outcome.result != FILTER_OK {
                    transcript.result = outcome.result
                    return transcript
                }
                for op in outcome.ops {
                    switch op {
                    case .more(let n):
                        need = buffered.reduce(0) { $0 + $1.count } + n
                    case .pass(let n), .drop(let n):
                        transcript.decisions.append(op)
                        skip = consume(n, from: &buffered)
                    case .inject, .error, .nop:
                        transcript.decisions.append(op)
                    }
                }
                if case .error? = outcome.ops.last {
                    transcript.result = FILTER_PARSER_ERROR
                    return transcript
                }
                // The datapath calls again when the ops slice was filled.
                let sameDirection = reply ? outcome.replyInjected : outcome.originalInjected
                again = outcome.ops.count == 16 || sameDirection.count == connection.injectBufferSize
            }
        }
        return transcript
    }

    /// Removes up to `n` bytes from the front of `segments`; returns how many were missing.
    private static func consume(_ n: Int, from segments: inout [[UInt8]]) -> Int {
        var remaining = n
        while remaining > 0, let first = segments.first {
            if first.count <= remaining {
                remaining -= first.count
                segments.removeFirst()
            } else {
                segments[0].removeFirst(remaining)
                remaining = 0
            }
        }
        return remaining
    }

    static func chunks(of bytes: [UInt8], delivery: Delivery) -> [[UInt8]] {
        switch delivery {
        case .whole:
            return [bytes]
        case .byteByByte:
            return bytes.map { [$0] }
        case .randomSplits(let seed):
            var generator = SplitMix64(seed: seed)
            var result: [[UInt8]] = []
            var start = 0
            while start < bytes.count {
                let length = Int(generator.next() % 7) + 1
                let end = min(start + length, bytes.count)
                result.append(Array(bytes[start..<end]))
                start = end
            }
            return result
        }
    }
}

/// A small deterministic PRNG so random splits are reproducible from the printed seed.
public struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
