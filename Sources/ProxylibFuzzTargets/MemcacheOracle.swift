import ProxylibCore

/// memcache: reads the requests that reached the server (text, meta or binary, told apart by the first byte
/// as the parser does) and recomputes each one's verdict with plain byte comparisons.
///   allow: {get, keyPrefix: pub}, {storage, keyExact: counter}, {noop}, {stats}
///   deny:  {get, keyRegex: secret}
///   remote 7: {delete}
/// No-ops (`mn`, binary NOOP) are always allowed: the parser sends them in place of denied requests queued
/// behind quiet ones.
struct MemcacheOracle: RequestOracle {
    var rules: (allow: [L7KeyValueRule], deny: [L7KeyValueRule], allowSeven: [L7KeyValueRule]) {
        ([["command": "get", "keyPrefix": "pub"], ["command": "storage", "keyExact": "counter"], ["command": "noop"],
          ["command": "stats"]],
         [["command": "get", "keyRegex": "secret"]],
         [["command": "delete"]])
    }

    enum Kind { case get, storage, noop, stats, delete, other }

    func checkForwarded(_ stream: [UInt8], written: [UInt8], remote: UInt32) throws(FuzzViolation) {
        guard let first = stream.first else { return }
        if first >= 0x80 {
            try checkBinary(stream, remote: remote)
        } else {
            try checkText(stream, remote: remote)
        }
    }

    func allows(_ kind: Kind, keys: [[UInt8]], remote: UInt32) -> Bool {
        if kind == .noop { return true }
        if remote == 9 { return false }
        let secret = Array("secret".utf8)
        if kind == .get && keys.contains(where: { ByteText.find(secret, in: $0, from: 0) != nil }) { return false }
        switch kind {
        case .get: if keys.allSatisfy({ $0.starts(with: Array("pub".utf8)) }) { return true }
        case .storage: if keys.allSatisfy({ $0 == Array("counter".utf8) }) { return true }
        case .stats: return true
        default: break
        }
        return remote == 7 && kind == .delete
    }

    // MARK: Text and meta

    private func checkText(_ stream: [UInt8], remote: UInt32) throws(FuzzViolation) {
        var start = 0
        while start < stream.count {
            guard let newline = stream[start...].firstIndex(of: 0x0A) else {
                throw FuzzViolation("a partial memcache command line reached the server: \(ByteText.show(stream[start...]))")
            }
            var line = Array(stream[start..<newline])
            if line.last == 0x0D { line.removeLast() }
            let tokens = line.split(separator: 0x20).map { Array($0) }
            let name = String(decoding: tokens.first ?? [], as: UTF8.self)
            var keys: [[UInt8]] = tokens.count > 1 ? [tokens[1]] : []
            var dataLength: Int?
            let kind: Kind
            switch name {
            case "get", "gets":
                kind = .get
                keys = Array(tokens.dropFirst())
            case "mg":
                kind = .get
            case "set", "add", "replace", "append", "prepend", "cas", "incr", "decr":
                kind = .storage
                if name != "incr" && name != "decr" { dataLength = tokens.count > 4 ? decimal(tokens[4]) : nil }
            case "ms":
                kind = .storage
                dataLength = tokens.count > 2 ? decimal(tokens[2]) : nil
            case "ma":
                kind = .storage
            case "mn":
                kind = .noop
            case "stats":
                kind = .stats
            case "delete", "md":
                kind = .delete
            default:
                kind = .other
            }
            // A meta flag is a token's first byte; `b` says the key is base64.
            if ["mg", "ms", "md", "ma", "me"].contains(name) && tokens.dropFirst(2).contains(where: { $0.first == UInt8(ascii: "b") }),
               let key = keys.first {
                guard let decoded = Self.base64(key) else {
                    throw FuzzViolation("a meta command with an invalid base64 key reached the server: \(ByteText.show(line[...]))")
                }
                keys = [decoded]
            }
            if !allows(kind, keys: keys, remote: remote) {
                throw FuzzViolation("denied memcache command reached the server from remote \(remote): \(ByteText.show(line[...]))")
            }
            start = newline + 1 + (dataLength.map { $0 + 2 } ?? 0)
        }
    }

    private func decimal(_ token: [UInt8]) -> Int? {
        guard !token.isEmpty, token.count < 12, token.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
        return Int(String(decoding: token, as: UTF8.self))
    }

    static func base64(_ text: [UInt8]) -> [UInt8]? {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        guard text.count % 4 == 0 else { return nil }
        var bits: [UInt8] = []
        var padding = 0
        for (index, byte) in text.enumerated() {
            if byte == UInt8(ascii: "=") && index >= text.count - 2 { padding += 1; continue }
            guard padding == 0, let value = alphabet.firstIndex(of: byte) else { return nil }
            for shift in stride(from: 5, through: 0, by: -1) { bits.append(UInt8(value >> shift & 1)) }
        }
        var bytes: [UInt8] = []
        var index = 0
        while index + 8 <= bits.count {
            bytes.append(bits[index..<index + 8].reduce(0) { $0 << 1 | $1 })
            index += 8
        }
        return bytes
    }

    // MARK: Binary

    private func checkBinary(_ stream: [UInt8], remote: UInt32) throws(FuzzViolation) {
        var start = 0
        while start < stream.count {
            guard stream.count - start >= 24 else {
                throw FuzzViolation("a partial binary memcache header reached the server: \(ByteText.show(stream[start...]))")
            }
            let header = Array(stream[start..<start + 24])
            let opcode = header[1]
            let keyLength = Int(header[2]) << 8 | Int(header[3])
            let extras = Int(header[4])
            let body = header[8..<12].reduce(0) { $0 << 8 | Int($1) }
            let keyStart = start + 24 + extras
            guard header[0] == 0x80, keyStart + keyLength <= stream.count else {
                throw FuzzViolation("a binary memcache request reached the server unread: \(ByteText.show(header[...]))")
            }
            let key = Array(stream[keyStart..<keyStart + keyLength])
            let kind: Kind
            switch opcode {
            case 0x00, 0x09, 0x0c, 0x0d: kind = .get
            case 0x01, 0x02, 0x03, 0x05, 0x06, 0x0e, 0x0f, 0x11, 0x12, 0x13, 0x15, 0x16, 0x19, 0x1a: kind = .storage
            case 0x0a: kind = .noop
            case 0x10: kind = .stats
            case 0x04, 0x14: kind = .delete
            default: kind = .other
            }
            if !allows(kind, keys: [key], remote: remote) {
                throw FuzzViolation("denied binary memcache request (opcode \(opcode)) reached the server from remote \(remote)")
            }
            start += 24 + body
        }
    }
}
