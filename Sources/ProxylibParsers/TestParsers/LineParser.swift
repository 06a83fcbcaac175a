import ProxylibCore

/// `test.lineparser`: a line protocol for exercising the datapath.
///
///     line = verb *octet "\n"
///     PASS…    forwarded
///     DROP…    discarded
///     INJECT…  discarded here, and the line is injected into the opposite direction
///     INSERT…  injected into this direction in place of the original line (which is then dropped)
///     other    ERROR (invalid frame type)
public final class LineParser: ConnectionParser {
    public static let name = "test.lineparser"

    private let connection: Connection
    /// The line just inserted is still at the front of the input and must be dropped next.
    private var inserted = false

    public init(connection: Connection) {
        self.connection = connection
    }

    public func onData(reply: Bool, endStream: Bool, input: InputView) -> ParserOp {
        let complete = Lines.completeLineLength(in: input)
        let lineLength = complete ?? input.count
        if inserted {
            inserted = false
            return .drop(lineLength)
        }
        guard complete != nil else {
            return lineLength > 0 ? .more(1) : .nop
        }
        let line = input.prefix(lineLength)
        if line.starts(with: "PASS") { return .pass(lineLength) }
        if line.starts(with: "DROP") { return .drop(lineLength) }
        if line.starts(with: "INJECT") {
            connection.inject(reply: !reply, line)
            return .drop(lineLength)
        }
        if line.starts(with: "INSERT") {
            connection.inject(reply: reply, line)
            inserted = true
            return .inject(lineLength)
        }
        return .error(.invalidFrameType)
    }
}
