#if canImport(Glibc)
import Glibc
#endif
import ProxylibNPDS

/// The seed corpora (`proxylib-fuzz seeds`, committed under Tests/Fuzz/corpus/TARGET/): the unit-test vectors
/// of each parser as datapath scripts, the NPDS fixtures as responses, and hand-picked regular expressions
/// and log entries. The fuzzer grows its corpus from these.
public enum FuzzSeeds {
    /// A step of a datapath script (see `DatapathFuzzTarget` for the encoding).
    enum Step {
        case client(String, endStream: Bool = false)
        case server(String, endStream: Bool = false)
        /// Binary writes (a String would turn bytes that are not UTF-8 into U+FFFD).
        case clientBytes([UInt8], endStream: Bool = false)
        case serverBytes([UInt8], endStream: Bool = false)
        case closeMidFrame
        case flushReplyInject
        case bothEnd
    }

    /// Encodes a datapath script: `setup` is the set-up byte (remote, direction, ops, inject size).
    static func script(setup: UInt8 = 0, _ steps: [Step]) -> [UInt8] {
        var bytes = [setup]
        func write(_ data: [UInt8], client: Bool, endStream: Bool) {
            if !client && data.count > 255 {
                // Server writes are byte-counted: longer ones go in pieces.
                write(Array(data[..<255]), client: false, endStream: false)
                write(Array(data[255...]), client: false, endStream: endStream)
                return
            }
            if data.count < 64 && !(endStream && !client) {
                bytes.append(UInt8(data.count) << 2 | (client ? (endStream ? 2 : 0) : 1))
                bytes += data
            } else if data.count < 256 {
                let kind: UInt8 = client ? 0 : (endStream ? 2 : 1)
                bytes += [kind << 2 | 3, UInt8(data.count)] + data
            } else {
                bytes += [5 << 2 | 3, UInt8(data.count >> 8), UInt8(data.count & 0xFF)] + data
            }
        }
        for step in steps {
            switch step {
            case let .client(text, endStream): write(Array(text.utf8), client: true, endStream: endStream)
            case let .server(text, endStream): write(Array(text.utf8), client: false, endStream: endStream)
            case let .clientBytes(data, endStream): write(data, client: true, endStream: endStream)
            case let .serverBytes(data, endStream): write(data, client: false, endStream: endStream)
            case .closeMidFrame: bytes.append(3 << 2 | 3)
            case .flushReplyInject: bytes.append(4 << 2 | 3)
            case .bothEnd: bytes.append(6 << 2 | 3)
            }
        }
        return bytes
    }

    /// Set-up bytes: remote identity index (1, 7, 9, 2), egress, ops per call index, inject size index.
    static func setup(remote: UInt8 = 0, egress: Bool = false, ops: UInt8 = 0, inject: UInt8 = 0) -> UInt8 {
        remote | (egress ? 4 : 0) | ops << 3 | inject << 6
    }

