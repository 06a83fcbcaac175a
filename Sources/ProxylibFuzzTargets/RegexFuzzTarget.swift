#if canImport(Glibc)
import Glibc
#endif
import ProxylibCore

/// `regex`: arbitrary patterns and subjects through the policy regular expressions (RE2 syntax on PCRE2).
/// Checked: a pattern is either rejected with a reason (`invalid regular expression "…": …`) or compiles;
/// every match answers within `matchBound` (the match and depth limits work; a bound hit is a failure, not a
/// slow input); a plain-text pattern answers the same by byte comparison as through the engine.
///
/// Input: the first byte splits the rest into pattern (up to 255 bytes) and subject; a second subject is
/// the pattern's own text repeated, to reach backtracking-prone inputs without the fuzzer finding them.
public enum RegexFuzzTarget {
    public static let target = FuzzTarget(name: "regex", summary: "policy regular expressions: syntax, bounds, literal fast path") { bytes in
        try run(bytes)
    }

    /// Generous for sanitizer builds; PCRE2's limits stop a runaway match within milliseconds.
    static let matchBound: Double = 1.0

    static func run(_ bytes: UnsafeRawBufferPointer) throws(FuzzViolation) {
        var input = FuzzInput(bytes)
        let patternLength = Int(input.byte())
        let pattern = String(decoding: input.take(patternLength), as: UTF8.self)
        let subject = Array(input.rest())
        let compiled: RegexPattern
        do {
            compiled = try RegexPattern(pattern)
        } catch let error as PolicyError {
            // Compared as bytes: a combining character after the quote would join it in one Character.
            guard error.description.utf8.starts(with: "invalid regular expression \"".utf8) else {
                throw FuzzViolation("pattern \(pattern.debugDescription) rejected without the usual reason: \(error)")
            }
            return
        } catch {
            throw FuzzViolation("pattern \(pattern.debugDescription) threw \(error)")
        }
        let repeated: [UInt8] = Array(repeating: Array(pattern.utf8), count: 8).flatMap { $0 } + [0x21]
        for candidate: [UInt8] in [subject, repeated] {
            let start = now()
            let (answer, agree) = candidate.withUnsafeBytes { ($0.count, compiled.literalAndEngineAgree(on: $0)) }
            _ = answer
            let elapsed = now() - start
            guard elapsed < matchBound else {
                throw FuzzViolation("matching \(pattern.debugDescription) took \(elapsed) s on \(candidate.count) bytes")
            }
            guard agree else {
                throw FuzzViolation("plain-text pattern \(pattern.debugDescription): byte comparison and engine differ on \(ByteText.show(candidate[...]))")
            }
        }
    }

    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}
