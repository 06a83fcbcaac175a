/// A per-connection L7 parser.
///
/// The framework calls `onData` with the buffered, not yet decided input of one direction, always starting at
/// a frame boundary. The parser answers with one op about the front of that input; after PASS, DROP and
/// INJECT it is called again with what remains (possibly nothing, so it can inject at the end).
///
/// Calls for one connection never overlap (Envoy drives a connection from one worker thread), so a parser
/// keeps its state in plain stored properties. A parser must not trap on any input: return
/// `.error(...)`, or throw, and the connection is closed with PARSER_ERROR.
public protocol Parser: AnyObject {
    /// - Parameters:
    ///   - reply: `false` for the direction the connection was opened in, `true` for the replies.
    ///   - endStream: no more data follows `input` in this direction.
    ///   - input: a zero-copy view of the buffered bytes (scatter-gather).
    func onData(reply: Bool, endStream: Bool, input: InputView) throws -> ParserOp
}

/// Creates parsers for new connections; shared by all connections, so it must be thread-safe.
public protocol ParserFactory: Sendable {
    /// Returns nil to refuse the connection (OnNewConnection then answers POLICY_DROP).
    func makeParser(for connection: Connection) -> (any Parser)?
}

/// A parser failure with a reason; logged as a Denied access-log entry `status: "Panic: <reason>"`.
public struct ParserFailure: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A parser made from its connection alone; `ParserFactoryFor<P>` then serves as its factory:
///
///     registry.register(parser: "myproto", ParserFactoryFor<MyParser>())
public protocol ConnectionParser: Parser {
    init(connection: Connection)
}

/// The factory of a `ConnectionParser` that accepts every connection.
public struct ParserFactoryFor<P: ConnectionParser>: ParserFactory {
    public init() {}

    public func makeParser(for connection: Connection) -> (any Parser)? {
        P(connection: connection)
    }
}
