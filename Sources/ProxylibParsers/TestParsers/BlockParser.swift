import ProxylibCore

/// `test.blockparser`: length-prefixed blocks for exercising the datapath, including PASS/DROP beyond the
/// input and injections larger than the inject buffer.
///
///     block  = length ":" payload      ; length (decimal) counts the whole block, digits included
///     payload contains "PASS"    → forwarded (decided on the first bytes; the rest may still be arriving)
///                      "DROP"    → discarded (likewise)
///                      "INJECT"  → discarded, and injected into the opposite direction (whole block needed)
///                      "INSERT"  → injected into this direction (in pieces, as the inject buffer allows),
///                                  then the original block is dropped
///     otherwise ERROR (invalid frame type); a bad length → ERROR (invalid frame length)
public final class BlockParser: ConnectionParser {
    public static let name = "test.blockparser"

    private let connection: Connection
    /// Bytes of the current block already injected by INSERT.
    private var inserted = 0

    public init(connection: Connection) {
        self.connection = connection
    }

    /// The front block as far as it has arrived.
    struct Block {
        /// The available part of the block (the whole input when the length is not known yet).
        var bytes: InputView
        /// The declared length, 0 while the ':' has not arrived.
        var length: Int
        /// Bytes still to arrive.
        var missing: Int
    }

    enum BlockError: Error {
        case badLength
    }

    static func frontBlock(_ input: InputView) throws(BlockError) -> Block {
        guard let colon = input.firstIndex(of: UInt8(ascii: ":")) else {
            return Block(bytes: input, length: 0, missing: input.isEmpty ? 0 : 1)
        }
        guard colon > 0 else { throw .badLength }
        var length = 0
        for offset in 0..<colon {
            guard let byte = input[offset], byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { throw .badLength }
            let (times10, overflow1) = length.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(Int(byte - UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else { throw .badLength }
            length = sum
        }
        guard length > colon else { throw .badLength }
        if length <= input.count {
            return Block(bytes: input.prefix(length), length: length, missing: 0)
        }
        return Block(bytes: input, length: length, missing: length - input.count)
    }

    public func onData(reply: Bool, endStream: Bool, input: InputView) -> ParserOp {
        let block: Block
        do {
            block = try Self.frontBlock(input)
        } catch {
            return .error(.invalidFrameLength)
        }
        if inserted > 0 {
            if inserted == block.length {
                inserted = 0
                return .drop(block.length)
            }
            let n = connection.inject(reply: reply, block.bytes.dropFirst(inserted))
            inserted += n
            return .inject(n)
        }
        if block.missing == 0 && block.length == 0 {
            return .nop
        }
        if block.bytes.contains("PASS") {
            connection.log(.request, .generic(proto: BlockParser.name, fields: L7Fields(("status", "200"))))
            return .pass(block.length)
        }
        if block.bytes.contains("DROP") {
            connection.log(.denied, .generic(proto: BlockParser.name, fields: L7Fields(("status", "503"))))
            return .drop(block.length)
        }
        if block.missing > 0 {
            return .more(block.missing)
        }
        if block.bytes.contains("INJECT") {
            connection.inject(reply: !reply, block.bytes)
            return .drop(block.length)
        }
        if block.bytes.contains("INSERT") {
            let n = connection.inject(reply: reply, block.bytes)
            inserted = n
            return .inject(n)
        }
        return .error(.invalidFrameType)
    }
}
