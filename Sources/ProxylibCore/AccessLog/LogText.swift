#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The text of an access-log field value. A parser logging bytes it read off the wire (a command, a key, a
/// file name) gets them held inline when they are short ASCII — no String, no allocation for the entry;
/// anything else is a String (bytes that are not valid UTF-8 repaired with U+FFFD, as Go's logger shows them).
public struct LogText: Sendable, Equatable, CustomStringConvertible, ExpressibleByStringInterpolation {
    /// Up to `inlineCapacity` ASCII bytes in place.
    private struct Inline: Sendable {
        var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        var count: UInt8 = 0
    }

    private enum Storage: Sendable {
        case inline(Inline)
        case string(String)
    }

    public static var inlineCapacity: Int { 32 }

    private let storage: Storage

    public init(_ string: String) {
        storage = .string(string)
    }

    public init(stringLiteral value: String) {
        self.init(value)
    }

    public init(stringInterpolation: DefaultStringInterpolation) {
        self.init(String(stringInterpolation: stringInterpolation))
    }

    /// `bytes` as text: inline when they are at most `inlineCapacity` ASCII bytes.
    public init(decoding bytes: UnsafeRawBufferPointer) {
        guard bytes.count <= Self.inlineCapacity, Self.isASCII(bytes) else {
            storage = .string(String(decoding: bytes, as: UTF8.self))
            return
        }
        var inline = Inline()
        inline.count = UInt8(bytes.count)
        withUnsafeMutableBytes(of: &inline.words) { words in
            if let source = bytes.baseAddress, let target = words.baseAddress, !bytes.isEmpty {
                target.copyMemory(from: source, byteCount: bytes.count)
            }
        }
        storage = .inline(inline)
    }

    private static func isASCII(_ bytes: UnsafeRawBufferPointer) -> Bool {
        for byte in bytes where byte >= 0x80 {
            return false
        }
        return true
    }

    /// Calls `body` with the UTF-8 bytes, without copying them out.
    public func withUTF8Bytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        switch storage {
        case .inline(var inline):
            let count = Int(inline.count)
            return try withUnsafeBytes(of: &inline.words) { try body(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
        case .string(let string):
            if let result = try string.utf8.withContiguousStorageIfAvailable({ try body(UnsafeRawBufferPointer($0)) }) {
                return result
            }
            var contiguous = string
            return try contiguous.withUTF8 { try body(UnsafeRawBufferPointer($0)) }
        }
    }

    /// The text as a String (allocates for an inline value longer than 15 bytes).
    public var string: String {
        switch storage {
        case .inline: return withUTF8Bytes { String(decoding: $0, as: UTF8.self) }
        case .string(let string): return string
        }
    }

    public var description: String { string }

    public static func == (lhs: LogText, rhs: LogText) -> Bool {
        lhs.withUTF8Bytes { left in
            rhs.withUTF8Bytes { right in
                guard left.count == right.count else { return false }
                guard let l = left.baseAddress, let r = right.baseAddress, !left.isEmpty else { return true }
                return memcmp(l, r, left.count) == 0
            }
        }
    }
}
