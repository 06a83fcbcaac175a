import CProxylib
import Testing
@testable import ProxylibCore
import ProxylibParsers
import ProxylibTestSupport

/// test.passer, test.lineparser and test.blockparser: the parsers that exercise the datapath.
@Suite struct DatapathTestParserTests {
    struct Vector: Sendable, CustomTestStringConvertible {
        let parser: String
        let input: String
        var reply = false
        let expected: ReplayVerifier.Transcript
        var testDescription: String { "\(parser) \(input.debugDescription)" }
    }

    static let vectors: [Vector] = [
        Vector(parser: "test.lineparser", input: "PASS a\nDROP b\nPASS c\n",
               expected: .init(decisions: [.pass(7), .drop(7), .pass(7)])),
        Vector(parser: "test.lineparser", input: "DROP reply direction\nPASS reply direction\n", reply: true,
               expected: .init(decisions: [.drop(21), .pass(21)])),
        Vector(parser: "test.lineparser", input: "INJECT reply direction\nPASS original direction\n",
               expected: .init(decisions: [.drop(23), .pass(24)], injectedIntoReply: "INJECT reply direction\n")),
        Vector(parser: "test.lineparser", input: "INSERT original direction\nPASS x\n",
               expected: .init(decisions: [.inject(26), .drop(26), .pass(7)], injectedIntoOriginal: "INSERT original direction\n")),
        Vector(parser: "test.lineparser", input: "PASS ok\nBOGUS\n",
               expected: .init(decisions: [.pass(8), .error(.invalidFrameType)], result: FILTER_PARSER_ERROR)),
        Vector(parser: "test.blockparser", input: "24:DROP reply direction\n24:PASS reply direction\n", reply: true,
               expected: .init(decisions: [.drop(24), .pass(24)])),
        Vector(parser: "test.blockparser", input: "26:INJECT reply direction\n27:PASS original direction\n",
               expected: .init(decisions: [.drop(26), .pass(27)], injectedIntoReply: "26:INJECT reply direction\n")),
        Vector(parser: "test.blockparser", input: "29:INSERT original direction\n27:DROP original direction\n",
               expected: .init(decisions: [.inject(29), .drop(29), .drop(27)], injectedIntoOriginal: "29:INSERT original direction\n")),
        Vector(parser: "test.blockparser", input: "5:abc",
               expected: .init(decisions: [.error(.invalidFrameType)], result: FILTER_PARSER_ERROR)),
        Vector(parser: "test.blockparser", input: "x:PASS",
               expected: .init(decisions: [.error(.invalidFrameLength)], result: FILTER_PARSER_ERROR)),
        Vector(parser: "test.blockparser", input: "2:PASS",
               expected: .init(decisions: [.error(.invalidFrameType)], result: FILTER_PARSER_ERROR)),
        Vector(parser: "test.blockparser", input: "1:PASS",
               expected: .init(decisions: [.error(.invalidFrameLength)], result: FILTER_PARSER_ERROR)),
        Vector(parser: "test.blockparser", input: ":PASS",
               expected: .init(decisions: [.error(.invalidFrameLength)], result: FILTER_PARSER_ERROR)),
        Vector(parser: "test.blockparser", input: "99999999999999999999999:PASS",
               expected: .init(decisions: [.error(.invalidFrameLength)], result: FILTER_PARSER_ERROR)),
    ]

    @Test(arguments: vectors)
    func replays(_ vector: Vector) {
        let fixture = ParserFixture()
        expectReplays(vector.input, reply: vector.reply, vector.expected) { fixture.connect(vector.parser) }
    }

    @Test func passerPassesEveryByteHoweverDelivered() {
        let fixture = ParserFixture()
        for delivery in ReplayVerifier.Delivery.all {
            let transcript = ReplayVerifier.replay(Array("anything at all".utf8), into: fixture.connect("test.passer"), delivery: delivery)
            let passed = transcript.decisions.reduce(0) { if case .pass(let n) = $1 { $0 + n } else { $0 + 1_000_000 } }
            #expect(passed == 15, "delivery: \(delivery)")
        }
    }

    @Test func passerPassesEverythingAtOnce() {
        let fixture = ParserFixture()
        let connection = fixture.connect("test.passer")
        #expect(connection.onData("ab", "cde").ops == [.pass(5)])
        #expect(connection.onData(segments: []).ops.isEmpty)
    }

    @Test func partialLinesAskForMore() {
        let fixture = ParserFixture()
        let connection = fixture.connect("test.lineparser")
        #expect(connection.onData("DROP reply ").ops == [.more(1)])
        #expect(connection.onData("DROP reply ", "direction\nPASS").ops == [.drop(21), .more(1)])
    }

    @Test func blockPassedBeforeItFullyArrives() {
        let fixture = ParserFixture()
        let connection = fixture.connect("test.blockparser")
        #expect(connection.onData("24:PASS reply").ops == [.pass(24)])
        #expect(connection.onData("24:INJECT").ops == [.more(15)])
        #expect(fixture.log.count(.request) == 1)
    }

    // Found by fuzzing (datapath-lineparser): two INSERTs in one call whose lines together exceed the inject
    // buffer. The second fits only partly, and its INJECT claimed the whole line against the buffer's total, so
    // the ops asked the datapath for 20 bytes of a 16-byte buffer. All INJECTs of a call now count together.
    @Test func injectsOfOneCallMayNotClaimMoreThanTheBufferHolds() {
        let fixture = ParserFixture()
        let connection = fixture.connect("test.lineparser", injectBufferSize: 16)
        let outcome = connection.onData("INSERT x c\nINSERT d\n")
        #expect(outcome.result == FILTER_PARSER_ERROR)
        let fits = fixture.connect("test.lineparser", injectBufferSize: 16)
        // Exactly full: the call ends with the buffer (the datapath sends it, then calls again for the DROP).
        #expect(fits.onData("INSERT 1\nINSERT\n").ops == [.inject(9), .drop(9), .inject(7)])
    }

    // The blockparser inject-buffer overflow case: a 5000-byte INSERT block goes out in 1024-byte pieces.
    @Test func largeInsertIsInjectedInPieces() {
        let fixture = ParserFixture()
        var block = Array("5000:INSERT original direction".utf8)
        block += [UInt8](repeating: UInt8(ascii: "A"), count: 5000 - block.count - 1) + [UInt8(ascii: "\n")]
        let text = String(decoding: block, as: UTF8.self)
        let expected = ReplayVerifier.Transcript(
            decisions: [.inject(1024), .inject(1024), .inject(1024), .inject(1024), .inject(904), .drop(5000)],
            injectedIntoOriginal: text)
        expectReplays(text, expected) { fixture.connect("test.blockparser") }
    }
}