    static func datapath(_ parser: String) -> [[UInt8]] {
        switch parser {
        case "r2d2":
            return [
                script([.client("READ sssss\r\nWRITE sssss\r\nHALT\r\nRESET\r\n")]),
                script([.client("RE"), .client("SET\r\n")]),
                script([.client("READ /public/a\r\n"), .client("READ /private/public/b\r\nWRITE /public/c\r\n")]),
                script(setup: setup(remote: 1), [.client("WRITE /tmp/x\r\nWRITE /tmp/secret\r\n")]),
                script(setup: setup(remote: 2), [.client("READ /public/a\r\nHALT\r\n")]),
                script(setup: setup(egress: true, ops: 1), [.client("READ /public/a\r\nHALT\r\nREAD /public/b\r\n")]),
                script(setup: setup(inject: 3), [.client("WRITE a\r\nWRITE b\r\nWRITE c\r\nWRITE d\r\n"), .flushReplyInject]),
                script([.server("OK\r\nDATA\r\n"), .client("READ x y\r\n"), .server("ERR", endStream: true)]),
                script([.client("READ /pub"), .closeMidFrame, .client("lic/x\r\nHALT\r\n")]),
                script([.client("READ " + String(repeating: "a", count: 40) + "b\r\n", endStream: true), .bothEnd]),
            ]
        case "memcache":
            // Binary requests as bytes: a String would turn the 0x80 magic into U+FFFD.
            let bin = { (opcode: UInt8, key: String, opaque: UInt8) -> [UInt8] in
                let k = Array(key.utf8)
                return [0x80, opcode, 0, UInt8(k.count), 0, 0, 0, 0, 0, 0, 0, UInt8(k.count),
                        0, 0, 0, opaque, 0, 0, 0, 0, 0, 0, 0, 0] + k
            }
            return [
                script([.client("get pub1 pub2\r\nget secret\r\nset counter 0 0 1\r\n1\r\n"),
                        .server("VALUE pub1 0 1\r\nx\r\nEND\r\nSTORED\r\n")]),
                script([.client("set counter 0 0 5\r\nhel"), .client("lo\r\nincr counter 1\r\ndelete x\r\n"),
                        .server("STORED\r\n6\r\n")]),
                script(setup: setup(remote: 1), [.client("delete a\r\nmd b q\r\nmn\r\n"), .server("NOT_FOUND\r\nMN\r\n")]),
                script([.client("mg pub v q\r\nmg secret v\r\nmn\r\n"), .server("MN\r\nMN\r\n")]),
                script([.client("mg cHViL3g= b v\r\nms counter 1 q\r\n1\r\nma counter MD v\r\nmn\r\n"),
                        .server("EN\r\nVA 1\r\n0\r\nMN\r\n")]),
                script([.client("stats\r\nstats reset\r\n"), .server("STAT pid 1\r\nEND\r\nRESET\r\n")]),
                script(setup: setup(inject: 3), [.client("get a\r\nget b\r\nget c\r\n"), .flushReplyInject]),
                script([.client("set a 0 0 abc\r\n")]),
                script([.client("gets pub\r\nwatch\r\n"), .server("END\r\nOK\r\nts=1 gid=2 type=item_get\r\n")]),
                script([.clientBytes(bin(0x00, "pub", 1) + bin(0x00, "secret", 2) + bin(0x0a, "", 3)),
                        .serverBytes([0x81, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1] + [UInt8](repeating: 0, count: 8))]),
                script([.clientBytes(bin(0x09, "pub1", 1) + bin(0x04, "x", 2) + bin(0x0a, "", 3))]),
                script(setup: setup(ops: 1, inject: 3), [.clientBytes(bin(0x01, "x", 1) + bin(0x01, "y", 2)), .flushReplyInject]),
            ]
        case "cassandra":
            return CassandraSeeds.scripts()
        case "kafka":
            return KafkaSeeds.scripts()
        case "redis":
            return RedisSeeds.scripts()
        case "test.headerparser":
            return [
                script([.client("allow this\nbeer at the end\n")]),
                script([.client("poison allow\n  allow  \r\nnothing\n")]),
                script(setup: setup(remote: 1), [.client("ends with seven\nseven poison\n")]),
                script(setup: setup(remote: 2, inject: 3), [.client("a long line that does not fit the inject buffer\n")]),
                script([.server("reply line\n"), .client("allow", endStream: true)]),
            ]
        case "test.lineparser":
            return [
                script([.client("PASS a\nDROP b\nINJECT c\nINSERT d\n"), .server("PASS reply\nINJECT back\n")]),
                script([.client("BOGUS\n")]),
                script(setup: setup(ops: 1), [.client("PASS 1\nPASS 2\nPASS 3\nPASS 4\n")]),
                script(setup: setup(inject: 3), [.client("INSERT " + String(repeating: "x", count: 40) + "\n")]),
                script([.client("PASS partial"), .closeMidFrame, .client("DROP x\n")]),
            ]
        case "test.blockparser":
            return [
                script([.client("12:PASSxxxxx"), .client("12:DROPxxxxx")]),
                script([.client("14:INJECTxxxxx"), .server("14:INSERTxxxxx")]),
                script([.client("2000:PASS"), .client(String(repeating: "a", count: 1991))]),
                script([.client("2000:INSERT" + String(repeating: "A", count: 1989))]),
                script([.client("5:BAD"), .client("x:PASS")]),
            ]
        case "test.passer":
            return [
                script([.client("any bytes at all\u{0}\u{FF}"), .server("and back")]),
                script([.client("", endStream: true), .bothEnd]),
            ]
        default:
            // A parser made by `make new-parser` keeps the seed files the generator wrote.
            return []
        }
    }

