#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A string value as the access log writes it: within a byte limit, with NUL bytes (which the collector's
/// protobuf-c `char *` strings cannot carry) as U+FFFD. A value that does not fit is cut on a UTF-8 character
/// boundary and ends in `…[truncated N bytes]`, N counting the source bytes left out.
///
/// The decision is made from the source bytes alone, before anything is written, so that the field's length
/// prefix can be written first and the bytes copied once.
struct LimitedString {
    /// Source bytes written (before any marker).
    let kept: Int
    /// Source bytes left out (0: the value is whole).
    let dropped: Int
    /// The written length: the kept bytes with each NUL as 3 bytes, plus the marker.
    let length: Int
    /// Whether the kept bytes hold a NUL (they are copied byte by byte then).
    private let hasNUL: Bool

    private static let markerPrefix: StaticString = "…[truncated "
    private static let markerSuffix: StaticString = " bytes]"
    private static let replacementCharacter: StaticString = "\u{FFFD}"

    /// nil when the value does not fit and `limit` leaves no room even for the marker (the field is left out).
    init?(_ source: UnsafeRawBufferPointer, limit: Int) {
        guard limit >= 0 else { return nil }
        let total = source.count
        let nulFree = Self.hasNoNUL(source)
        if total <= limit && nulFree {
            self.init(kept: total, dropped: 0, length: total, hasNUL: false)
            return
        }
        // Take bytes while they fit (a NUL takes the three bytes of U+FFFD).
        var written = 0
        var index = 0
        while index < total {
            let width = source[index] == 0 ? 3 : 1
            if written + width > limit { break }
            written += width
            index += 1
        }
        if index == total {
            self.init(kept: total, dropped: 0, length: written, hasNUL: !nulFree)
            return
        }
        // Cut: give bytes back until the marker fits (its length for `total` dropped bytes bounds every shorter
        // count) and the cut is on a character boundary (the first dropped byte is not a continuation byte).
        let markerReserve = Self.markerLength(dropped: total)
        guard limit >= markerReserve else { return nil }
        while index > 0 && (written + markerReserve > limit || source[index] & 0xC0 == 0x80) {
            index -= 1
            written -= source[index] == 0 ? 3 : 1
        }
        let dropped = total - index
        self.init(kept: index, dropped: dropped, length: written + Self.markerLength(dropped: dropped),
                  hasNUL: !nulFree)
    }

    private init(kept: Int, dropped: Int, length: Int, hasNUL: Bool) {
        self.kept = kept
        self.dropped = dropped
        self.length = length
        self.hasNUL = hasNUL
    }

    static func markerLength(dropped: Int) -> Int {
        markerPrefix.utf8CodeUnitCount + decimalDigits(dropped) + markerSuffix.utf8CodeUnitCount
    }

    static func decimalDigits(_ number: Int) -> Int {
        var digits = 1
        var rest = max(number, 0)
        while rest >= 10 {
            rest /= 10
            digits += 1
        }
        return digits
    }

    private static func hasNoNUL(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return true }
        return memchr(base, 0, bytes.count) == nil
    }

    /// Writes the value's bytes (not its tag or length) from `source`, the bytes it was measured on.
    func write(_ source: UnsafeRawBufferPointer, to writer: inout ProtobufWriter) {
        if let base = source.baseAddress, kept > 0 {
            if hasNUL {
                for index in 0..<kept {
                    let byte = source[index]
                    if byte == 0 {
                        writer.text(Self.replacementCharacter)
                    } else {
                        writer.byte(byte)
                    }
                }
            } else {
                writer.bytes(base, kept)
            }
        }
        if dropped > 0 {
            writer.text(Self.markerPrefix)
            writer.decimal(dropped)
            writer.text(Self.markerSuffix)
        }
    }
}

extension ProtobufWriter {
    /// A string field from `source` as `cut` says (left out when empty, proto3), or always for repeated fields.
    mutating func stringField(_ field: UInt64, _ source: UnsafeRawBufferPointer, _ cut: LimitedString,
                              always: Bool = false) {
        guard cut.length > 0 || always else { return }
        lengthDelimitedHeader(field, cut.length)
        cut.write(source, to: &self)
    }

    /// A string field composed of `prefix`, a decimal number and `suffix` (the omission markers).
    mutating func composedStringField(_ field: UInt64, _ prefix: StaticString, _ number: Int, _ suffix: StaticString) {
        lengthDelimitedHeader(field, Self.composedLength(prefix, number, suffix))
        text(prefix)
        decimal(number)
        text(suffix)
    }

    static func composedLength(_ prefix: StaticString, _ number: Int, _ suffix: StaticString) -> Int {
        prefix.utf8CodeUnitCount + LimitedString.decimalDigits(number) + suffix.utf8CodeUnitCount
    }
}
