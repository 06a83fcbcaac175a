import ProxylibCore

/// Reads the head of a push (RESP3 `>`) or, on a subscribed RESP2 connection, of an array reply, to tell
/// pub/sub traffic from replies: messages (`message`, `pmessage`, `smessage`) answer no request;
/// subscription confirmations answer (P|S)(UN)SUBSCRIBE and carry the subscription count.
enum RESPPubSubHead {
    enum Kind: Equatable {
        case message
        case confirmation(RedisSubscriptionKind, unsubscribe: Bool)
        /// RESP2's PING answer while subscribed (`pong`, a reply like any other).
        case pong
        case other
    }

    enum Read: Equatable {
        case needMore(Int)
        case malformed
        case kind(Kind)
        /// A confirmation read whole, with its count.
        case confirmation(RedisSubscriptionKind, unsubscribe: Bool, count: Int64)
    }

    /// The longest kind name (`punsubscribe`, `sunsubscribe`).
    private static let maxKindLength = 12
    /// A confirmation is read whole before it passes; its channel name is bounded.
    private static let maxChannelLength = 1 << 20

    static func read(_ input: InputView, scratch: inout [UInt8]) -> Read {
        guard case .header(_, let count, let afterHeader) = RESPHeader.read(input, at: 0, scratch: &scratch) else {
            if case .needMore(let n) = RESPHeader.read(input, at: 0, scratch: &scratch) { return .needMore(n) }
            return .malformed
        }
        guard count >= 1 else { return .kind(.other) }
        let kind: Kind, afterKind: Int
        switch readKind(input, at: afterHeader, scratch: &scratch) {
        case .needMore(let n): return .needMore(n)
        case .malformed: return .malformed
        case .confirmation: return .malformed
        case .kind(let found):
            guard case .confirmation = found else { return .kind(found) }
            kind = found
            switch kindEnd(input, at: afterHeader, scratch: &scratch) {
            case .needMore(let n): return .needMore(n)
            case .malformed: return .malformed
            case .header(_, _, let next): afterKind = next
            }
        }
        guard case .confirmation(let subscriptionKind, let unsubscribe) = kind, count == 3 else { return .kind(kind) }
        // The channel (or a null when unsubscribing from nothing), then the count.
        var offset = afterKind
        guard let type = input[offset] else { return .needMore(1) }
        if type == UInt8(ascii: "_") {
            guard input.count >= offset + 3 else { return .needMore(offset + 3 - input.count) }
            guard input.matches("_\r\n", at: offset) else { return .malformed }
            offset += 3
        } else {
            switch RESPHeader.read(input, at: offset, scratch: &scratch) {
            case .needMore(let n): return .needMore(n)
            case .malformed: return .malformed
            case .header(let headerType, let length, let next):
                if length == -1 && (headerType == UInt8(ascii: "$") || headerType == UInt8(ascii: "*")) {
                    offset = next
                } else {
                    guard headerType == UInt8(ascii: "$"), length >= 0, length <= maxChannelLength else { return .malformed }
                    let end = next + Int(length) + 2
                    guard end <= input.count else { return .needMore(end - input.count) }
                    guard input.matches("\r\n", at: end - 2) else { return .malformed }
                    offset = end
                }
            }
        }
        switch RESPHeader.read(input, at: offset, scratch: &scratch) {
        case .needMore(let n): return .needMore(n)
        case .malformed: return .malformed
        case .header(let type, let subscriptions, _):
            guard type == UInt8(ascii: ":") else { return .malformed }
            return .confirmation(subscriptionKind, unsubscribe: unsubscribe, count: subscriptions)
        }
    }

    private static func readKind(_ input: InputView, at offset: Int, scratch: inout [UInt8]) -> Read {
        switch RESPHeader.read(input, at: offset, scratch: &scratch) {
        case .needMore(let n): return .needMore(n)
        case .malformed: return .kind(.other)
        case .header(let type, let length, let next):
            guard type == UInt8(ascii: "$"), length >= 0, length <= maxKindLength else { return .kind(.other) }
            let end = next + Int(length)
            guard end <= input.count else { return .needMore(end - input.count) }
            let kind = input.withContiguousBytes(from: next, count: Int(length), scratch: &scratch) { name -> Kind in
                classify(name)
            }
            return .kind(kind ?? .other)
        }
    }

    /// Where the kind element ends (its CRLF included), as a header read whose `next` is that offset.
    private static func kindEnd(_ input: InputView, at offset: Int, scratch: inout [UInt8]) -> RESPHeader.Read {
        guard case .header(let type, let length, let next) = RESPHeader.read(input, at: offset, scratch: &scratch) else {
            return .malformed
        }
        let end = next + Int(length) + 2
        guard end <= input.count else { return .needMore(end - input.count) }
        guard input.matches("\r\n", at: end - 2) else { return .malformed }
        return .header(type: type, value: length, next: end)
    }

    private static func classify(_ name: UnsafeRawBufferPointer) -> Kind {
        // Redis writes these in lowercase.
        if ASCIICase.equals(name, "message") || ASCIICase.equals(name, "pmessage") || ASCIICase.equals(name, "smessage") {
            return .message
        }
        if ASCIICase.equals(name, "pong") { return .pong }
        if ASCIICase.equals(name, "subscribe") { return .confirmation(.channel, unsubscribe: false) }
        if ASCIICase.equals(name, "unsubscribe") { return .confirmation(.channel, unsubscribe: true) }
        if ASCIICase.equals(name, "psubscribe") { return .confirmation(.pattern, unsubscribe: false) }
        if ASCIICase.equals(name, "punsubscribe") { return .confirmation(.pattern, unsubscribe: true) }
        if ASCIICase.equals(name, "ssubscribe") { return .confirmation(.shard, unsubscribe: false) }
        if ASCIICase.equals(name, "sunsubscribe") { return .confirmation(.shard, unsubscribe: true) }
        return .other
    }
}
