import CProxylib

/// Why a parser declared the stream unparseable; carried to the datapath in the ERROR op's byte count.
public enum ParserOpError: Int64, Sendable {
    case invalidOpLength = 1
    case invalidFrameType = 2
    case invalidFrameLength = 3
}

/// A parser's answer about the front of the buffered input of one direction.
public enum ParserOp: Equatable, Sendable {
    /// Keep the input and call again once at least `n` more bytes have arrived.
    case more(Int)
    /// Forward the first `n` bytes (may exceed the input: the datapath passes the rest as it arrives).
    case pass(Int)
    /// Discard the first `n` bytes (may exceed the input, like `pass`).
    case drop(Int)
    /// Send `n` bytes that the parser has put into this direction's inject buffer.
    case inject(Int)
    /// The stream cannot be parsed; the connection is closed.
    case error(ParserOpError)
    /// Nothing to do now: no op is emitted and the parser is not called again for this input.
    case nop
}

extension ParserOp {
    /// `FilterOp.op` of this answer (`.nop` has none and is never sent).
    var wireOp: UInt64 {
        switch self {
        case .more: return UInt64(FILTEROP_MORE.rawValue)
        case .pass: return UInt64(FILTEROP_PASS.rawValue)
        case .drop: return UInt64(FILTEROP_DROP.rawValue)
        case .inject: return UInt64(FILTEROP_INJECT.rawValue)
        case .error, .nop: return UInt64(FILTEROP_ERROR.rawValue)
        }
    }
}

extension ParserOp: CustomStringConvertible {
    public var description: String {
        switch self {
        case .more(let n): return "MORE \(n)"
        case .pass(let n): return "PASS \(n)"
        case .drop(let n): return "DROP \(n)"
        case .inject(let n): return "INJECT \(n)"
        case .error(let reason): return "ERROR \(reason)"
        case .nop: return "NOP"
        }
    }
}
