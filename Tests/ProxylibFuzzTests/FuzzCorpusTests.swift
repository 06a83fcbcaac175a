#if canImport(Glibc)
import Glibc
#endif
import CProxylib
import Testing
@testable import ProxylibFuzzTargets

/// Every committed fuzz input — the seed corpora and the regression inputs of crashes and broken invariants
/// the fuzzers found (Tests/Fuzz/corpus/TARGET, Tests/Fuzz/regressions/TARGET) — replayed through its target
/// in the ordinary test build, so a regression shows in `make test` without a fuzzing build.
@Suite(.serialized) struct FuzzCorpusTests {
    static let fuzzRoot: String = {
        var path = #filePath
        for _ in 0..<3 { path = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)]) }
        return path + "/Tests/Fuzz"
    }()

    @Test(arguments: FuzzTargets.all.map(\.name))
    func corpusAndRegressionsReplayClean(_ name: String) throws {
        let target = try #require(FuzzTargets.named(name))
        target.prepare()
        var replayed = 0
        for folder in ["corpus", "regressions"] {
            for file in FuzzSeeds.fixtureNames(in: "\(Self.fuzzRoot)/\(folder)/\(name)", suffix: "") {
                let bytes = try #require(FuzzSeeds.read("\(Self.fuzzRoot)/\(folder)/\(name)/\(file)"))
                #expect(throws: Never.self, "\(folder)/\(name)/\(file)") {
                    try bytes.withUnsafeBytes { try target.run($0) }
                }
                replayed += 1
            }
        }
        #expect(replayed > 0, "no committed inputs for \(name)")
    }

    @Test func everyTargetHasADictionaryOrSaysWhyNot() {
        for target in FuzzTargets.all {
            let dictionary = "\(Self.fuzzRoot)/dict/\(target.name).dict"
            #expect(access(dictionary, R_OK) == 0, "missing \(dictionary)")
        }
    }
}

