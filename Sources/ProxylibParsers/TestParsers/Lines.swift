import ProxylibCore

/// Line framing shared by the line-oriented test parsers.
enum Lines {
    /// The length of the first line including its `\n`, or nil when no `\n` has arrived yet.
    static func completeLineLength(in input: InputView) -> Int? {
        input.firstIndex(of: UInt8(ascii: "\n")).map { $0 + 1 }
    }
}