    static func regex() -> [[UInt8]] {
        let cases: [(String, String)] = [
            ("^/public/", "/public/a"), ("s.*", "sssss"), ("(a+)+$", String(repeating: "a", count: 37) + "b"),
            ("(?i)straße", "STRASSE"), ("[[:alpha:]]+\\d{3}", "abc123"), ("a{2,1000}", "aaaa"), ("(", ""),
            ("\\1", "x"), ("(?=x)", "x"), ("\\pL+\\b", "héllo"), ("x$", "x\n"), ("(?m)^x$", "a\nx\nb"),
            ("\\Q.*\\E", ".*"), ("\\.png$", "a.png"), ("(?s).", "\n"), ("[^a-z]", "\u{FFFD}"),
        ]
        return cases.map { pattern, subject in
            let p = Array(pattern.utf8)
            return [UInt8(p.count)] + p + Array(subject.utf8)
        }
    }

    static func accessLog() -> [[UInt8]] {
        var seeds: [[UInt8]] = [[], [0x80], Array(repeating: 0xFF, count: 64)]
        var generic: [UInt8] = [0x00, 0, 7] + Array("1.1.1.1".utf8) + [0, 9] + Array("1.1.1.1:1".utf8) + [0, 0]
        generic += [0, 4] + Array("r2d2".utf8) + [3]
        for (key, value) in [("cmd", "READ"), ("file", "/public/\u{0}x"), ("é", String(repeating: "v", count: 200))] {
            generic += [0, UInt8(key.utf8.count)] + Array(key.utf8) + [0, UInt8(value.utf8.count)] + Array(value.utf8)
        }
        seeds.append(generic)
        var long: [UInt8] = [0x01, 1, 0x10, 0x00] + Array(repeating: 0x41, count: 4096)
        long += [0, 0, 0, 0, 0, 0, 0, 0]
        seeds.append(long)
        return seeds
    }

    /// NPDS responses: every DiscoveryResponse fixture, and every NetworkPolicy fixture in a response.
    static func npdsResponses(fixtures: String) -> [[UInt8]] {
        var seeds: [[UInt8]] = []
        for name in fixtureNames(in: fixtures) {
            guard let bytes = read(fixtures + "/" + name) else { continue }
            if name.hasPrefix("response_") {
                seeds.append(bytes)
            } else if !name.hasPrefix("request_") {
                var response = WireEncoder()
                response.stringField(1, "1")
                response.messageField(2) { any in
                    any.stringField(1, NPDSCodec.networkPolicyTypeURL)
                    any.bytesField(2, bytes)
                }
                response.stringField(4, NPDSCodec.networkPolicyTypeURL)
                response.stringField(5, "n")
                seeds.append(response.bytes)
            }
        }
        return seeds
    }

    static func npdsPolicies() -> [[UInt8]] {
        [[], Array(repeating: 0, count: 64), Array(0...255), Array(repeating: 0x01, count: 128)]
    }

    /// Writes every target's seeds into `directory/TARGET/seed-NN`; `fixtures` is the NPDS fixture folder.
    public static func write(to directory: String, fixtures: String) -> Bool {
        var ok = true
        for target in FuzzTargets.all {
            let seeds: [[UInt8]]
            switch target.name {
            case "regex": seeds = regex()
            case "accesslog": seeds = accessLog()
            case "npds-response": seeds = npdsResponses(fixtures: fixtures)
            case "npds-policy": seeds = npdsPolicies()
            default:
                let parser = DatapathFuzzTarget.profiles.first { "datapath-" + $0.parser.replacingPrefix("test.") == target.name }
                seeds = datapath(parser?.parser ?? "")
            }
            if seeds.isEmpty { continue }
            let folder = directory + "/" + target.name
            mkdir(directory, 0o755)
            mkdir(folder, 0o755)
            for (index, seed) in seeds.enumerated() {
                let name = folder + "/seed-" + (index < 10 ? "0" : "") + String(index)
                guard let file = fopen(name, "wb") else { ok = false; continue }
                _ = seed.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
                fclose(file)
            }
        }
        return ok
    }

    /// The names of the files in `directory` ending in `suffix` (none when it is missing), sorted.
    public static func fixtureNames(in directory: String, suffix: String = ".bin") -> [String] {
        guard let handle = opendir(directory) else { return [] }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if !name.hasPrefix("."), name.hasSuffix(suffix) { names.append(name) }
        }
        return names.sorted()
    }

    /// The bytes of a file, or nil when it cannot be opened.
    public static func read(_ path: String) -> [UInt8]? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&chunk, 1, chunk.count, file)
            if n <= 0 { break }
            bytes += chunk[..<n]
        }
        return bytes
    }
}

extension String {
    fileprivate func replacingPrefix(_ prefix: String) -> String {
        hasPrefix(prefix) ? String(dropFirst(prefix.count)) : self
    }
}
