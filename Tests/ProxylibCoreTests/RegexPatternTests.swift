import Testing
@testable import ProxylibCore

/// Policy regular expressions must read and match the way Go's regexp (RE2) does upstream.
@Suite struct RegexPatternTests {
    struct MatchCase: Sendable, CustomTestStringConvertible {
        let pattern: String
        let subject: [UInt8]
        let expected: Bool

        init(_ pattern: String, _ subject: String, _ expected: Bool) {
            self.init(pattern, Array(subject.utf8), expected)
        }

        init(_ pattern: String, _ subject: [UInt8], _ expected: Bool) {
            self.pattern = pattern
            self.subject = subject
            self.expected = expected
        }

        var testDescription: String { "\(pattern) ~ \(subject) -> \(expected)" }
    }

    static let matchCases: [MatchCase] = [
        // Unanchored search, like Go's MatchString.
        MatchCase("s.*", "ssss", true),
        MatchCase("s.*", "xs", true),
        MatchCase("s.*", "xyz", false),
        MatchCase("bc", "abcd", true),
        MatchCase("", "", true),
        MatchCase("", "anything", true),
        MatchCase("^/public/.*", "/public/index.html", true),
        MatchCase("^/public/.*", "/public/", true),
        MatchCase("^/public/.*", "/public", false),
        MatchCase("^/public/.*", "/private/public/x", false),

        // `$` only at the very end, unless (?m); `^` only at the start, unless (?m).
        MatchCase("a$", "a", true),
        MatchCase("a$", "a\n", false),
        MatchCase("a$", "ba", true),
        MatchCase("(?m)a$", "a\nb", true),
        MatchCase("^b", "a\nb", false),
        MatchCase("(?m)^b", "a\nb", true),
        MatchCase("(?m)^$", "a\n", true),
        MatchCase("\\Aab\\z", "ab", true),
        MatchCase("\\Aab\\z", "ab\n", false),
        MatchCase("^$", "", true),

        // `.` and newlines.
        MatchCase("a.c", "abc", true),
        MatchCase(".", "\n", false),
        MatchCase("(?s).", "\n", true),
        MatchCase("^a.*c$", "ab\nc", false),
        MatchCase("(?s)^a.*c$", "ab\nc", true),

        // UTF-8: `.` and classes take whole characters.
        MatchCase("^é.$", "éx", true),
        MatchCase("^é.$", "éé", true),
        MatchCase("^.$", "éé", false),
        MatchCase("^..$", "日本", true),
        MatchCase("^[^a]$", "é", true),
        MatchCase("^[à-ÿ]+$", "éèê", true),
        MatchCase("[é]", "e", false),
        MatchCase("\\x{e9}", "é", true),
        MatchCase("^\\p{Greek}+$", "αβγ", true),
        MatchCase("\\p{Greek}", "abc", false),
        MatchCase("^\\pL+$", "héllo", true),
        MatchCase("\\P{L}", "héllo", false),
        MatchCase("\\p{^L}", "abc1", true),

        // Flags.
        MatchCase("hello", "HeLLo", false),
        MatchCase("(?i)hello", "HeLLo", true),
        MatchCase("(?i)é", "É", true),
        MatchCase("(?i)k", "\u{212A}", true),  // Kelvin sign folds to k, as in Go
        MatchCase("(?i:a)b", "Ab", true),
        MatchCase("(?i:a)b", "AB", false),
        MatchCase("(?i)a(?-i)b", "Ab", true),
        MatchCase("(?i)a(?-i)b", "AB", false),
        MatchCase("(?U)^a+$", "aaa", true),

        // Alternation and groups.
        MatchCase("^(cat|dog)$", "dog", true),
        MatchCase("^(cat|dog)$", "cow", false),
        MatchCase("a|b|c", "xxc", true),
        MatchCase("^(?:ab|cd)+$", "abcdab", true),
        MatchCase("^(?P<animal>cat|dog)s?$", "cats", true),
        MatchCase("^(?<animal>cat|dog)s?$", "dogs", true),

        // Repetition counts.
        MatchCase("^a{3}$", "aaa", true),
        MatchCase("^a{3}$", "aa", false),
        MatchCase("^a{2,3}$", "aaaa", false),
        MatchCase("^a{2,}$", "aaaaa", true),
        MatchCase("^(ab){2}$", "abab", true),
        MatchCase("^a{0}b$", "b", true),
        MatchCase("^a+?b$", "aaab", true),
        MatchCase("^x{1,2}?$", "xx", true),
        MatchCase("a{,2}", "a{,2}", true),  // not a repeat in RE2: a literal {
        MatchCase("a{,2}", "aa", false),
        MatchCase("^x{01}$", "x{01}", true),  // leading zero: literal too
        MatchCase("^\\{\\}$", "{}", true),
        MatchCase("^*a", "ba", true),  // RE2 repeats an empty-width assertion

        // Perl classes are ASCII, as in RE2.
        MatchCase("^\\d+$", "12345", true),
        MatchCase("^\\d+$", "12a", false),
        MatchCase("\\d", "٣", false),
        MatchCase("^\\w+$", "foo_bar9", true),
        MatchCase("\\w", "é", false),
        MatchCase("\\W", "é", true),
        MatchCase("\\W", "日", true),
        MatchCase("\\D", "é", true),  // PCRE2 10.42's JIT gets \D and \W wrong with PCRE2_MATCH_INVALID_UTF
        MatchCase("\\s", " ", true),
        MatchCase("\\s", "\t\n\r\u{0C}", true),
        MatchCase("\\s", "\u{0B}", false),  // RE2's \s has no vertical tab
        MatchCase("\\S", "\u{0B}", true),
        MatchCase("[\\s]", "\u{0B}", false),
        MatchCase("[^\\S]", "\u{0B}", false),
        MatchCase("[\\S]", "\u{0B}", true),
        MatchCase("\\bfoo\\b", "a foo b", true),
        MatchCase("\\bfoo\\b", "afoob", false),
        MatchCase("\\Boo\\B", "afoob", true),
        MatchCase("^[[:alpha:]]+$", "abcXYZ", true),
        MatchCase("^[[:alpha:]]+$", "abc1", false),
        MatchCase("[[:^digit:]]", "123", false),
        MatchCase("^[\\d-z]+$", "1-z", true),  // - after a class is a literal, as in Go
        MatchCase("[\\d-z]", "m", false),

        // Escapes and literals.
        MatchCase("a\\.b", "a.b", true),
        MatchCase("a\\.b", "axb", false),
        MatchCase("\\x41", "A", true),
        MatchCase("\\101", "A", true),  // octal, never a backreference
        MatchCase("\\v", "\u{0B}", true),
        MatchCase("\\t", "\t", true),
        MatchCase("\\Q.*\\E", "a", false),
        MatchCase("\\Q.*\\E", ".*", true),
        MatchCase("\\Q(?=\\E", "(?=", true),
        MatchCase("[(?=]", "?", true),
        MatchCase("\\(?=", "=", true),
        MatchCase("^[]a]+$", "]a", true),
        MatchCase("^[^]a]$", "b", true),
        MatchCase("^[a-]+$", "a-", true),
        MatchCase("^[[.a.]]$", "a]", true),  // no POSIX collating elements in RE2: [ . a ] then a literal ]

        // Invalid UTF-8 subjects: each bad byte reads as U+FFFD, as in Go.
        MatchCase("^a.b$", [0x61, 0xFF, 0x62], true),
        MatchCase("^a..b$", [0x61, 0xE2, 0x82, 0x62], true),  // a truncated sequence is two bad bytes
        MatchCase("b", [0xFF, 0x62], true),
        MatchCase("^\\x{FFFD}$", [0xC3], true),
        MatchCase("^[a-z]+$", [0x61, 0xFF], false),
        MatchCase("^.*$", [0xED, 0xA0, 0x80], true),  // an encoded surrogate is invalid
        MatchCase("^...$", [0xED, 0xA0, 0x80], true),
    ]

