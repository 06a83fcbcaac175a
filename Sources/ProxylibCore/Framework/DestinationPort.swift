/// Extracts the destination port the way upstream does (Go's `net.SplitHostPort`, then
/// `strconv.ParseUint(port, 10, 32)`): `host:port` or `[ipv6]:port`, decimal digits only, 0 is invalid
/// (it is the policy wildcard).
enum DestinationPort {
    static func parse(_ address: String) -> UInt32? {
        let bytes = Array(address.utf8)
        guard let portText = splitPort(bytes) else { return nil }
        guard !portText.isEmpty else { return nil }
        var value: UInt64 = 0
        for byte in portText {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + UInt64(byte - UInt8(ascii: "0"))
            guard value <= UInt64(UInt32.max) else { return nil }
        }
        guard value != 0 else { return nil }
        return UInt32(value)
    }

    /// The port part of `host:port`, or nil when the address does not split.
    private static func splitPort(_ s: [UInt8]) -> ArraySlice<UInt8>? {
        let colon = UInt8(ascii: ":"), open = UInt8(ascii: "["), close = UInt8(ascii: "]")
        guard let lastColon = s.lastIndex(of: colon) else { return nil }
        // After the host starts (j) no '[' may follow; after the host ends (k) no ']' may follow.
        var j = 0, k = 0
        if s.first == open {
            guard let end = s.firstIndex(of: close) else { return nil }
            guard end + 1 == lastColon else { return nil }  // "[h]" without port, "[h]x:p", or "[h]:p:q"
            j = 1
            k = end + 1
        } else if s[..<lastColon].contains(colon) {
            return nil  // too many colons: an IPv6 address must be bracketed
        }
        if s[j...].contains(open) || s[k...].contains(close) { return nil }
        return s[(lastColon + 1)...]
    }
}
