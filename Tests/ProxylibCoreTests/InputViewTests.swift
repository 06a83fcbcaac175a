import CProxylib
import Testing
@testable import ProxylibCore

/// Builds GoSlice segment headers over Swift arrays for the duration of `body`.
func withSegments<R>(_ segments: [String], _ body: (InputView) throws -> R) rethrows -> R {
    let storage = segments.map { segment -> UnsafeMutableBufferPointer<UInt8> in
        let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(segment.utf8.count, 1))
        _ = buffer.initialize(from: segment.utf8)
        return buffer
    }
    defer { storage.forEach { $0.deallocate() } }
    let headers = zip(storage, segments).map {
        GoSlice(data: UnsafeMutableRawPointer($0.0.baseAddress), len: GoInt($0.1.utf8.count), cap: GoInt($0.1.utf8.count))
    }
    return try headers.withUnsafeBufferPointer { buffer in
        try body(InputView(segments: buffer.baseAddress, count: buffer.count)!)
    }
}

@Suite struct InputViewTests {
    // Upstream's TestAdvanceInput, on the view: advancing within, to the end of, and across segments.
    @Test func dropFirstAcrossSegments() {
        withSegments(["ABCD", "1234567890", "abcdefghij"]) { input in
            #expect(input.count == 24)
            let a = input.dropFirst(3)
            #expect(a.count == 21 && a[0] == UInt8(ascii: "D"))
            let b = a.dropFirst(1)
            #expect(b[0] == UInt8(ascii: "1"))
            let c = b.dropFirst(11)
            #expect(c[0] == UInt8(ascii: "b") && c.count == 9)
            let d = c.dropFirst(11)
            #expect(d.isEmpty && d[0] == nil)
            #expect(d.dropFirst(1).isEmpty)
        }
    }

    @Test(arguments: [
        (["abc\r", "\ndef"], "\r\n", 3),
        (["abc", "\r", "\n"], "\r\n", 3),
        (["a\r", "b\r\n"], "\r\n", 3),
        (["abc"], "\r\n", -1),
        (["x:", "y"], ":", 1),
        (["", "ab", "", "c\n"], "\n", 3),
    ])
    func findsDelimitersAcrossSegments(segments: [String], delimiter: String, expected: Int) {
        withSegments(segments) { input in
            #expect((input.firstIndex(of: Array(delimiter.utf8)) ?? -1) == expected)
        }
    }

    @Test func byteSearchRespectsStartAndPrefix() {
        withSegments(["a:b", ":c", "d:"]) { input in
            #expect(input.firstIndex(of: UInt8(ascii: ":")) == 1)
            #expect(input.firstIndex(of: UInt8(ascii: ":"), from: 2) == 3)
            #expect(input.firstIndex(of: UInt8(ascii: ":"), from: 4) == 6)
            #expect(input.prefix(6).firstIndex(of: UInt8(ascii: ":"), from: 4) == nil)
            #expect(input.firstIndex(of: UInt8(ascii: ":"), from: 99) == nil)
            #expect(input.firstIndex(of: UInt8(ascii: ":"), from: -1) == nil)
        }
    }

    @Test func prefixContainsAndStarts() {
        withSegments(["PA", "SS lin", "e\n"]) { input in
            #expect(input.starts(with: "PASS"))
            #expect(!input.starts(with: "PASX"))
            #expect(!input.prefix(3).starts(with: "PASS"))
            #expect(input.contains("S li"))
            #expect(!input.prefix(5).contains("S li"))
            #expect(input.matches("line", at: 5))
            #expect(!input.matches("line\n\n", at: 5))
        }
    }

    @Test func copiesAndContiguousViews() {
        withSegments(["0123", "4567", "89"]) { input in
            var scratch: [UInt8] = []
            #expect(input.withContiguousBytes(from: 1, count: 2, scratch: &scratch) { Array($0) } == Array("12".utf8))
            #expect(scratch.isEmpty, "a range inside one segment is not copied")
            #expect(input.withContiguousBytes(from: 2, count: 7, scratch: &scratch) { Array($0) } == Array("2345678".utf8))
            #expect(input.withContiguousBytes(from: 5, count: 6, scratch: &scratch) { _ in 0 } == nil)
            var out = [UInt8](repeating: 0, count: 4)
            #expect(out.withUnsafeMutableBytes { input.copyBytes(from: 3, count: 4, into: $0) })
            #expect(out == Array("3456".utf8))
            #expect(!out.withUnsafeMutableBytes { input.copyBytes(from: 8, count: 4, into: $0) })
            #expect(!out.withUnsafeMutableBytes { input.copyBytes(from: 0, count: 5, into: $0) })
        }
    }

    /// Integers inside the first segment (read in place) and across it, from the view's start and after a drop.
    @Test func bigEndianIntegersInAndAcrossTheFirstSegment() {
        withSegments(["\u{01}\u{02}\u{03}\u{04}\u{05}", "\u{06}\u{7F}"]) { input in
            #expect(input.readInteger(at: 0, as: UInt32.self) == 0x0102_0304)
            #expect(input.readInteger(at: 1, as: Int16.self) == 0x0203)
            #expect(input.readInteger(at: 2, as: UInt32.self) == 0x0304_0506)
            #expect(input.readInteger(at: 4, as: UInt32.self) == nil)
            let dropped = input.dropFirst(1)
            #expect(dropped.readInteger(at: 0, as: UInt32.self) == 0x0203_0405)
            #expect(dropped.readInteger(at: 1, as: UInt32.self) == 0x0304_0506)
            #expect(dropped.readInteger(at: 5, as: UInt8.self) == 0x7F)
        }
        withSegments(["\u{7F}\u{7F}"]) { input in
            #expect(input.readInteger(at: 0, as: Int16.self) == 0x7F7F)
            #expect(input.readInteger(at: 1, as: Int16.self) == nil)
        }
    }

    @Test func bigEndianIntegers() {
        withSegments(["\u{01}", "\u{02}\u{03}", "\u{04}\u{05}"]) { input in
            #expect(input.readInteger(at: 0, as: UInt32.self) == 0x0102_0304)
            #expect(input.readInteger(at: 1, as: UInt32.self) == 0x0203_0405)
            #expect(input.readInteger(at: 2, as: UInt32.self) == nil)
            #expect(input.readInteger(at: 4, as: UInt8.self) == 5)
            #expect(input.readInteger(at: 3, as: Int16.self) == 0x0405)
            var cursor = InputCursor(input)
            let first = cursor.readInteger(as: UInt16.self)
            #expect(first == 0x0102)
            let tooLong = cursor.readInteger(as: UInt32.self)
            #expect(tooLong == nil, "a short read does not move")
            #expect(cursor.consumed == 2)
            let skipped = cursor.skip(2)
            #expect(skipped)
            let last = cursor.readInteger(as: UInt8.self)
            #expect(last == 5)
            #expect(cursor.remainingCount == 0)
            let consumed = cursor.resetConsumed()
            #expect(consumed == 5 && cursor.consumed == 0)
        }
    }

    @Test func malformedHeadersAreRejected() {
        var bad = GoSlice(data: nil, len: 3, cap: 3)
        #expect(InputView(segments: &bad, count: 1) == nil)
        var negative = GoSlice(data: nil, len: -1, cap: 0)
        #expect(InputView(segments: &negative, count: 1) == nil)
        #expect(InputView(segments: nil, count: 1) == nil)
        #expect(InputView(segments: nil, count: 0)?.isEmpty == true)
    }
}
