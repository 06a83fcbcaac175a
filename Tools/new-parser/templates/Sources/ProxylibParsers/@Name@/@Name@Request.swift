import ProxylibCore

/// One `@name@` request as the policy sees it: views into the request line, valid during the policy check
/// only (rules must not keep them).
struct @Name@Request {
    /// 1-32 ASCII letters.
    let verb: UnsafeRawBufferPointer
    /// Everything after the first space (empty when there is none); may hold further spaces.
    let resource: UnsafeRawBufferPointer

    static let maxVerbLength = 32

    /// Splits a request line (without its LF); nil when it is not a request (no verb, or not letters).
    init?(line: UnsafeRawBufferPointer) {
        var text = line
        if let last = text.last, last == UInt8(ascii: "\r") {
            text = UnsafeRawBufferPointer(rebasing: text[..<(text.count - 1)])
        }
        let space = text.firstIndex(of: UInt8(ascii: " ")) ?? text.count
        guard space > 0, space <= Self.maxVerbLength else { return nil }
        let verb = UnsafeRawBufferPointer(rebasing: text[..<space])
        guard verb.allSatisfy(Self.isLetter) else { return nil }
        self.verb = verb
        resource = space < text.count ? UnsafeRawBufferPointer(rebasing: text[(space + 1)...])
                                      : UnsafeRawBufferPointer(start: nil, count: 0)
    }

    static func isLetter(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
    }
}
