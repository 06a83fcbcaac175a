/// How the server frames its reply to a text or meta command.
enum TextReplyShape: UInt8 {
    /// One line.
    case line
    /// `VALUE <key> <flags> <bytes> [<cas>]` lines, each with a data block, then `END` (get, gets, gat, gats).
    case values
    /// Lines up to `END`, or a single `RESET`/`OK` (stats and its subcommands).
    case statLines
    /// Lines up to `END` (lru_crawler metadump).
    case dumpLines
    /// Lines up to `EN` (lru_crawler mgdump).
    case metaDumpLines
    /// `VA <bytes> <flags>*` with a data block, or one line (mg, ma).
    case metaValue
    /// No reply (quit).
    case none
}

/// One parsed text or meta command line: what the policy checks, how the request and its reply are framed.
struct TextRequestLine {
    let command: MemcacheTextCommand
    /// For meta commands: the classic command of the same meaning, which rules also match.
    let equivalent: MemcacheTextCommand?
    /// The keys: the key list of a retrieval command, or one key.
    let keyBytes: UnsafeRawBufferPointer
    let keyIsList: Bool
    let keyIsBase64: Bool
    /// Bytes of the data block that follows the line (storage commands and `ms`), without its CRLF.
    let dataLength: Int?
    /// `noreply`: the server sends no reply at all.
    let noreply: Bool
    let meta: MetaFlags?
    let shape: TextReplyShape

    /// memcached's key length limit.
    static let maxKeyLength = 250
    /// The largest data block accepted: memcached's item size limit can be raised to 1 GiB, no further.
    static let maxDataLength = 1 << 30

