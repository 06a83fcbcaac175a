import Testing
@testable import ProxylibCore

/// Plain-text policy patterns are matched by comparing bytes; the engine must agree on every subject.
@Suite struct LiteralPatternTests {
    struct Recognition: Sendable, CustomTestStringConvertible {
        let pattern: String
        let literal: LiteralPattern?
        init(_ pattern: String, _ text: String?, _ anchoring: LiteralPattern.Anchoring = .none) {
            self.pattern = pattern
            self.literal = text.map { LiteralPattern(text: Array($0.utf8), anchoring: anchoring) }
        }
        var testDescription: String { pattern }
    }

    static let recognitions: [Recognition] = [
        Recognition("admin", "admin"),
        Recognition("^/public/", "/public/", .start),
        Recognition("\\.png$", ".png", .end),
        Recognition("^GET$", "GET", .both),
        Recognition("a\\.b\\-c\\/d", "a.b-c/d"),
        Recognition("\\$100", "$100"),
        Recognition("ends with \\$$", "ends with $", .end),
        Recognition("", ""),
        Recognition("^", "", .start),
        Recognition("$", "", .end),
        Recognition("^$", "", .both),
        Recognition("with space", "with space"),
        // Left to the engine:
        Recognition("a.b", nil),
        Recognition("a+", nil),
        Recognition("a|b", nil),
        Recognition("(ab)", nil),
        Recognition("[ab]", nil),
        Recognition("a{2}", nil),
        Recognition("a^b", nil),
        Recognition("a$b", nil),
        Recognition("\\d", nil),
        Recognition("\\x41", nil),
        Recognition("(?i)abc", nil),
        Recognition("caf\u{E9}", nil),
        Recognition("tab\there", nil),
        Recognition("trailing\\", nil),
    ]

    @Test(arguments: recognitions)
    func recognition(_ recognition: Recognition) {
        #expect(LiteralPattern(recognition.pattern) == recognition.literal)
    }

    static let literalPatterns = [
        "admin", "^/public/", "\\.png$", "^GET$", "a\\.b", "", "^", "$", "^$", "\\$", "aa", "^a", "a$", "line",
    ]

    static let subjects: [[UInt8]] = [
        [], Array("admin".utf8), Array("/public/index.html".utf8), Array("/secret/public/".utf8),
        Array("logo.png".utf8), Array("logo.png\n".utf8), Array("logo.pngx".utf8), Array("GET".utf8),
        Array("GET ".utf8), Array("a.b".utf8), Array("axb".utf8), Array("$".utf8), Array("aaa".utf8),
        Array("a".utf8), Array("line\n".utf8), Array("\nline".utf8),
        [0xFF, 0x61, 0x64, 0x6D, 0x69, 0x6E], [0x61, 0xFF, 0x61], [0xC3, 0x61], [0x61, 0x61, 0xE2, 0x82],
        Array("/public/\u{E9}t\u{E9}".utf8), [0x2F, 0x70, 0x75, 0x62, 0x6C, 0x69, 0x63, 0x2F, 0xFF],
    ]

    @Test(arguments: literalPatterns)
    func bytesAgreeWithTheEngine(_ pattern: String) throws {
        let regex = try RegexPattern(pattern)
        #expect(regex.literal != nil, "\(pattern) takes the literal path")
        for subject in Self.subjects {
            subject.withUnsafeBytes { bytes in
                #expect(regex.matches(bytes) == regex.engineMatches(bytes), "\(pattern) on \(subject)")
            }
        }
    }
}
