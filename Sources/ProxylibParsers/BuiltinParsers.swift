import ProxylibCore

/// The parsers compiled into libcilium.so, by the names policies and cilium-envoy use.
public enum BuiltinParsers {
    public static let registry: ParserRegistry = {
        var registry = ParserRegistry()
        registry.register(parser: PasserParserFactory.name, PasserParserFactory())
        registry.register(parser: LineParser.name, ParserFactoryFor<LineParser>())
        registry.register(parser: HeaderParser.name, ParserFactoryFor<HeaderParser>())
        registry.register(ruleParser: HeaderParser.name, HeaderRule.ruleParser)
        registry.register(parser: BlockParser.name, ParserFactoryFor<BlockParser>())
        registry.register(parser: R2D2Parser.name, ParserFactoryFor<R2D2Parser>())
        registry.register(ruleParser: R2D2Parser.name, R2D2Rule.ruleParser)
        registry.register(parser: MemcacheParser.name, ParserFactoryFor<MemcacheParser>())
        registry.register(ruleParser: MemcacheParser.name, MemcacheRule.ruleParser)
        registry.register(parser: CassandraParser.name, ParserFactoryFor<CassandraParser>())
        registry.register(ruleParser: CassandraParser.name, CassandraRule.ruleParser)
        registry.register(parser: KafkaParser.name, ParserFactoryFor<KafkaParser>())
        registry.register(ruleParser: KafkaParser.name, KafkaRule.ruleParser)
        registry.register(parser: RedisParser.name, ParserFactoryFor<RedisParser>())
        registry.register(ruleParser: RedisParser.name, RedisRule.ruleParser)
        // make new-parser: registrations go above this line.
        return registry
    }()
}
