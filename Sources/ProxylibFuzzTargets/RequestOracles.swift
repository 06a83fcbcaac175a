import ProxylibCore

/// What a datapath fuzz target knows about its parser's policy decisions, recomputed independently of the
/// library (plain byte comparisons, no library code): it reads the bytes that reached the server and throws
/// when one of them is a request the policy denies.
///
/// Every target's policy (`policy(for:)`) is installed for endpoint 1.1.1.1, port 80, both directions:
///   rule 1, any remote:  allow list + deny list (the deny list wins over every allow)
///   rule 2, remote 7:    one more allow rule
///   rule 3, remote 9:    a deny rule without L7 rules (everything from 9 is denied)
/// The remote identity of a fuzzed connection is 1, 2, 7 or 9.
protocol RequestOracle: Sendable {
    /// The l7 rules the oracle models: (allow for any remote, deny for any remote, allow for remote 7).
    var rules: (allow: [L7KeyValueRule], deny: [L7KeyValueRule], allowSeven: [L7KeyValueRule]) { get }
    /// Checks everything that reached the server on one connection from a remote identity, given what the
    /// client wrote (`written`, for parsers that must forward everything).
    func checkForwarded(_ stream: [UInt8], written: [UInt8], remote: UInt32) throws(FuzzViolation)
    /// Checks one whole connection, write by write (by default only what reached the server: `checkForwarded`).
    func checkConnection(_ connection: ConnectionRecord, remote: UInt32) throws(FuzzViolation)
    /// The policy installed for the parser (by default `rules` as generic L7 rules on the three port rules).
    func policy(for parser: String) -> [NetworkPolicyConfig]
}

/// One write of a fuzzed connection (client or server bytes, or an empty reply-side write that flushes the
/// reply inject buffer) and what the datapath made of it.
struct DatapathEvent {
    enum Source { case client, server, flush }
    var source: Source
    var input: [UInt8]
    var endStream: Bool
    /// Sent on towards the server / the client by this write.
    var toServer: [UInt8]
    var toClient: [UInt8]
    /// What the library wrote into the reply / orig inject buffer during this write's OnData calls, whether or
    /// not the datapath has sent it yet.
    var injectedToClient: [UInt8]
    var injectedToServer: [UInt8]
    /// The write ended in a parser error (the datapath closed the connection; output of the failing direction
    /// taken back).
    var failed: Bool
}

/// Everything that happened on one connection of a datapath script.
struct ConnectionRecord {
    var events: [DatapathEvent]
    /// All bytes that reached the server, and all the client wrote.
    var forwarded: [UInt8]
    var written: [UInt8]
}

extension ConnectionRecord {
    /// Writes the connection's events to stdout, one a line, bytes in hex.
    func print(remote: UInt32) {
        func hex(_ bytes: [UInt8]) -> String {
            let digits = Array("0123456789abcdef")
            return String(bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] })
        }
        Swift.print("connection from remote \(remote):")
        for event in events {
            var line = "  \(event.source)\(event.endStream ? "+end" : "")\(event.failed ? " FAILED" : "") in=\(hex(event.input))"
            if !event.toServer.isEmpty { line += " toServer=\(hex(event.toServer))" }
            if !event.toClient.isEmpty { line += " toClient=\(hex(event.toClient))" }
            if !event.injectedToClient.isEmpty { line += " injectedToClient=\(hex(event.injectedToClient))" }
            if !event.injectedToServer.isEmpty { line += " injectedToServer=\(hex(event.injectedToServer))" }
            Swift.print(line)
        }
    }
}

extension RequestOracle {
    func checkConnection(_ connection: ConnectionRecord, remote: UInt32) throws(FuzzViolation) {
        try checkForwarded(connection.forwarded, written: connection.written, remote: remote)
    }

    func policy(for parser: String) -> [NetworkPolicyConfig] {
        FuzzPolicies.endpointPolicy(parser: parser, allow: rules.allow, deny: rules.deny, allowSeven: rules.allowSeven)
    }
}

enum FuzzPolicies {
    static let endpoint = "1.1.1.1"
    static let port: UInt32 = 80

    static func endpointPolicy(parser: String, allow: [L7KeyValueRule], deny: [L7KeyValueRule],
                               allowSeven: [L7KeyValueRule]) -> [NetworkPolicyConfig] {
        let rules = [
            PortNetworkPolicyRuleConfig(l7Proto: parser, l7: .generic(allow: allow, deny: deny)),
            PortNetworkPolicyRuleConfig(remotePolicies: [7], l7Proto: parser, l7: .generic(allow: allowSeven, deny: [])),
            PortNetworkPolicyRuleConfig(deny: true, remotePolicies: [9]),
        ]
        let port = PortNetworkPolicyConfig(port: port, rules: rules)
        return [NetworkPolicyConfig(endpointIPs: [endpoint], endpointID: 42, ingress: [port], egress: [port])]
    }
}

