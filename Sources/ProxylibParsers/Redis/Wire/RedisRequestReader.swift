import ProxylibCore

/// Reads one request off the client's stream into `RedisArguments`, framing exactly as redis does: a
/// multibulk request (`*<n>` then `n` bulk strings) when the first byte is `*`, otherwise an inline command
/// (one line, split like redis's `sdssplitargs`).
///
/// Stricter than redis where redis is lax: bulk data must end in CRLF and header lines in CRLF (redis skips two
/// bytes without looking), so the server can never read a command the policy did not see.
struct RedisRequestReader {
    /// redis's `proto-max-bulk-len` default.
    static let maxBulkLength = 512 << 20
    /// Arguments per request; redis allows more, a request this large is refused (the connection closes).
    static let maxArguments = 1 << 20
    /// A last argument this long may pass before it is buffered (when the decision does not read it).
    static let streamedArgumentLength = 64 << 10
    /// redis's PROTO_INLINE_MAX_SIZE.
    static let maxInlineLength = 64 << 10

    enum Read: Equatable {
        case needMore(Int)
        case malformed
        /// A frame that carries no command (`*0`, `*-1`, an empty inline line): redis reads it and answers
        /// nothing.
        case nothing(length: Int)
        /// A command in the arguments. The last argument and its CRLF may not have arrived yet
        /// (`lastArgumentBuffered` false): a large value can pass before it is buffered, when the decision
        /// does not need it — its CRLF then passes unread, as redis itself skips those two bytes unread.
        case command(length: Int, lastArgumentBuffered: Bool)
    }

    private var scratch: [UInt8] = []

    init() {
        scratch.reserveCapacity(RESPHeader.maxLength)
    }

    mutating func read(_ input: InputView, into arguments: RedisArguments) -> Read {
        guard let first = input[0] else { return .needMore(1) }
        if first == UInt8(ascii: "*") { return readMultibulk(input, into: arguments) }
        return readInline(input, into: arguments)
    }

    private mutating func readMultibulk(_ input: InputView, into arguments: RedisArguments) -> Read {
        let count: Int64, afterCount: Int
        switch RESPHeader.read(input, at: 0, scratch: &scratch) {
        case .needMore(let n): return .needMore(n)
        case .malformed: return .malformed
        case .header(_, let value, let next): (count, afterCount) = (value, next)
        }
        if count <= 0 { return .nothing(length: afterCount) }
        guard count <= Self.maxArguments else { return .malformed }
        let argumentCount = Int(count)
        arguments.startMultibulk(input)
        var offset = afterCount
        for index in 0..<argumentCount {
            // Every argument still to come takes at least `$0\r\n\r\n`: asking for that much spares re-reading a
            // long request once per arriving piece. (Small requests ask for the next piece only, so a malformed
            // one is refused as soon as it shows.)
            let toCome = argumentCount - 1 - index
            let minimumAfter = toCome > 16 ? toCome * 6 : 0
            let length: Int, dataStart: Int
            // Arguments are bulk strings: anything else is refused at its first byte.
            if let type = input[offset], type != UInt8(ascii: "$") { return .malformed }
            switch RESPHeader.read(input, at: offset, scratch: &scratch) {
            case .needMore(let n):
                return .needMore(n + minimumAfter)
            case .malformed:
                return .malformed
            case .header(let type, let value, let next):
                guard type == UInt8(ascii: "$"), value >= 0, value <= Self.maxBulkLength else { return .malformed }
                (length, dataStart) = (Int(value), next)
            }
            arguments.append(start: dataStart, length: length)
            let end = dataStart + length
            if index == argumentCount - 1 {
                guard end + 2 <= input.count else {
                    return .command(length: end + 2, lastArgumentBuffered: false)
                }
                // A large last argument may pass before it is buffered, its two closing bytes unread as redis
                // reads them; they are not checked when buffered either, so every delivery frames alike.
                if length >= Self.streamedArgumentLength { return .command(length: end + 2, lastArgumentBuffered: true) }
                guard input.matches("\r\n", at: end) else { return .malformed }
                return .command(length: end + 2, lastArgumentBuffered: true)
            }
            guard end + 2 <= input.count else { return .needMore(end + 2 - input.count + minimumAfter) }
            guard input.matches("\r\n", at: end) else { return .malformed }
            offset = end + 2
        }
        return .malformed
    }