    @Test(arguments: matchCases)
    func matching(_ testCase: MatchCase) throws {
        let regex = try RegexPattern(testCase.pattern)
        let viaBytes = testCase.subject.withUnsafeBytes { regex.matches($0) }
        #expect(viaBytes == testCase.expected)
        if let subject = String(validating: testCase.subject, as: UTF8.self) {
            #expect(regex.matches(subject) == testCase.expected)
        }
    }

    struct RejectCase: Sendable, CustomTestStringConvertible {
        let pattern: String
        let reason: String
        init(_ pattern: String, _ reason: String) {
            self.pattern = pattern
            self.reason = reason
        }
        var testDescription: String { "\(pattern): \(reason)" }
    }

    static let rejectCases: [RejectCase] = [
        // Syntax errors.
        RejectCase("(", "missing closing parenthesis"),
        RejectCase("(a|b", "missing closing parenthesis"),
        RejectCase(")", "unexpected closing parenthesis"),
        RejectCase("[a", "missing closing ]"),
        RejectCase("*a", "missing argument to repetition operator"),
        RejectCase("a|+", "missing argument to repetition operator"),
        RejectCase("a**", "invalid nested repetition operator"),
        RejectCase("a{2}{3}", "invalid nested repetition operator"),
        RejectCase("a{1001}", "invalid repeat count"),
        RejectCase("a{3,2}", "invalid repeat count"),
        RejectCase("(a{100}){100}", "invalid repeat count"),
        RejectCase("[z-a]", "invalid character class range"),
        RejectCase("[a-\\d]", "invalid character class range"),
        RejectCase("[[:foo:]]", "invalid character class name"),
        RejectCase("a\\", "trailing backslash"),
        RejectCase("\\x4", "invalid escape sequence \\x"),
        RejectCase("\\p{Foo}", "unknown property"),  // PCRE2's own message
        RejectCase("(?P<n>a)(?P<n>b)", "same name"),  // PCRE2's own message
        RejectCase("(?-)", "invalid or unsupported Perl syntax"),

        // Valid PCRE2 that RE2 rejects.
        RejectCase("(a)\\1", "backreference"),
        RejectCase("\\1", "backreference"),
        RejectCase("(?P<n>a)(?P=n)", "backreference"),
        RejectCase("(?<n>a)\\k<n>", "backreference"),
        RejectCase("(?<n>a)\\g{n}", "backreference"),
        RejectCase("(?=a)", "lookahead"),
        RejectCase("(?!a)", "lookahead"),
        RejectCase("(?<=a)b", "lookbehind"),
        RejectCase("(?<!a)b", "lookbehind"),
        RejectCase("(?>a)", "atomic group"),
        RejectCase("a++", "possessive"),
        RejectCase("a*+", "possessive"),
        RejectCase("a?+", "possessive"),
        RejectCase("a{2}+", "possessive"),
        RejectCase("a{2,}+", "possessive"),
        RejectCase("(?R)", "recursion"),
        RejectCase("(a)(?1)", "recursion"),
        RejectCase("(?&name)", "recursion"),
        RejectCase("(?P>name)", "recursion"),
        RejectCase("(?(1)a|b)", "conditional"),
        RejectCase("a\\Cb", "\\C"),
        RejectCase("(?C1)a", "callout"),
        RejectCase("(*UTF)a", "(*"),
        RejectCase("(*LIMIT_MATCH=10)a", "(*"),
        RejectCase("(?|a)", "branch reset"),
        RejectCase("(?#comment)a", "comment"),
        RejectCase("(?'n'a)", "named group (?'name'"),
        RejectCase("(?x)a b", "flag 'x'"),
        RejectCase("\\Z", "invalid escape sequence \\Z"),
        RejectCase("\\h", "invalid escape sequence \\h"),
        RejectCase("\\R", "invalid escape sequence \\R"),
        RejectCase("a\\Kb", "invalid escape sequence \\K"),
        RejectCase("[\\b]", "\\b inside a character class"),
        RejectCase("[[:<:]]", "invalid character class name"),
    ]

