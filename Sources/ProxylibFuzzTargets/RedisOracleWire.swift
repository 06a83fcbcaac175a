/// The redis oracle's own reading of the wire, written from the RESP specification, redis's networking code
/// (`processMultibulkBuffer`, `processInlineBuffer`, `sdssplitargs`, `string2ll`) and the redis contract of
/// this repository (/work/redis-contract.md: header lines of at most 32 bytes, a CRLF after every bulk, strict
/// integers), without any parser code.
enum RedisWire {
    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A
    /// A header line (`*3\r\n`, `$5\r\n`) longer than this, CRLF included, is malformed.
    static let maxHeaderLine = 32
    static let maxArguments: Int64 = 1 << 20
    static let maxBulk: Int64 = 512 << 20
    static let maxInline = 64 << 10
    /// A last argument at least this long may pass before it is buffered when the decision does not read it.
    static let streamedArgument = 64 << 10

    // MARK: Integers and header lines

    /// redis's `string2ll`: an optional `-`, decimal digits, no `+`, no leading zeros ("0" itself excepted, "-0"
    /// not), within Int64.
    static func strictInteger<C: Collection>(_ bytes: C) -> Int64? where C.Element == UInt8 {
        var digits = bytes[...]
        guard let first = digits.first else { return nil }
        let negative = first == UInt8(ascii: "-")
        if negative { digits = digits.dropFirst() }
        guard let lead = digits.first else { return nil }
        if lead == UInt8(ascii: "0") { return digits.count == 1 && !negative ? 0 : nil }
        var magnitude: UInt64 = 0
        for byte in digits {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let (times, o1) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            guard !o1, !o2 else { return nil }
            magnitude = sum
        }
        if negative {
            if magnitude == UInt64(Int64.max) + 1 { return Int64.min }
            guard magnitude <= UInt64(Int64.max) else { return nil }
            return -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { return nil }
        return Int64(magnitude)
    }

    enum Header: Equatable {
        case needMore
        case malformed
        case header(type: UInt8, value: Int64, next: Int)
    }

    /// A `<type><integer>\r\n` line at `at`: the LF within the first 32 bytes, a CR before it, a strict integer
    /// between the type byte and the CR.
    static func header(_ s: [UInt8], at: Int) -> Header {
        let available = s.count - at
        guard available >= 3 else { return .needMore }
        let window = min(available, maxHeaderLine)
        var newline: Int?
        for index in at..<(at + window) where s[index] == lf {
            newline = index
            break
        }
        guard let newline else { return window >= maxHeaderLine ? .malformed : .needMore }
        guard newline - at >= 2, s[newline - 1] == cr, let value = strictInteger(s[(at + 1)..<(newline - 1)]) else {
            return .malformed
        }
        return .header(type: s[at], value: value, next: newline + 1)
    }

    // MARK: Requests

    /// How much of a command's last argument is in.
    enum Tail: Equatable {
        /// Data and CRLF.
        case whole
        /// The data, not (all of) its CRLF: redis skips two bytes there without looking, so a decision may be
        /// taken now and the two bytes follow whatever they are.
        case crlfPending
        /// Part of the data (the last argument is nil), `length` bytes long.
        case dataPending(length: Int)
    }

    struct Command {
        /// The arguments; the last is nil while its data is pending.
        var arguments: [[UInt8]?]
        var length: Int
        var tail: Tail
        var inline: Bool

        var words: [[UInt8]] { arguments.compactMap { $0 } }
    }

    enum Request {
        case needMore
        case malformed(String)
        /// `*0`, `*-1`, a negative count, an empty inline line: read, no command, no reply.
        case nothing(length: Int)
        case command(Command)
    }

    static func readRequest(_ s: [UInt8], at start: Int) -> Request {
        guard start < s.count else { return .needMore }
        return s[start] == UInt8(ascii: "*") ? readMultibulk(s, at: start) : readInline(s, at: start)
    }

    private static func readMultibulk(_ s: [UInt8], at start: Int) -> Request {
        let count: Int64, first: Int
        switch header(s, at: start) {
        case .needMore: return .needMore
        case .malformed: return .malformed("multibulk header")
        case .header(_, let value, let next): (count, first) = (value, next)
        }
        if count <= 0 { return .nothing(length: first - start) }
        guard count <= maxArguments else { return .malformed("\(count) arguments") }
        var arguments: [[UInt8]?] = []
        var at = first
        for index in 0..<Int(count) {
            let length: Int, dataStart: Int
            // The parser refuses an argument header at its first byte when that is not `$` (redis waits for the
            // line; either way the request is refused).
            if at < s.count && s[at] != UInt8(ascii: "$") {
                return .malformed("argument \(index) header starts with \(s[at])")
            }
            switch header(s, at: at) {
            case .needMore: return .needMore
            case .malformed: return .malformed("bulk header of argument \(index)")
            case .header(let type, let value, let next):
                guard type == UInt8(ascii: "$"), value >= 0, value <= maxBulk else {
                    return .malformed("argument \(index) header \(Character(Unicode.Scalar(type)))\(value)")
                }
                (length, dataStart) = (Int(value), next)
            }
            let end = dataStart + length
            if index == Int(count) - 1 {
                if end > s.count {
                    arguments.append(nil)
                    return .command(Command(arguments: arguments, length: end + 2 - start, tail: .dataPending(length: length), inline: false))
                }
                arguments.append(Array(s[dataStart..<end]))
                if end + 2 > s.count {
                    return .command(Command(arguments: arguments, length: end + 2 - start, tail: .crlfPending, inline: false))
                }
                guard s[end] == cr, s[end + 1] == lf else { return .malformed("argument \(index) not followed by CRLF") }
                return .command(Command(arguments: arguments, length: end + 2 - start, tail: .whole, inline: false))
            }
            guard end + 2 <= s.count else { return .needMore }
            guard s[end] == cr, s[end + 1] == lf else { return .malformed("argument \(index) not followed by CRLF") }
            arguments.append(Array(s[dataStart..<end]))
            at = end + 2
        }
        return .malformed("unreachable")
    }

    private static func readInline(_ s: [UInt8], at start: Int) -> Request {
        var newline: Int?
        for index in start..<s.count where s[index] == lf {
            newline = index
            break
        }
        guard let newline else { return s.count - start > maxInline ? .malformed("inline line too long") : .needMore }
        guard newline - start <= maxInline else { return .malformed("inline line too long") }
        var line = Array(s[start..<newline])
        if line.last == cr { line.removeLast() }
        guard !line.contains(0) else { return .malformed("NUL in an inline command") }
        guard let words = splitArguments(line) else { return .malformed("unbalanced quotes") }
        if words.isEmpty { return .nothing(length: newline + 1 - start) }
        return .command(Command(arguments: words.map { Optional($0) }, length: newline + 1 - start, tail: .whole, inline: true))
    }

    /// C's isspace.
    static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || (0x09...0x0D).contains(byte) }

