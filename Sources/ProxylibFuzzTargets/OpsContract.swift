import CProxylib

/// The contract of `OnData`'s answer, checked on every call a datapath fuzz target makes (the checking
/// `on_data` of `DatapathDriver` wraps the real entry point):
///
/// - the result is OK, or PARSER_ERROR (a parser failure; the datapath closes the connection);
/// - the ops slice keeps its data pointer and capacity, and its length stays within the capacity;
/// - every op is MORE, PASS, DROP, INJECT or ERROR; MORE, PASS, DROP and INJECT carry a positive count, ERROR
///   one of the error codes;
/// - nothing follows MORE or ERROR;
/// - every PASS or DROP starts inside the bytes offered; only the last of them may reach beyond (a frame
///   whose rest is still arriving), and after it only INJECT or MORE may follow;
/// - the INJECT counts of one call add up to no more than the bytes in that direction's inject buffer, and
///   no inject buffer is written beyond its capacity or moved.
struct OpsContract {
    /// The inject buffers' slice headers before the call, to check that the library only raised lengths.
    struct InjectState {
        let data: UnsafeMutableRawPointer?
        let cap: GoInt
    }

    static func check(result: FilterResult, offered: Int, opsBefore: GoSlice, opsAfter: GoSlice,
                      reply: Bool, injectBefore: [InjectState], injectAfter: [GoSlice]) throws(FuzzViolation) {
        for (index, (before, after)) in zip(injectBefore, injectAfter).enumerated() {
            let which = index == 0 ? "orig" : "reply"
            guard after.data == before.data, after.cap == before.cap, after.len >= 0, after.len <= after.cap else {
                throw FuzzViolation("\(which) inject buffer header changed: len \(after.len) cap \(after.cap) (cap was \(before.cap))")
            }
        }
        guard opsAfter.data == opsBefore.data, opsAfter.cap == opsBefore.cap,
              opsAfter.len >= opsBefore.len, opsAfter.len <= opsAfter.cap else {
            throw FuzzViolation("ops slice header changed: len \(opsBefore.len)→\(opsAfter.len), cap \(opsBefore.cap)→\(opsAfter.cap)")
        }
        switch result {
        case FILTER_OK: break
        case FILTER_PARSER_ERROR: return
        default: throw FuzzViolation("OnData returned \(result.rawValue) on an open connection")
        }
        guard let base = opsAfter.data?.assumingMemoryBound(to: FilterOp.self) else { return }
        var consumed = 0
        var beyond = false
        var terminal: String?
        var injected = 0
        for index in Int(opsBefore.len)..<Int(opsAfter.len) {
            let op = base[index]
            let n = op.n_bytes
            let name = opName(op.op)
            if let terminal {
                throw FuzzViolation("op \(index) (\(name) \(n)) follows \(terminal)")
            }
            switch UInt32(truncatingIfNeeded: op.op) {
            case FILTEROP_MORE.rawValue:
                guard n > 0 else { throw FuzzViolation("op \(index): MORE \(n)") }
                terminal = "MORE"
            case FILTEROP_PASS.rawValue, FILTEROP_DROP.rawValue:
                guard n > 0 else { throw FuzzViolation("op \(index): \(name) \(n)") }
                guard !beyond else {
                    throw FuzzViolation("op \(index): \(name) \(n) after a PASS/DROP beyond the \(offered) bytes offered")
                }
                guard consumed < offered else {
                    throw FuzzViolation("op \(index): \(name) \(n) starts at \(consumed), past the \(offered) bytes offered")
                }
                consumed += Int(clamping: n)
                beyond = consumed > offered
            case FILTEROP_INJECT.rawValue:
                guard n > 0 else { throw FuzzViolation("op \(index): INJECT \(n)") }
                injected += Int(clamping: n)
            case FILTEROP_ERROR.rawValue:
                guard (1...3).contains(n) else { throw FuzzViolation("op \(index): ERROR with code \(n)") }
                terminal = "ERROR"
            default:
                throw FuzzViolation("op \(index): unknown op code \(op.op)")
            }
        }
        let buffered = Int(injectAfter[reply ? 1 : 0].len)
        if injected > buffered {
            throw FuzzViolation("INJECT ops claim \(injected) bytes, the \(reply ? "reply" : "orig") inject buffer holds \(buffered)")
        }
    }

    static func opName(_ op: UInt64) -> String {
        switch UInt32(truncatingIfNeeded: op) {
        case FILTEROP_MORE.rawValue: return "MORE"
        case FILTEROP_PASS.rawValue: return "PASS"
        case FILTEROP_DROP.rawValue: return "DROP"
        case FILTEROP_INJECT.rawValue: return "INJECT"
        case FILTEROP_ERROR.rawValue: return "ERROR"
        default: return "op\(op)"
        }
    }
}
