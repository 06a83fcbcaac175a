import ProxylibCore

/// Frames the server's replies, RESP2 and RESP3: simple strings, errors, integers, doubles, booleans, big
/// numbers and nulls (one line); bulk strings, bulk errors and verbatim strings (length-prefixed); arrays, sets,
/// pushes, maps and attributes (counted, nested). Resumable: a reply can pass in pieces — a large bulk string
/// passes before it is buffered — and the framer knows where the reply being passed ends.
struct RESPReplyFramer {
    /// Nesting deeper than this is refused (redis's own replies nest a few levels; scripts a few more).
    static let maxDepth = 512
    /// A one-line element longer than this without its CRLF is refused.
    static let maxLineLength = 16 << 20
    static let maxBulkLength: Int64 = 1 << 36
    /// Bulk strings at least this long pass before they are buffered.
    static let streamedBulkThreshold: Int64 = 64 << 10

    private struct Level {
        var remaining: Int64
        /// An attribute map: it decorates the value after it and is not an element of its parent.
        let isAttribute: Bool
    }

    private var stack: [Level] = []
    private var scratch: [UInt8] = []
    /// An attribute came first at the top level: the reply continues with the value it decorates.
    private var awaitingDecoratedValue = false

    init() {
        stack.reserveCapacity(8)
        scratch.reserveCapacity(RESPHeader.maxLength)
    }

    /// Whether a reply has begun and not ended.
    var isInsideReply: Bool { !stack.isEmpty || awaitingDecoratedValue }

    enum Step: Equatable {
        case needMore(Int)
        case malformed
        /// Framed up to `offset` (which may lie beyond the input, inside a bulk string still to come);
        /// `replyComplete` when a whole reply ends there.
        case advanced(to: Int, replyComplete: Bool)
    }

    /// Frames from `start` (inside or at the beginning of a reply) until the reply ends, the input runs out,
    /// or a bulk string reaches beyond the input.
    mutating func advance(_ input: InputView, from start: Int) -> Step {
        var offset = start
        while true {
            guard let type = input[offset] else {
                return offset > start ? .advanced(to: offset, replyComplete: false) : .needMore(1)
            }
            switch type {
            case UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: ":"), UInt8(ascii: ","), UInt8(ascii: "#"),
                 UInt8(ascii: "("), UInt8(ascii: "_"):
                guard let newline = input.firstIndex(of: UInt8(ascii: "\n"), from: offset) else {
                    if input.count - offset > Self.maxLineLength { return .malformed }
                    return offset > start ? .advanced(to: offset, replyComplete: false) : .needMore(1)
                }
                guard newline - offset <= Self.maxLineLength, newline > offset + 1,
                      input[newline - 1] == UInt8(ascii: "\r") else { return .malformed }
                offset = newline + 1
                if completeElement() { return .advanced(to: offset, replyComplete: true) }
            case UInt8(ascii: "$"), UInt8(ascii: "!"), UInt8(ascii: "="):
                let length: Int64, dataStart: Int
                switch RESPHeader.read(input, at: offset, scratch: &scratch) {
                case .needMore(let n):
                    return offset > start ? .advanced(to: offset, replyComplete: false) : .needMore(n)
                case .malformed:
                    return .malformed
                case .header(_, let value, let next):
                    (length, dataStart) = (value, next)
                }
                if length == -1 && type == UInt8(ascii: "$") {
                    // RESP2's null bulk string.
                    offset = dataStart
                    if completeElement() { return .advanced(to: offset, replyComplete: true) }
                    continue
                }
                guard length >= 0, length <= Self.maxBulkLength else { return .malformed }
                let end = dataStart + Int(length) + 2
                if end > input.count && length < Self.streamedBulkThreshold {
                    // A small bulk is passed whole, its CRLF checked; a large one streams, its CRLF unread.
                    return offset > start ? .advanced(to: offset, replyComplete: false) : .needMore(end - input.count)
                }
                if end <= input.count && !input.matches("\r\n", at: end - 2) { return .malformed }
                offset = end
                let complete = completeElement()
                if complete || end > input.count { return .advanced(to: end, replyComplete: complete) }
            case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"), UInt8(ascii: "%"), UInt8(ascii: "|"):
                let count: Int64, next: Int
                switch RESPHeader.read(input, at: offset, scratch: &scratch) {
                case .needMore(let n):
                    return offset > start ? .advanced(to: offset, replyComplete: false) : .needMore(n)
                case .malformed:
                    return .malformed
                case .header(_, let value, let after):
                    (count, next) = (value, after)
                }
                offset = next
                let isMapLike = type == UInt8(ascii: "%") || type == UInt8(ascii: "|")
                if count == -1 && type == UInt8(ascii: "*") {
                    // RESP2's null array.
                    if completeElement() { return .advanced(to: offset, replyComplete: true) }
                    continue
                }
                guard count >= 0, count <= Int64(Int32.max) else { return .malformed }
                if count == 0 {
                    if type == UInt8(ascii: "|") { continue }
                    if completeElement() { return .advanced(to: offset, replyComplete: true) }
                    continue
                }
                guard stack.count < Self.maxDepth else { return .malformed }
                if type == UInt8(ascii: "|") && stack.isEmpty { awaitingDecoratedValue = true }
                stack.append(Level(remaining: isMapLike ? count * 2 : count, isAttribute: type == UInt8(ascii: "|")))
            default:
                return .malformed
            }
        }
    }

    /// One element ended: counts it against the aggregates it closes. Returns whether a whole reply ended.
    private mutating func completeElement() -> Bool {
        while let last = stack.indices.last {
            stack[last].remaining -= 1
            if stack[last].remaining > 0 { return false }
            if stack.removeLast().isAttribute { return false }
        }
        if awaitingDecoratedValue {
            // The attribute itself ended above (it returned false); this is the value it decorates.
            awaitingDecoratedValue = false
        }
        return true
    }

    /// Forgets a reply in progress (the connection is reset).
    mutating func reset() {
        stack.removeAll(keepingCapacity: true)
        awaitingDecoratedValue = false
    }
}