    private mutating func readInline(_ input: InputView, into arguments: RedisArguments) -> Read {
        guard let newline = input.firstIndex(of: UInt8(ascii: "\n")) else {
            return input.count > Self.maxInlineLength ? .malformed : .needMore(1)
        }
        guard newline <= Self.maxInlineLength else { return .malformed }
        arguments.startInline()
        let split = input.withContiguousBytes(from: 0, count: newline, scratch: &scratch) { line -> Bool in
            var content = line
            if let last = content.last, last == UInt8(ascii: "\r") {
                content = UnsafeRawBufferPointer(rebasing: content[..<(content.count - 1)])
            }
            // redis splits a C string: a NUL would end the command where this reader would not.
            guard ASCII.firstIndex(of: 0, in: content) == nil else { return false }
            return InlineSplitter.split(content, into: arguments)
        }
        guard split == true else { return .malformed }
        if arguments.count == 0 { return .nothing(length: newline + 1) }
        return .command(length: newline + 1, lastArgumentBuffered: true)
    }
}

/// Splits an inline command line into arguments as redis's `sdssplitargs` does: blanks separate arguments;
/// double quotes allow `\xHH`, `\n`, `\r`, `\t`, `\b`, `\a` and `\<char>` escapes; single quotes allow `\'`; a
/// closing quote must be followed by a blank or the end. Unbalanced quotes make the line malformed (redis
/// answers a protocol error and closes the connection).
enum InlineSplitter {
    static func split(_ line: UnsafeRawBufferPointer, into arguments: RedisArguments) -> Bool {
        var index = 0
        let end = line.count
        while true {
            while index < end && isBlank(line[index]) { index += 1 }
            if index >= end { return true }
            let start = arguments.inlineBytes.count
            var inDouble = false, inSingle = false
            argument: while true {
                if inDouble {
                    guard index < end else { return false }
                    let byte = line[index]
                    if byte == UInt8(ascii: "\\") && index + 3 < end && line[index + 1] == UInt8(ascii: "x"),
                       let high = ASCIIHex.value(of: line[index + 2]), let low = ASCIIHex.value(of: line[index + 3]) {
                        arguments.inlineBytes.append(high << 4 | low)
                        index += 4
                        continue
                    }
                    if byte == UInt8(ascii: "\\") && index + 1 < end {
                        arguments.inlineBytes.append(unescaped(line[index + 1]))
                        index += 2
                        continue
                    }
                    if byte == UInt8(ascii: "\"") {
                        // The closing quote must end the argument.
                        if index + 1 < end && !isBlank(line[index + 1]) { return false }
                        index += 1
                        break argument
                    }
                    arguments.inlineBytes.append(byte)
                    index += 1
                } else if inSingle {
                    guard index < end else { return false }
                    let byte = line[index]
                    if byte == UInt8(ascii: "\\") && index + 1 < end && line[index + 1] == UInt8(ascii: "'") {
                        arguments.inlineBytes.append(UInt8(ascii: "'"))
                        index += 2
                        continue
                    }
                    if byte == UInt8(ascii: "'") {
                        if index + 1 < end && !isBlank(line[index + 1]) { return false }
                        index += 1
                        break argument
                    }
                    arguments.inlineBytes.append(byte)
                    index += 1
                } else {
                    guard index < end else { break argument }
                    let byte = line[index]
                    switch byte {
                    case UInt8(ascii: "\""): inDouble = true
                    case UInt8(ascii: "'"): inSingle = true
                    // Unlike the blanks skipped between arguments, \v and \f do not end an unquoted one.
                    case 0x20, 0x0A, 0x0D, 0x09: break argument
                    default: arguments.inlineBytes.append(byte)
                    }
                    index += 1
                }
            }
            arguments.append(start: start, length: arguments.inlineBytes.count - start)
        }
    }

    /// C's `isspace`.
    private static func isBlank(_ byte: UInt8) -> Bool {
        byte == 0x20 || (byte >= 0x09 && byte <= 0x0D)
    }

    private static func unescaped(_ byte: UInt8) -> UInt8 {
        switch byte {
        case UInt8(ascii: "n"): return 0x0A
        case UInt8(ascii: "r"): return 0x0D
        case UInt8(ascii: "t"): return 0x09
        case UInt8(ascii: "b"): return 0x08
        case UInt8(ascii: "a"): return 0x07
        default: return byte
        }
    }
}