    @Test(arguments: rejectCases)
    func rejected(_ testCase: RejectCase) {
        do {
            let regex = try RegexPattern(testCase.pattern)
            Issue.record("\(testCase.pattern) compiled to \(regex)")
        } catch let error as PolicyError {
            #expect(error.description.hasPrefix("invalid regular expression \"\(testCase.pattern)\": "))
            #expect(error.description.contains(testCase.reason), "\(error.description)")
            #expect(error.description.contains(" at offset "), "\(error.description)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func rejectionMessageNamesReasonAndOffset() {
        #expect(throws: PolicyError(
            "invalid regular expression \"x(?=a)\": lookahead assertion (?= is not supported by RE2 at offset 1")) {
            try RegexPattern("x(?=a)")
        }
        #expect(throws: PolicyError(
            "invalid regular expression \"ab(c\": missing closing parenthesis at offset 2")) {
            try RegexPattern("ab(c")
        }
    }

    @Test func keepsThePattern() throws {
        let regex = try RegexPattern("^/public/.*")
        #expect(regex.pattern == "^/public/.*")
        #expect(regex.description == "^/public/.*")
    }

    @Test func emptySubjectBuffer() throws {
        let empty = UnsafeRawBufferPointer(start: nil, count: 0)
        #expect(try RegexPattern("^$").matches(empty))
        #expect(try RegexPattern("").matches(empty))
        #expect(try !RegexPattern("a").matches(empty))
    }

    /// (a+)+$ backtracks exponentially on a run of a's followed by something else; the match limit stops it.
    @Test func catastrophicBacktrackingGivesUp() throws {
        let regex = try RegexPattern("(a+)+$")
        let subject = String(repeating: "a", count: 40) + "b"
        #expect(!regex.matches(subject))
        #expect(!regex.matches(subject))
        #expect(regex.matches(String(repeating: "a", count: 40)))
        // Undecided (the match limit was hit), not a plain no-match: a deny rule fails closed on it.
        #expect(regex.matches(subject, whenUndecided: true))
        #expect(!regex.matches(String(repeating: "a", count: 5) + "b", whenUndecided: true))
    }

    @Test func concurrentMatchingIsConsistent() async throws {
        let regex = try RegexPattern("^/public/[a-z]+\\.(txt|html)$")
        let mismatches = await withTaskGroup(of: Int.self) { group in
            for task in 0..<4 {
                group.addTask {
                    var mismatches = 0
                    for iteration in 0..<10_000 {
                        let expected = (iteration + task) % 2 == 0
                        let subject = expected ? "/public/file.html" : "/private/file.html"
                        if regex.matches(subject) != expected { mismatches += 1 }
                    }
                    return mismatches
                }
            }
            return await group.reduce(0, +)
        }
        #expect(mismatches == 0)
    }
}
