import Testing
import ProxylibCore

/// The shared substring search, edges included: empty needle, needle longer than the haystack, a first-byte
/// hit that is not a match, matches at both ends.
@Suite struct ByteSearchTests {
    @Test(arguments: [
        ("abcabd", "abd", 0, 3), ("abcabd", "ab", 1, 3), ("abcabd", "abcabd", 0, 0), ("abcabd", "d", 0, 5),
        ("abcabd", "abcabde", 0, nil), ("abcabd", "", 0, nil), ("", "a", 0, nil), ("aaab", "aab", 0, 1),
        ("abc", "c", 3, nil), ("abc", "a", -1, nil),
    ] as [(String, String, Int, Int?)])
    func firstIndex(_ haystack: String, _ needle: String, _ start: Int, _ expected: Int?) {
        let found = Array(haystack.utf8).withUnsafeBytes { hay in
            Array(needle.utf8).withUnsafeBytes { ByteSearch.firstIndex(of: $0, in: hay, from: start) }
        }
        #expect(found == expected)
    }

    @Test(arguments: [
        ("abc", "ab", 0, true), ("abc", "bc", 1, true), ("abc", "bc", 2, false), ("abc", "", 3, true),
        ("abc", "c", -1, false), ("abc", "abcd", 0, false), ("", "", 0, true),
    ] as [(String, String, Int, Bool)])
    func matches(_ haystack: String, _ needle: String, _ offset: Int, _ expected: Bool) {
        let result = Array(haystack.utf8).withUnsafeBytes { hay in
            Array(needle.utf8).withUnsafeBytes { ByteSearch.matches($0, in: hay, at: offset) }
        }
        #expect(result == expected)
    }
}
