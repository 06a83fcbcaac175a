import ProxylibCore

/// `test.headerparser`: each request line is checked against the policy; replies pass.
/// A denied line is dropped and `Line dropped: <line>` is injected towards the client.
///
/// Policy (`l7proto: test.headerparser`), each rule a conjunction on the line without surrounding white space:
///
///     l7: [{prefix: "foo"}, {contains: "beer", suffix: "end"}]
public final class HeaderParser: ConnectionParser {
    public static let name = "test.headerparser"

    private let connection: Connection
    /// Reused for lines that span input segments.
    private var scratch: [UInt8] = []

    public init(connection: Connection) {
        self.connection = connection
    }

    public func onData(reply: Bool, endStream: Bool, input: InputView) -> ParserOp {
        guard let lineLength = Lines.completeLineLength(in: input) else {
            return input.isEmpty ? .nop : .more(1)
        }
        let allowed = reply || input.withContiguousBytes(from: 0, count: lineLength, scratch: &scratch) {
            connection.matches(HeaderLine(bytes: $0))
        } ?? false
        if allowed {
            connection.log(.request, .generic(proto: HeaderParser.name, fields: L7Fields(("status", "PASS"))))
            return .pass(lineLength)
        }
        connection.inject(reply: !reply, "Line dropped: ")
        connection.inject(reply: !reply, input.prefix(lineLength))
        connection.log(.denied, .generic(proto: HeaderParser.name, fields: L7Fields(("status", "DROP"))))
        return .drop(lineLength)
    }
}

/// The request a header rule sees: one line, valid during the policy check only.
struct HeaderLine {
    let bytes: UnsafeRawBufferPointer
}

/// `prefix`, `contains` and `suffix` conditions; an absent (or empty) one always holds.
struct HeaderRule: L7Rule {
    var prefix: [UInt8] = []
    var contains: [UInt8] = []
    var suffix: [UInt8] = []

    static let ruleParser = L7RuleParser.keyValue { rule in
        var compiled = HeaderRule()
        for (key, value) in rule.sorted(by: { $0.key < $1.key }) {
            switch key {
            case "prefix": compiled.prefix = Array(value.utf8)
            case "contains": compiled.contains = Array(value.utf8)
            case "suffix": compiled.suffix = Array(value.utf8)
            default: throw PolicyError("unsupported key: \(key)")
            }
        }
        return compiled
    }

    func matches(_ line: HeaderLine) -> Bool {
        let text = ASCII.trimmingWhitespace(line.bytes)
        if !prefix.isEmpty && !ASCII.hasPrefix(text, prefix) { return false }
        if !contains.isEmpty && !ASCII.contains(text, contains) { return false }
        if !suffix.isEmpty && !ASCII.hasSuffix(text, suffix) { return false }
        return true
    }
}
