import ProxylibCore

/// Access-log values of memcache entries, built in reused scratch space: short ASCII values stay inline in
/// the entry (no allocation).
enum MemcacheLogText {
    /// The keys joined with ", " (upstream's `keys` field).
    static func joined(_ keys: MemcacheKeys, scratch: inout [UInt8]) -> LogText {
        scratch.removeAll(keepingCapacity: true)
        keys.forEach { key in
            if !scratch.isEmpty {
                scratch.append(UInt8(ascii: ","))
                scratch.append(UInt8(ascii: " "))
            }
            scratch.append(contentsOf: key)
        }
        return scratch.withUnsafeBytes { LogText(decoding: $0) }
    }

    /// A byte as decimal digits (the binary `opcode` field).
    static func decimal(_ value: UInt8) -> LogText {
        var digits: (UInt8, UInt8, UInt8) = (0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            var remaining = Int(value)
            var reversed: (UInt8, UInt8, UInt8) = (0, 0, 0)
            withUnsafeMutableBytes(of: &reversed) { scratch in
                repeat {
                    scratch[count] = UInt8(ascii: "0") + UInt8(remaining % 10)
                    remaining /= 10
                    count += 1
                } while remaining > 0
                for index in 0..<count { buffer[index] = scratch[count - 1 - index] }
            }
        }
        return withUnsafeBytes(of: &digits) { LogText(decoding: UnsafeRawBufferPointer(rebasing: $0[..<count])) }
    }
}
