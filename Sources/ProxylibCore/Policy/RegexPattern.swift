import CPCRE2Shim
import Synchronization

/// A policy regular expression (r2d2's `file`, memcache's `keyRegex`, cassandra's `query_table`, ...), read the
/// way upstream reads it: Go's `regexp.MustCompile` (RE2 syntax) and `MatchString` (a search anywhere in the
/// subject, not an anchored match).
///
/// PCRE2 does the matching, behind a scanner in `CPCRE2Shim` that follows Go's parser: RE2 syntax only (no
/// backreferences, lookaround, atomic groups, possessive quantifiers, recursion, conditionals, callouts, `\C`;
/// repeat counts up to 1000), `$` only at the very end unless `(?m)`, `\d \w \s \b` ASCII as in RE2, `(?i)` with
/// Unicode case folding, and subjects read as UTF-8 with each invalid byte standing for U+FFFD, as Go reads them.
///
/// Patterns that are plain ASCII text, optionally anchored, are matched by comparing bytes (`LiteralPattern`);
/// the engine still compiles them, so their syntax is checked the same way.
///
/// Matching is bounded (PCRE2 match and depth limits): a pattern that backtracks catastrophically on some subject
/// answers `false` for it instead of hanging, and says so once in the debug log.
public final class RegexPattern: Sendable, CustomStringConvertible {
    /// The pattern as written in the policy.
    public let pattern: String

    /// The compiled pattern. It is never mutated after `init`, and the C shim matches it from any number of
    /// threads at once (each thread uses its own match scratch), so sharing it between threads is safe.
    nonisolated(unsafe) private let handle: OpaquePointer

    /// Set when the pattern is plain text: matched without the engine.
    let literal: LiteralPattern?

    /// Set once a match has failed with an error and that was logged.
    private let reportedMatchFailure = Atomic<Bool>(false)

    /// Compiles `pattern`; throws `PolicyError` ("invalid regular expression "…": reason at offset N") when it is
    /// not valid RE2 syntax.
    public init(_ pattern: String) throws {
        self.pattern = pattern
        var errorBuffer = [CChar](repeating: 0, count: 256)
        var source = pattern
        let compiled = source.withUTF8 { bytes in
            errorBuffer.withUnsafeMutableBufferPointer { error in
                bytes.withMemoryRebound(to: CChar.self) { characters in
                    proxylib_regex_compile(characters.baseAddress, characters.count, error.baseAddress, error.count)
                }
            }
        }
        guard let compiled else {
            let reasonBytes = errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
            let reason = reasonBytes.isEmpty ? "unknown error" : String(decoding: reasonBytes, as: UTF8.self)
            throw PolicyError("invalid regular expression \"\(pattern)\": \(reason)")
        }
        handle = compiled
        literal = LiteralPattern(pattern)
    }

    deinit {
        proxylib_regex_free(handle)
    }

    public var description: String { pattern }

    /// Whether the pattern matches anywhere in `subject` (arbitrary bytes). A match that fails with an error (a
    /// match limit hit by catastrophic backtracking) answers `whenUndecided`: `false` for allow rules (the
    /// request is not allowed by this rule), `true` for deny rules (it is denied) — failing closed either way.
    public func matches(_ subject: UnsafeRawBufferPointer, whenUndecided: Bool = false) -> Bool {
        if let literal { return literal.matches(subject) }
        return engineMatches(subject, whenUndecided: whenUndecided)
    }

    /// The regex engine's answer, even for a literal pattern (tests compare the two).
    func engineMatches(_ subject: UnsafeRawBufferPointer, whenUndecided: Bool = false) -> Bool {
        let result = proxylib_regex_match(handle, subject.baseAddress, subject.count)
        switch result {
        case PROXYLIB_REGEX_MATCH:
            return true
        case PROXYLIB_REGEX_NO_MATCH:
            return false
        default:
            reportMatchFailure(result)
            return whenUndecided
        }
    }

    /// Matches `subject` through the engine and, for a plain-text pattern, by byte comparison too; false when
    /// the two answers differ (for tests and fuzzers: the byte comparison must be a pure shortcut).
    public func literalAndEngineAgree(on subject: UnsafeRawBufferPointer) -> Bool {
        let engine = engineMatches(subject)
        guard let literal else { return true }
        return literal.matches(subject) == engine
    }

    /// Whether the pattern matches anywhere in `subject`.
    public func matches(_ subject: String, whenUndecided: Bool = false) -> Bool {
        var subject = subject
        return subject.withUTF8 { matches(UnsafeRawBufferPointer($0), whenUndecided: whenUndecided) }
    }

    private func reportMatchFailure(_ result: Int32) {
        guard Diagnostics.isDebugEnabled, !reportedMatchFailure.exchange(true, ordering: .relaxed) else { return }
        let reason = String(cString: proxylib_regex_strerror(result))
        Diagnostics.debug(
            "regular expression \"\(pattern)\": \(reason); subjects it fails on do not match (logged once)")
    }
}
