import CProxylib

/// The op loop of `OnData` (upstream `Connection.OnData`): call the parser until the ops slice is full.
///
/// - NOP ends the loop without an op.
/// - MORE is terminal.
/// - PASS and DROP advance the input, and the parser is called again even with nothing left, so it can
///   inject at the end of the input.
/// - INJECT does not advance; the loop stops once that direction's inject buffer is full.
/// - ERROR is terminal (upstream keeps calling the parser after ERROR until the slice is full; the datapath
///   closes the connection at the first ERROR either way).
/// - A byte count ≤ 0, an INJECT larger than the inject buffer holds, or a thrown error → PARSER_ERROR, with
///   a Denied access-log entry `status: "Panic: …"` for failures (upstream's recover() path).
extension Connection {
    func onData(reply: Bool, endStream: Bool, input: InputView, ops: UnsafeMutablePointer<GoSlice>) -> FilterResult {
        guard let parser else { return FILTER_PARSER_ERROR }
        guard let opsCapacity = OpsSlice(header: ops) else {
            Diagnostics.error("OnData: connection \(id): malformed filterOps slice header")
            return FILTER_UNKNOWN_ERROR
        }
        var opsSlice = opsCapacity
        var remaining = input
        while !opsSlice.isFull {
            let op: ParserOp
            do {
                op = try parser.onData(reply: reply, endStream: endStream, input: remaining)
            } catch {
                return fail("\(error)")
            }
            guard let wire = op.wireForm else { break }  // NOP
            if wire.bytes <= 0 {
                Diagnostics.debug("OnData: connection \(id): parser \(parserName) returned \(op)")
                return FILTER_PARSER_ERROR
            }
            if case .inject(let n) = op, n > injectBuffer(reply: reply).count {
                return fail("parser \(parserName) returned \(op) with \(injectBuffer(reply: reply).count) bytes in the inject buffer")
            }
            opsSlice.append(op: wire.op, bytes: wire.bytes)
            switch op {
            case .more, .error:
                return FILTER_OK
            case .pass(let n), .drop(let n):
                remaining = remaining.dropFirst(n)
            case .inject:
                if isInjectBufferFull(reply: reply) { return FILTER_OK }
            case .nop:
                break
            }
        }
        return FILTER_OK
    }

    private func fail(_ reason: String) -> FilterResult {
        Diagnostics.debug("OnData: connection \(id): parser failure: \(reason)")
        log(.denied, .generic(proto: parserName, fields: L7Fields(("status", "Panic: \(reason)"))))
        return FILTER_PARSER_ERROR
    }
}

/// The caller's `filterOps` slice of `FilterOp`, appended to by raising `len` up to `cap`.
struct OpsSlice {
    private let header: UnsafeMutablePointer<GoSlice>
    private let base: UnsafeMutablePointer<FilterOp>?

    init?(header: UnsafeMutablePointer<GoSlice>) {
        let len = header.pointee.len, cap = header.pointee.cap
        guard len >= 0, cap >= len, cap == 0 || header.pointee.data != nil else { return nil }
        self.header = header
        self.base = header.pointee.data?.assumingMemoryBound(to: FilterOp.self)
    }

    var isFull: Bool { header.pointee.len >= header.pointee.cap }

    mutating func append(op: UInt64, bytes: Int64) {
        guard !isFull, let base else { return }
        let index = Int(header.pointee.len)
        base[index] = FilterOp(op: op, n_bytes: bytes)
        header.pointee.len += 1
    }
}
