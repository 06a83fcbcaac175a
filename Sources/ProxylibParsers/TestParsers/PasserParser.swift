import ProxylibCore

/// `test.passer`: passes everything in both directions. Refuses connections whose policy name is
/// `invalid-policy`, so tests can see OnNewConnection answer POLICY_DROP.
public struct PasserParserFactory: ParserFactory {
    public static let name = "test.passer"

    public init() {}

    public func makeParser(for connection: Connection) -> (any Parser)? {
        connection.policyName == "invalid-policy" ? nil : PasserParser()
    }
}

final class PasserParser: Parser {
    func onData(reply: Bool, endStream: Bool, input: InputView) -> ParserOp {
        input.isEmpty ? .nop : .pass(input.count)
    }
}
