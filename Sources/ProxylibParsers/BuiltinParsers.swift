import ProxylibCore

/// The parsers compiled into libcilium.so, by the names policies and cilium-envoy use.
public enum BuiltinParsers {
    public static let registry: ParserRegistry = {
        var registry = ParserRegistry()
        registry.register(parser: PasserParserFactory.name, PasserParserFactory())
        registry.register(parser: LineParserFactory.name, LineParserFactory())
        registry.register(parser: HeaderParserFactory.name, HeaderParserFactory())
        registry.register(ruleParser: HeaderParserFactory.name, HeaderRule.ruleParser)
        registry.register(parser: BlockParserFactory.name, BlockParserFactory())
        registry.register(parser: R2D2ParserFactory.name, R2D2ParserFactory())
        registry.register(ruleParser: R2D2ParserFactory.name, R2D2Rule.ruleParser)
        return registry
    }()
}