    /// Parses a command line (without its line ending); nil when memcached would not understand it either
    /// (unknown command, missing or malformed arguments, keys over 250 bytes).
    static func parse(_ line: UnsafeRawBufferPointer) -> TextRequestLine? {
        var tokens = TextTokens(line)
        guard let name = tokens.next(), let command = MemcacheTextCommand.lookup(name) else { return nil }
        // The argument count and memcached's `set_noreply_maybe` (the last token is `noreply`), for the commands
        // that need them: one more pass over the line.
        let arguments: Int
        let noreply: Bool
        switch command {
        case .get, .gets, .gat, .gats, .stats, .lruCrawler, .version, .misbehave, .watch, .quit, .metaNoop,
             .metaGet, .metaSet, .metaDelete, .metaArithmetic, .metaDebug:
            (arguments, noreply) = (0, false)
        default:
            let summary = tokens.remainingSummary()
            arguments = summary.count
            noreply = summary.last.map { TextNumbers.equals($0, "noreply") } ?? false
        }

        func single(_ key: UnsafeRawBufferPointer, shape: TextReplyShape = .line, data: Int? = nil,
                    noreply: Bool = false) -> TextRequestLine? {
            guard isValidKey(key) else { return nil }
            return TextRequestLine(command: command, equivalent: nil, keyBytes: key, keyIsList: false,
                                   keyIsBase64: false, dataLength: data, noreply: noreply, meta: nil, shape: shape)
        }
        func keyless(shape: TextReplyShape = .line, noreply: Bool = false) -> TextRequestLine {
            TextRequestLine(command: command, equivalent: nil, keyBytes: UnsafeRawBufferPointer(start: nil, count: 0),
                            keyIsList: true, keyIsBase64: false, dataLength: nil, noreply: noreply, meta: nil,
                            shape: shape)
        }

        switch command {
        case .get, .gets, .gat, .gats:
            if command == .gat || command == .gats {
                guard let exptime = tokens.next(), TextNumbers.isInteger(exptime) else { return nil }
            }
            let list = tokens.rest
            var keys = TextTokens(list)
            var count = 0
            while let key = keys.next() {
                guard isValidKey(key) else { return nil }
                count += 1
            }
            guard count > 0 else { return nil }
            return TextRequestLine(command: command, equivalent: nil, keyBytes: list, keyIsList: true,
                                   keyIsBase64: false, dataLength: nil, noreply: false, meta: nil, shape: .values)

        case .set, .add, .replace, .append, .prepend, .cas:
            // <key> <flags> <exptime> <bytes> [<cas unique>] [noreply]
            let required = command == .cas ? 5 : 4
            guard arguments == required || (arguments == required + 1 && noreply),
                  let key = tokens.next(), let flags = tokens.next(), let exptime = tokens.next(),
                  let bytes = tokens.next(),
                  TextNumbers.decimal(flags, limit: Int(UInt32.max)) != nil, TextNumbers.isInteger(exptime),
                  let length = TextNumbers.decimal(bytes, limit: maxDataLength)
            else { return nil }
            if command == .cas {
                guard let unique = tokens.next(), TextNumbers.decimal(unique, limit: Int.max) != nil else { return nil }
            }
            return single(key, data: length, noreply: noreply)

        case .delete:
            // <key> [0] [noreply]
            guard arguments >= 1, arguments <= 3, let key = tokens.next() else { return nil }
            if arguments - (noreply ? 1 : 0) == 2 {
                guard let zero = tokens.next(), TextNumbers.equals(zero, "0") else { return nil }
            } else if arguments - (noreply ? 1 : 0) != 1 {
                return nil
            }
            return single(key, noreply: noreply)

        case .incr, .decr, .touch:
            // <key> <value|exptime> [noreply]
            guard arguments == 2 || (arguments == 3 && noreply), let key = tokens.next(), let value = tokens.next()
            else { return nil }
            if command == .touch {
                guard TextNumbers.isInteger(value) else { return nil }
            } else {
                guard TextNumbers.decimal(value, limit: Int.max) != nil else { return nil }
            }
            return single(key, noreply: noreply)

        case .flushAll, .verbosity, .cacheMemlimit:
            guard arguments <= 2 else { return nil }
            if command != .flushAll { guard arguments >= 1 else { return nil } }
            return keyless(noreply: noreply)

        case .stats:
            return keyless(shape: .statLines)

        case .lruCrawler:
            guard let subcommand = tokens.next() else { return nil }
            if TextNumbers.equals(subcommand, "metadump") { return keyless(shape: .dumpLines) }
            if TextNumbers.equals(subcommand, "mgdump") { return keyless(shape: .metaDumpLines) }
            return keyless()

        case .slabs, .lru:
            guard arguments >= 1 else { return nil }
            return keyless()

        case .version, .misbehave, .watch:
            return keyless()

        case .quit:
            return keyless(shape: .none, noreply: true)

        case .metaNoop:
            return TextRequestLine(command: command, equivalent: nil, keyBytes: UnsafeRawBufferPointer(start: nil, count: 0),
                                   keyIsList: true, keyIsBase64: false, dataLength: nil, noreply: false,
                                   meta: MetaFlags(), shape: .line)

        case .metaGet, .metaSet, .metaDelete, .metaArithmetic, .metaDebug:
            guard let key = tokens.next() else { return nil }
            var length: Int?
            if command == .metaSet {
                guard let bytes = tokens.next(), let value = TextNumbers.decimal(bytes, limit: maxDataLength) else {
                    return nil
                }
                length = value
            }
            guard let flags = MetaFlags.parse(&tokens) else { return nil }
            if flags.base64Key {
                guard key.count <= (maxKeyLength + 2) / 3 * 4, !key.isEmpty else { return nil }
            } else {
                guard isValidKey(key) else { return nil }
            }
            guard let equivalent = metaEquivalent(command, flags) else { return nil }
            let shape: TextReplyShape = command == .metaGet || command == .metaArithmetic ? .metaValue : .line
            return TextRequestLine(command: command, equivalent: equivalent, keyBytes: key, keyIsList: false,
                                   keyIsBase64: flags.base64Key, dataLength: length, noreply: false, meta: flags,
                                   shape: shape)
        }
    }

    /// The classic command a meta command stands for (rules naming it, or a group holding it, allow the meta
    /// command too); nil for a mode memcached rejects.
    private static func metaEquivalent(_ command: MemcacheTextCommand, _ flags: MetaFlags) -> MemcacheTextCommand?? {
        switch command {
        case .metaGet:
            return .some(.get)
        case .metaDelete:
            return .some(.delete)
        case .metaSet:
            switch flags.mode {
            case nil, UInt8(ascii: "S"), UInt8(ascii: "s"): return .some(flags.compareCas ? .cas : .set)
            case UInt8(ascii: "E"), UInt8(ascii: "e"): return .some(.add)
            case UInt8(ascii: "A"), UInt8(ascii: "a"): return .some(.append)
            case UInt8(ascii: "P"), UInt8(ascii: "p"): return .some(.prepend)
            case UInt8(ascii: "R"), UInt8(ascii: "r"): return .some(.replace)
            default: return nil
            }
        case .metaArithmetic:
            switch flags.mode {
            case nil, UInt8(ascii: "I"), UInt8(ascii: "i"), UInt8(ascii: "+"): return .some(.incr)
            case UInt8(ascii: "D"), UInt8(ascii: "d"), UInt8(ascii: "-"): return .some(.decr)
            default: return nil
            }
        default:
            return .some(nil)
        }
    }

    private static func isValidKey(_ key: UnsafeRawBufferPointer) -> Bool {
        !key.isEmpty && key.count <= maxKeyLength
    }
}
