import ProxylibCore

/// `@name@` (fuzz target `datapath-@name@`): what the server may receive, recomputed from the bytes alone —
/// no parser code, so that a parser bug is not repeated here. Every line that reached the server must be a
/// whole request (verb [" " resource] LF, CR before LF dropped) that the fuzz policy allows:
///   allow: {verb: GET, resource: ^public/}, {verb: PING}; deny: {resource: secret};
///   remote 7 also: {verb: PUT, resource: ^tmp/}; remote 9: everything denied.
/// Keep this in step with the parser's rules when you change them, in the plainest code you can write.
struct @Name@Oracle: RequestOracle {
    var rules: (allow: [L7KeyValueRule], deny: [L7KeyValueRule], allowSeven: [L7KeyValueRule]) {
        ([["verb": "GET", "resource": "^public/"], ["verb": "PING"]], [["resource": "secret"]],
         [["verb": "PUT", "resource": "^tmp/"]])
    }

    func checkForwarded(_ stream: [UInt8], written: [UInt8], remote: UInt32) throws(FuzzViolation) {
        try ByteText.checkFrames(stream, terminator: [0x0A], what: "@name@ request", remote: remote) { allows($0, remote: remote) }
    }

    func allows(_ line: [UInt8], remote: UInt32) -> Bool {
        if remote == 9 { return false }
        var text = line
        if text.last == 0x0D { text.removeLast() }
        let fields = text.split(separator: 0x20, maxSplits: 1, omittingEmptySubsequences: false)
        let verb = Array(fields[0])
        let resource = fields.count == 2 ? Array(fields[1]) : []
        let isLetter = { (byte: UInt8) in (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) }
        guard !verb.isEmpty, verb.count <= 32, verb.allSatisfy(isLetter) else { return false }
        if ByteText.find(Array("secret".utf8), in: resource, from: 0) != nil { return false }
        if verb == Array("GET".utf8) && resource.starts(with: Array("public/".utf8)) { return true }
        if verb == Array("PING".utf8) { return true }
        return remote == 7 && verb == Array("PUT".utf8) && resource.starts(with: Array("tmp/".utf8))
    }
}
