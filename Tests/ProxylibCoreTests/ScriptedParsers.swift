import ProxylibCore

/// Parsers for framework tests: each answers from a script, or misbehaves on purpose.
final class ScriptedParser: Parser {
    private let connection: Connection
    private var script: [ParserOp]
    private let injection: [UInt8]

    init(connection: Connection, script: [ParserOp], injection: [UInt8]) {
        self.connection = connection
        self.script = script
        self.injection = injection
    }

    func onData(reply: Bool, endStream: Bool, input: InputView) throws -> ParserOp {
        guard !script.isEmpty else { return .nop }
        let op = script.removeFirst()
        if case .inject = op { connection.inject(reply: reply, injection) }
        return op
    }
}

struct ScriptedParserFactory: ParserFactory {
    let script: [ParserOp]
    var injection: [UInt8] = Array("0123456789".utf8)

    func makeParser(for connection: Connection) -> (any Parser)? {
        ScriptedParser(connection: connection, script: script, injection: injection)
    }
}

/// Throws on original-direction data, like upstream's PanicParser panics.
final class ThrowingParser: Parser {
    func onData(reply: Bool, endStream: Bool, input: InputView) throws -> ParserOp {
        if !reply { throw ParserFailure("ThrowingParser refuses \(input.count) bytes") }
        return .nop
    }
}

struct ThrowingParserFactory: ParserFactory {
    func makeParser(for connection: Connection) -> (any Parser)? { ThrowingParser() }
}

/// Injects `size` bytes per call and answers INJECT with that count, forever.
final class FloodingParser: Parser {
    private let connection: Connection
    init(connection: Connection) { self.connection = connection }

    func onData(reply: Bool, endStream: Bool, input: InputView) -> ParserOp {
        let n = connection.inject(reply: reply, [UInt8](repeating: 0x41, count: 100))
        return .inject(n)
    }
}

struct FloodingParserFactory: ParserFactory {
    func makeParser(for connection: Connection) -> (any Parser)? { FloodingParser(connection: connection) }
}

/// A rule matching requests of type `String` equal to its value; for policy map tests.
struct EqualsRule: L7Rule {
    let value: String
    func matches(_ request: String) -> Bool { request == value }
}

extension L7RuleParser {
    /// Compiles `{"equals": value}` rules; any other key is rejected.
    static let equals = L7RuleParser.keyValue { rule in
        guard rule.count == 1, let value = rule["equals"] else { throw PolicyError("unsupported rule \(rule)") }
        return EqualsRule(value: value)
    }
}
