/// A minimal protobuf wire encoder for the structure-aware NPDS fuzz target. It is written separately from
/// the library's decoder (protobuf-c) and encoder on purpose: a message built here and decoded there checks
/// the two against each other.
struct WireEncoder {
    private(set) var bytes: [UInt8] = []

    mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    mutating func tag(_ field: UInt64, wireType: UInt64) {
        varint(field << 3 | wireType)
    }

    mutating func varintField(_ field: UInt64, _ value: UInt64) {
        tag(field, wireType: 0)
        varint(value)
    }

    mutating func bytesField(_ field: UInt64, _ value: [UInt8]) {
        tag(field, wireType: 2)
        varint(UInt64(value.count))
        bytes += value
    }

    mutating func stringField(_ field: UInt64, _ value: String) {
        bytesField(field, Array(value.utf8))
    }

    mutating func messageField(_ field: UInt64, _ build: (inout WireEncoder) -> Void) {
        var inner = WireEncoder()
        build(&inner)
        bytesField(field, inner.bytes)
    }

    /// A repeated varint field, packed (one length-delimited run) or one tag per value.
    mutating func repeatedVarint(_ field: UInt64, _ values: [UInt64], packed: Bool) {
        guard !values.isEmpty else { return }
        if packed {
            var run = WireEncoder()
            for value in values { run.varint(value) }
            bytesField(field, run.bytes)
        } else {
            for value in values { varintField(field, value) }
        }
    }
}