    static func hexDigit(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// redis's `sdssplitargs` over a line without NUL bytes (its end plays the NUL): nil for unbalanced quotes
    /// or a closing quote followed by something other than a blank.
    static func splitArguments(_ line: [UInt8]) -> [[UInt8]]? {
        var words: [[UInt8]] = []
        var p = 0
        func at(_ index: Int) -> UInt8 { index < line.count ? line[index] : 0 }
        while true {
            while p < line.count && isSpace(line[p]) { p += 1 }
            if p >= line.count { return words }
            var current: [UInt8] = []
            var inDouble = false, inSingle = false, done = false
            while !done {
                let c = at(p)
                if inDouble {
                    if c == UInt8(ascii: "\\") && at(p + 1) == UInt8(ascii: "x"),
                       let high = hexDigit(at(p + 2)), let low = hexDigit(at(p + 3)) {
                        current.append(high << 4 | low)
                        p += 3
                    } else if c == UInt8(ascii: "\\") && at(p + 1) != 0 {
                        p += 1
                        switch at(p) {
                        case UInt8(ascii: "n"): current.append(0x0A)
                        case UInt8(ascii: "r"): current.append(0x0D)
                        case UInt8(ascii: "t"): current.append(0x09)
                        case UInt8(ascii: "b"): current.append(0x08)
                        case UInt8(ascii: "a"): current.append(0x07)
                        default: current.append(at(p))
                        }
                    } else if c == UInt8(ascii: "\"") {
                        if at(p + 1) != 0 && !isSpace(at(p + 1)) { return nil }
                        done = true
                    } else if c == 0 {
                        return nil
                    } else {
                        current.append(c)
                    }
                } else if inSingle {
                    if c == UInt8(ascii: "\\") && at(p + 1) == UInt8(ascii: "'") {
                        p += 1
                        current.append(UInt8(ascii: "'"))
                    } else if c == UInt8(ascii: "'") {
                        if at(p + 1) != 0 && !isSpace(at(p + 1)) { return nil }
                        done = true
                    } else if c == 0 {
                        return nil
                    } else {
                        current.append(c)
                    }
                } else {
                    switch c {
                    case 0x20, 0x0A, 0x0D, 0x09, 0: done = true
                    case UInt8(ascii: "\""): inDouble = true
                    case UInt8(ascii: "'"): inSingle = true
                    default: current.append(c)
                    }
                }
                if c != 0 { p += 1 }
            }
            words.append(current)
        }
    }

    // MARK: Replies

    /// Frames the server's stream into RESP2/RESP3 replies as the bytes arrive, one write at a time. An element
    /// counts as read once its header is (a bulk's data may still be on its way: it passes as it comes, and its
    /// CRLF is checked only when it was there with the header); an attribute (`|`) decorates the value after it
    /// and is not an element of its parent; `*-1` and `$-1` are RESP2 nulls.
    struct ReplyFramer {
        enum Event: Equatable {
            /// A reply begins at `at` with this type byte.
            case began(at: Int, type: UInt8)
            /// The reply that began last ends at `end` (which may lie beyond the bytes in); `null`: a top-level
            /// `_`, `$-1` or `*-1`; `decorated`: it began with an attribute.
            case completed(end: Int, null: Bool, decorated: Bool)
            case malformed(at: Int, why: String)
        }

        static let maxDepth = 512

        private var stack: [(remaining: Int64, attribute: Bool)] = []
        private(set) var at = 0
        private(set) var inReply = false
        private(set) var failed = false
        private var decorated = false

        mutating func advance(_ s: [UInt8]) -> [Event] {
            var events: [Event] = []
            while !failed && at < s.count {
                let type = s[at]
                if !inReply {
                    inReply = true
                    decorated = type == UInt8(ascii: "|")
                    events.append(.began(at: at, type: type))
                }
                var null = false
                let topLevel = stack.isEmpty
                switch type {
                case UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: ":"), UInt8(ascii: ","), UInt8(ascii: "#"),
                     UInt8(ascii: "("), UInt8(ascii: "_"):
                    var newline: Int?
                    for index in at..<s.count where s[index] == lf {
                        newline = index
                        break
                    }
                    guard let newline else { return events }
                    guard newline - at >= 2, s[newline - 1] == cr else {
                        failed = true
                        events.append(.malformed(at: at, why: "a line element without CRLF"))
                        return events
                    }
                    null = type == UInt8(ascii: "_")
                    at = newline + 1
                case UInt8(ascii: "$"), UInt8(ascii: "!"), UInt8(ascii: "="):
                    switch RedisWire.header(s, at: at) {
                    case .needMore: return events
                    case .malformed:
                        failed = true
                        events.append(.malformed(at: at, why: "a bulk header"))
                        return events
                    case .header(_, let length, let next):
                        if length == -1 && type == UInt8(ascii: "$") {
                            null = true
                            at = next
                            break
                        }
                        guard length >= 0, length <= 1 << 36 else {
                            failed = true
                            events.append(.malformed(at: at, why: "bulk length \(length)"))
                            return events
                        }
                        let end = next + Int(length) + 2
                        // The parser passes a bulk under 64 KiB whole (its CRLF checked): until then it has not begun.
                        if end > s.count && length < 64 << 10 { return events }
                        if end <= s.count && !(s[end - 2] == cr && s[end - 1] == lf) {
                            failed = true
                            events.append(.malformed(at: at, why: "bulk data not followed by CRLF"))
                            return events
                        }
                        at = end
                    }
                case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"), UInt8(ascii: "%"), UInt8(ascii: "|"):
                    switch RedisWire.header(s, at: at) {
                    case .needMore: return events
                    case .malformed:
                        failed = true
                        events.append(.malformed(at: at, why: "an aggregate header"))
                        return events
                    case .header(_, let count, let next):
                        at = next
                        if count == -1 && type == UInt8(ascii: "*") {
                            null = true
                            break
                        }
                        guard count >= 0, count <= Int64(Int32.max) else {
                            failed = true
                            events.append(.malformed(at: at, why: "aggregate count \(count)"))
                            return events
                        }
                        if count == 0 {
                            if type == UInt8(ascii: "|") { continue }
                            break
                        }
                        guard stack.count < Self.maxDepth else {
                            failed = true
                            events.append(.malformed(at: at, why: "nested deeper than \(Self.maxDepth)"))
                            return events
                        }
                        let mapLike = type == UInt8(ascii: "%") || type == UInt8(ascii: "|")
                        stack.append((mapLike ? count * 2 : count, type == UInt8(ascii: "|")))
                        continue
                    }
                default:
                    failed = true
                    events.append(.malformed(at: at, why: "type byte \(type)"))
                    return events
                }
                // One element ended.
                if elementEnded() {
                    inReply = false
                    events.append(.completed(end: at, null: null && topLevel, decorated: decorated))
                }
            }
            return events
        }

        private mutating func elementEnded() -> Bool {
            while let last = stack.indices.last {
                stack[last].remaining -= 1
                if stack[last].remaining > 0 { return false }
                // An attribute is no element of its parent: the value it decorates follows.
                if stack.removeLast().attribute { return false }
            }
            return true
        }
    }
}
