import Testing
@testable import ProxylibCore

/// Access-log field text: short ASCII bytes held inline, anything else as a String; equal when the text is.
@Suite struct LogTextTests {
    func text(_ bytes: [UInt8]) -> LogText {
        bytes.withUnsafeBytes { LogText(decoding: $0) }
    }

    func utf8(_ value: LogText) -> [UInt8] {
        value.withUTF8Bytes { Array($0) }
    }

    @Test(arguments: [
        ("", ""), ("READ", "READ"), ("/public/index.html", "/public/index.html"),
        (String(repeating: "a", count: 32), String(repeating: "a", count: 32)),
        (String(repeating: "b", count: 33), String(repeating: "b", count: 33)),
        ("caf\u{E9}", "caf\u{E9}"),
    ])
    func decodedBytesReadBackAsTheSameText(_ input: String, _ expected: String) {
        let value = text(Array(input.utf8))
        #expect(value.string == expected)
        #expect(utf8(value) == Array(expected.utf8))
        #expect(value == LogText(expected), "inline and String forms compare by text")
        #expect(value.description == expected)
    }

    @Test func invalidUTF8IsRepairedAsGosLoggerShowsIt() {
        let value = text([0x61, 0xFF, 0x62])
        #expect(value.string == "a\u{FFFD}b")
        #expect(value == LogText("a\u{FFFD}b"))
    }

    @Test func differentTextsDiffer() {
        #expect(text(Array("abc".utf8)) != text(Array("abd".utf8)))
        #expect(text(Array("abc".utf8)) != LogText("abcd"))
        #expect(LogText("x") != LogText(""))
    }

    @Test func fieldsBuiltFromBytesEqualFieldsBuiltFromStrings() {
        let fromBytes = L7Fields(("cmd", text(Array("READ".utf8))), ("file", text(Array("/public/a-long-file-name.txt".utf8))))
        #expect(fromBytes == L7Fields(("cmd", "READ"), ("file", "/public/a-long-file-name.txt")))
        #expect(Array(fromBytes).map(\.1) == ["READ", "/public/a-long-file-name.txt"])
    }
}
