/// The parsers and L7 rule parsers a library instance knows, keyed by name (`l7proto`).
///
/// Built once when the library is loaded and immutable afterwards, so lookups from worker threads need no lock.
public struct ParserRegistry: Sendable {
    private var factories: [String: any ParserFactory] = [:]
    private var ruleParsers: [String: L7RuleParser] = [:]

    public init() {}

    /// Registers the parser factory for connections whose OnNewConnection names `name`.
    public mutating func register(parser name: String, _ factory: any ParserFactory) {
        factories[name] = factory
    }

    /// Registers how policy rules for `name` are compiled (by `l7_proto`, or by the name of the `l7` oneof).
    public mutating func register(ruleParser name: String, _ parser: L7RuleParser) {
        ruleParsers[name] = parser
    }

    public func factory(named name: String) -> (any ParserFactory)? { factories[name] }
    public func ruleParser(named name: String) -> L7RuleParser? { ruleParsers[name] }

    public var parserNames: [String] { factories.keys.sorted() }
}
