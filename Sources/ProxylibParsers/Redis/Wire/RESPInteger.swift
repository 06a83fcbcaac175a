import ProxylibCore

/// Redis's integers on the wire: an optional minus and decimal digits, no plus sign, no spaces, no leading
/// zeros ("0" itself excepted), within Int64 — what redis's own `string2ll` accepts. Anything else is a
/// protocol error, for lengths and counts as for key counts.
enum RESPInteger {
    static func parse(_ bytes: UnsafeRawBufferPointer) -> Int64? {
        guard let first = bytes.first else { return nil }
        var index = 0
        let negative = first == UInt8(ascii: "-")
        if negative { index = 1 }
        guard index < bytes.count else { return nil }
        let lead = bytes[index]
        if lead == UInt8(ascii: "0") {
            return bytes.count == index + 1 && !negative ? 0 : nil
        }
        var magnitude: UInt64 = 0
        while index < bytes.count {
            let digit = bytes[index] &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            let (times10, overflowA) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, overflowB) = times10.addingReportingOverflow(UInt64(digit))
            guard !overflowA, !overflowB else { return nil }
            magnitude = sum
            index += 1
        }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { return nil }
        return Int64(magnitude)
    }
}

/// One `<type><integer>\r\n` header line (`*3`, `$5`, `%2`, …) read from a view.
enum RESPHeader {
    /// Header lines are short; a longer one without its CRLF is malformed.
    static let maxLength = 32

    enum Read: Equatable {
        /// At least this many more bytes are needed.
        case needMore(Int)
        case malformed
        /// The type byte, the integer, and the offset after the CRLF.
        case header(type: UInt8, value: Int64, next: Int)
    }

    /// Reads the header at `offset`; the caller checks the type byte.
    static func read(_ input: InputView, at offset: Int, scratch: inout [UInt8]) -> Read {
        let available = input.count - offset
        guard available >= 3 else { return .needMore(3 - max(available, 0)) }
        let window = min(available, maxLength)
        let found = input.withContiguousBytes(from: offset, count: window, scratch: &scratch) { bytes -> Read in
            guard let lf = ASCII.firstIndex(of: UInt8(ascii: "\n"), in: bytes) else {
                return window >= maxLength ? .malformed : .needMore(1)
            }
            guard lf >= 2, bytes[lf - 1] == UInt8(ascii: "\r"),
                  let value = RESPInteger.parse(UnsafeRawBufferPointer(rebasing: bytes[1..<(lf - 1)]))
            else { return .malformed }
            return .header(type: bytes[0], value: value, next: offset + lf + 1)
        }
        return found ?? .malformed
    }
}