/// r2d2: `cmd [" " file] "\r\n"`; the file is the second field when there are exactly two.
///   allow: {cmd: READ, file: ^/public/}, {cmd: HALT}; deny: {file: secret}; remote 7: {cmd: WRITE, file: ^/tmp/}
struct R2D2Oracle: RequestOracle {
    var rules: (allow: [L7KeyValueRule], deny: [L7KeyValueRule], allowSeven: [L7KeyValueRule]) {
        ([["cmd": "READ", "file": "^/public/"], ["cmd": "HALT"]], [["file": "secret"]],
         [["cmd": "WRITE", "file": "^/tmp/"]])
    }

    func checkForwarded(_ stream: [UInt8], written: [UInt8], remote: UInt32) throws(FuzzViolation) {
        try ByteText.checkFrames(stream, terminator: [0x0D, 0x0A], what: "r2d2 request", remote: remote) { allows($0, remote: remote) }
    }

    func allows(_ line: [UInt8], remote: UInt32) -> Bool {
        if remote == 9 { return false }
        let fields = line.split(separator: 0x20, maxSplits: 1, omittingEmptySubsequences: false)
        let command = Array(fields[0])
        var file: [UInt8] = []
        if fields.count == 2, !fields[1].contains(0x20) { file = Array(fields[1]) }
        if ByteText.find(Array("secret".utf8), in: file, from: 0) != nil { return false }
        if command == Array("READ".utf8) && file.starts(with: Array("/public/".utf8)) { return true }
        if command == Array("HALT".utf8) { return true }
        return remote == 7 && command == Array("WRITE".utf8) && file.starts(with: Array("/tmp/".utf8))
    }
}

/// test.headerparser: lines ending in "\n", matched without surrounding ASCII white space.
///   allow: {prefix: allow}, {contains: beer, suffix: end}; deny: {contains: poison}; remote 7: {suffix: seven}
struct HeaderLineOracle: RequestOracle {
    var rules: (allow: [L7KeyValueRule], deny: [L7KeyValueRule], allowSeven: [L7KeyValueRule]) {
        ([["prefix": "allow"], ["contains": "beer", "suffix": "end"]], [["contains": "poison"]], [["suffix": "seven"]])
    }

    func checkForwarded(_ stream: [UInt8], written: [UInt8], remote: UInt32) throws(FuzzViolation) {
        try ByteText.checkFrames(stream, terminator: [0x0A], what: "headerparser line", remote: remote) { allows($0, remote: remote) }
    }

    func allows(_ line: [UInt8], remote: UInt32) -> Bool {
        if remote == 9 { return false }
        let isSpace = { (b: UInt8) in b == 0x20 || (0x09...0x0D).contains(b) }
        var text = line[...]
        while let first = text.first, isSpace(first) { text = text.dropFirst() }
        while let last = text.last, isSpace(last) { text = text.dropLast() }
        let trimmed = Array(text)
        if ByteText.find(Array("poison".utf8), in: trimmed, from: 0) != nil { return false }
        if trimmed.starts(with: Array("allow".utf8)) { return true }
        if ByteText.find(Array("beer".utf8), in: trimmed, from: 0) != nil && trimmed.reversed().starts(with: Array("end".utf8).reversed()) {
            return true
        }
        return remote == 7 && trimmed.reversed().starts(with: Array("seven".utf8).reversed())
    }
}

/// test.passer: everything written towards the server reaches it, in order.
struct PassEverythingOracle: RequestOracle {
    var rules: (allow: [L7KeyValueRule], deny: [L7KeyValueRule], allowSeven: [L7KeyValueRule]) { ([], [], []) }

    func checkForwarded(_ stream: [UInt8], written: [UInt8], remote: UInt32) throws(FuzzViolation) {
        guard stream == written else {
            throw FuzzViolation("passer: the server got \(ByteText.show(stream[...])), the client wrote \(ByteText.show(written[...]))")
        }
    }
}

/// Byte helpers for the oracles and messages.
enum ByteText {
    /// Splits what reached the server into frames ending in `terminator` and throws for a partial frame or one
    /// that `allows` rejects (the frame is passed without its terminator).
    static func checkFrames(_ stream: [UInt8], terminator: [UInt8], what: String, remote: UInt32,
                            allows: ([UInt8]) -> Bool) throws(FuzzViolation) {
        var start = 0
        while start < stream.count {
            guard let end = find(terminator, in: stream, from: start) else {
                throw FuzzViolation("a partial \(what) reached the server: \(show(stream[start...]))")
            }
            let frame = Array(stream[start..<end])
            if !allows(frame) {
                throw FuzzViolation("denied \(what) reached the server from remote \(remote): \(show(frame[...]))")
            }
            start = end + terminator.count
        }
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty else { return start }
        guard haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
        for index in start...(haystack.count - needle.count) where haystack[index..<index + needle.count].elementsEqual(needle) {
            return index
        }
        return nil
    }

    /// Bytes as an escaped string, cut at 200 bytes.
    static func show(_ bytes: ArraySlice<UInt8>) -> String {
        var text = "\""
        for byte in bytes.prefix(200) {
            switch byte {
            case 0x20...0x7E where byte != 0x22 && byte != 0x5C: text.append(Character(Unicode.Scalar(byte)))
            default: text += "\\x" + String(byte, radix: 16)
            }
        }
        return text + (bytes.count > 200 ? "\"… (\(bytes.count) bytes)" : "\"")
    }
}