/// The checks themselves must be able to fail: forged answers and streams they must reject.
@Suite struct FuzzInvariantTests {
    @Test func r2d2OracleRejectsDeniedAndPartialRequests() {
        let oracle = R2D2Oracle()
        #expect(throws: FuzzViolation.self) { try oracle.checkForwarded(Array("READ /private/x\r\n".utf8), written: [], remote: 1) }
        #expect(throws: FuzzViolation.self) { try oracle.checkForwarded(Array("HALT\r\n".utf8), written: [], remote: 9) }
        #expect(throws: FuzzViolation.self) { try oracle.checkForwarded(Array("READ /public/secret\r\n".utf8), written: [], remote: 1) }
        #expect(throws: FuzzViolation.self) { try oracle.checkForwarded(Array("WRITE /tmp/x\r\n".utf8), written: [], remote: 1) }
        #expect(throws: FuzzViolation.self) { try oracle.checkForwarded(Array("HALT\r\nREAD /pub".utf8), written: [], remote: 1) }
        #expect(throws: Never.self) {
            try oracle.checkForwarded(Array("READ /public/a\r\nHALT x\r\n".utf8), written: [], remote: 1)
            try oracle.checkForwarded(Array("WRITE /tmp/x\r\n".utf8), written: [], remote: 7)
        }
    }

    @Test func headerOracleRejectsDeniedLines() {
        let oracle = HeaderLineOracle()
        #expect(throws: FuzzViolation.self) { try oracle.checkForwarded(Array("deny me\n".utf8), written: [], remote: 1) }
        #expect(throws: FuzzViolation.self) { try oracle.checkForwarded(Array("allow poison\n".utf8), written: [], remote: 1) }
        #expect(throws: FuzzViolation.self) { try oracle.checkForwarded(Array("x seven\n".utf8), written: [], remote: 2) }
        #expect(throws: Never.self) {
            try oracle.checkForwarded(Array(" \tallow x\r\nbeer at the end \n".utf8), written: [], remote: 1)
            try oracle.checkForwarded(Array("x seven\n".utf8), written: [], remote: 7)
        }
    }

    /// Runs the op-contract check on forged ops for an input of `offered` bytes.
    func check(_ ops: [(FilterOpType, Int64)], offered: Int = 10, injected: Int = 0, reply: Bool = false,
               result: FilterResult = FILTER_OK) throws {
        var storage = ops.map { FilterOp(op: UInt64($0.0.rawValue), n_bytes: $0.1) } + [FilterOp(op: 0, n_bytes: 0)]
        var inject = [UInt8](repeating: 0, count: 16)
        let opsBase = storage.withUnsafeMutableBytes { $0.baseAddress }
        let injectBase = inject.withUnsafeMutableBytes { $0.baseAddress }
        // Only the addresses are compared; the ops are read while `storage` is alive.
        let before = GoSlice(data: opsBase, len: 0, cap: GoInt(ops.count + 1))
        let after = GoSlice(data: opsBase, len: GoInt(ops.count), cap: GoInt(ops.count + 1))
        let slice = GoSlice(data: injectBase, len: GoInt(injected), cap: 16)
        let state = OpsContract.InjectState(data: injectBase, cap: 16)
        try withExtendedLifetime((storage, inject)) {
            try OpsContract.check(result: result, offered: offered, opsBefore: before, opsAfter: after, reply: reply,
                                  injectBefore: [state, state], injectAfter: [slice, slice])
        }
        storage.removeAll()
        inject.removeAll()
    }

    @Test func opsContractAcceptsWhatTheDatapathAllows() {
        #expect(throws: Never.self) {
            try check([(FILTEROP_PASS, 4), (FILTEROP_DROP, 6), (FILTEROP_MORE, 1)])
            try check([(FILTEROP_PASS, 4), (FILTEROP_PASS, 100), (FILTEROP_INJECT, 3), (FILTEROP_MORE, 1)], injected: 3)
            try check([(FILTEROP_ERROR, 2)])
            try check([(FILTEROP_PASS, 0)], result: FILTER_PARSER_ERROR)
        }
    }

    @Test(arguments: [
        ("zero-length PASS", [(FILTEROP_PASS, Int64(0))], 0),
        ("negative DROP", [(FILTEROP_DROP, -1)], 0),
        ("op after MORE", [(FILTEROP_MORE, 1), (FILTEROP_PASS, 1)], 0),
        ("op after ERROR", [(FILTEROP_ERROR, 2), (FILTEROP_INJECT, 1)], 1),
        ("PASS after one beyond the input", [(FILTEROP_PASS, 20), (FILTEROP_PASS, 1)], 0),
        ("PASS starting past the input", [(FILTEROP_PASS, 10), (FILTEROP_DROP, 1)], 0),
        ("INJECT beyond the buffer", [(FILTEROP_INJECT, 5)], 4),
        ("unknown error code", [(FILTEROP_ERROR, 9)], 0),
    ] as [(String, [(FilterOpType, Int64)], Int)])
    func opsContractRejects(_ name: String, _ ops: [(FilterOpType, Int64)], _ injected: Int) {
        #expect(throws: FuzzViolation.self, "\(name)") { try check(ops, injected: injected) }
    }

    @Test func opsContractRejectsUnexpectedResults() {
        #expect(throws: FuzzViolation.self) { try check([], result: FILTER_UNKNOWN_CONNECTION) }
    }

    @Test func accessLogCutRule() {
        #expect(AccessLogFuzzTarget.isCut("abc", of: "abc"))
        #expect(AccessLogFuzzTarget.isCut("ab…[truncated 1 bytes]", of: "abc"))
        #expect(AccessLogFuzzTarget.isCut("a\u{FFFD}", of: "a\0"))
        #expect(!AccessLogFuzzTarget.isCut("abd", of: "abc"))
        #expect(!AccessLogFuzzTarget.isCut("ax…[truncated 1 bytes]", of: "abc"))
    }
}
