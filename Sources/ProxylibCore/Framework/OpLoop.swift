import CProxylib

/// The op loop of `OnData` (upstream `Connection.OnData`): call the parser until the ops slice is full.
///
/// - NOP ends the loop without an op.
/// - MORE is terminal.
/// - PASS and DROP advance the input, and the parser is called again even with nothing left, so it can
///   inject at the end of the input; a PASS or DROP longer than the input is terminal (upstream calls the
///   parser again, and the MORE it then answers makes cilium-envoy close the connection).
/// - INJECT does not advance; the loop stops once that direction's inject buffer is full.
/// - ERROR is terminal (upstream keeps calling the parser after ERROR until the slice is full; the datapath
///   closes the connection at the first ERROR either way).
/// - A byte count ≤ 0, INJECT ops claiming more bytes than the inject buffer holds (all INJECTs of one call
///   together: the datapath takes each op's bytes off the front of the buffer), or a thrown error →
///   PARSER_ERROR, with
///   a Denied access-log entry `status: "Panic: …"` for failures (upstream's recover() path).
extension Connection {
    func onData(reply: Bool, endStream: Bool, input: InputView, ops: UnsafeMutablePointer<GoSlice>) -> FilterResult {
        guard let parser else { return FILTER_PARSER_ERROR }
        guard var opsSlice = OpsSlice(header: ops) else {
            Diagnostics.error("OnData: connection \(id): malformed filterOps slice header")
            return FILTER_UNKNOWN_ERROR
        }
        var remaining = input
        var injected = 0
        while !opsSlice.isFull {
            let op: ParserOp
            do {
                op = try parser.onData(reply: reply, endStream: endStream, input: remaining)
            } catch {
                return fail("\(error)")
            }
            switch op {
            case .pass(let n), .drop(let n):
                guard n > 0 else { return invalidLength(op) }
                opsSlice.append(op: op.wireOp, bytes: Int64(n))
                // A verdict reaching beyond the input covers bytes still to come: the datapath applies it to them
                // as they arrive and takes no further op in this call.
                if n > remaining.count { return FILTER_OK }
                remaining = remaining.dropFirst(n)
            case .more(let n):
                guard n > 0 else { return invalidLength(op) }
                opsSlice.append(op: op.wireOp, bytes: Int64(n))
                return FILTER_OK
            case .inject(let n):
                guard n > 0 else { return invalidLength(op) }
                let buffered = injectBuffer(reply: reply).count
                injected += n
                if injected > buffered {
                    return fail("parser \(parserName) returned \(op), \(injected) bytes injected in this call, with \(buffered) bytes in the inject buffer")
                }
                opsSlice.append(op: op.wireOp, bytes: Int64(n))
                if isInjectBufferFull(reply: reply) { return FILTER_OK }
            case .error(let reason):
                opsSlice.append(op: op.wireOp, bytes: reason.rawValue)
                return FILTER_OK
            case .nop:
                return FILTER_OK
            }
        }
        return FILTER_OK
    }

    private func invalidLength(_ op: ParserOp) -> FilterResult {
        Diagnostics.debug("OnData: connection \(id): parser \(parserName) returned \(op)")
        return FILTER_PARSER_ERROR
    }

    private func fail(_ reason: String) -> FilterResult {
        Diagnostics.debug("OnData: connection \(id): parser failure: \(reason)")
        log(.denied, .generic(proto: parserName, fields: L7Fields(("status", "Panic: \(reason)"))))
        return FILTER_PARSER_ERROR
    }
}

/// The caller's `filterOps` slice of `FilterOp`, appended to by raising `len` up to `cap`. The header's
/// length and capacity are read once; `len` is written back on every append.
struct OpsSlice {
    private let header: UnsafeMutablePointer<GoSlice>
    private let base: UnsafeMutablePointer<FilterOp>?
    private var length: Int
    private let capacity: Int

    init?(header: UnsafeMutablePointer<GoSlice>) {
        let len = header.pointee.len, cap = header.pointee.cap
        guard len >= 0, cap >= len, cap == 0 || header.pointee.data != nil else { return nil }
        self.header = header
        self.base = header.pointee.data?.assumingMemoryBound(to: FilterOp.self)
        self.length = Int(len)
        self.capacity = Int(cap)
    }

    var isFull: Bool { length >= capacity }

    mutating func append(op: UInt64, bytes: Int64) {
        guard !isFull, let base else { return }
        base[length] = FilterOp(op: op, n_bytes: bytes)
        length += 1
        header.pointee.len = GoInt(length)
    }
}
