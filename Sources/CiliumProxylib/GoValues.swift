import CProxylib

/// Conversions from cgo's value types. The host's memory is only borrowed for the duration of a call, so
/// every string the library keeps is copied here.
extension GoString {
    /// The string's bytes as a Swift String (copied; invalid UTF-8 repaired).
    var string: String {
        guard n > 0, let p else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: p, count: n), as: UTF8.self)
    }
}

/// A `{GoString key; GoString value;}` element of OpenModule's params slice.
struct GoStringPair {
    var key: GoString
    var value: GoString
}

extension GoSlice {
    /// Reads the slice as `{key, value}` string pairs; nil when the header is malformed.
    var stringPairs: [(key: String, value: String)]? {
        guard len >= 0 else { return nil }
        guard len > 0 else { return [] }
        guard let data else { return nil }
        let pairs = data.bindMemory(to: GoStringPair.self, capacity: Int(len))
        return (0..<Int(len)).map { (pairs[$0].key.string, pairs[$0].value.string) }
    }
}
