import CProxylib
import Testing
@testable import ProxylibCore
import ProxylibParsers
import ProxylibTestSupport

/// Regression tests for the upstream memcache defects listed in ../shared/parity.md (each shows the corrected
/// behaviour; the conversations in MemcacheConversationTests show the same through the datapath).
@Suite struct MemcacheUpstreamDefectTests {
    func connection(_ rules: [L7KeyValueRule] = [[:]]) throws -> (ParserFixture, TestConnection) {
        let fixture = ParserFixture()
        try fixture.install([MC.policy(rules)])
        return (fixture, fixture.connect("memcache"))
    }

    /// Go answers PASS for the whole frame and then MORE, which cilium-envoy treats as a broken contract. The
    /// PASS of a frame still arriving is the call's last op.
    @Test func valueStillArrivingIsPassedAsTheLastOp() throws {
        let (_, text) = try connection()
        #expect(text.onData("set k 0 0 10\r\nhel").ops == [.pass(26)])
        let (_, binary) = try connection()
        #expect(binary.onData(segments: [Array(MC.setHello[..<40])]).ops == [.pass(MC.setHello.count)])
        let (_, denied) = try connection([["command": "get"]])
        #expect(denied.onData("set k 0 0 10\r\nhel").ops == [.drop(26)])
    }

    /// Go panics (index out of range on its empty reply queue); here it is a protocol error, without a trap.
    @Test func textReplyWithNothingOutstanding() throws {
        let (_, connection) = try connection()
        #expect(connection.onData("get a\r\n").ops == [.pass(7), .more(2)])
        #expect(connection.onData(reply: true, "END\r\nEND\r\n").ops == [.pass(5), .error(.invalidFrameType)])
    }

    /// Go indexes past the tokens of a short storage command (a panic) and parses the length with Atoi.
    @Test(arguments: ["set k 0 0\r\n", "cas k 0 0 1\r\n", "set k 0 0 -1\r\n", "set k 0 0 1x\r\n", "set\r\n", "\r\n", " \r\n"])
    func malformedStorageAndEmptyLines(_ line: String) throws {
        let (_, connection) = try connection()
        #expect(connection.onData(line).ops == [.error(.invalidFrameType)])
    }

    /// Go sends opcode 0 and opaque 0 in every binary denial, and counts one reply per request, which quiet
    /// opcodes break; it also queued a denial behind an outstanding response twice (cilium/proxy#1889).
    @Test func binaryDenialsKeepOpcodeOpaqueAndOrder() throws {
        let (_, connection) = try connection([["command": "get", "keyPrefix": "a"]])
        let getq = MC.request(0x09, key: "a1", opaque: 7)
        let denied = MC.request(0x0c, key: "b", opaque: 8)
        let outcome = connection.onData(segments: [getq, denied])
        // The denial waits behind a quiet request, so a NOOP with its opaque goes to the server in its place.
        #expect(outcome.ops == [.pass(getq.count), .inject(24), .drop(denied.count), .more(24)])
        #expect(outcome.originalInjected == MC.request(0x0a, opaque: 8))
        // The GETQ missed (no response); the NOOP's response is replaced by the denial, once.
        let reply = connection.onData(reply: true, segments: [MC.response(0x0a, opaque: 8)])
        #expect(reply.ops == [.drop(24), .inject(37)])
        #expect(reply.replyInjected == MC.binaryDenial(0x0c, opaque: 8))
        #expect(connection.onData(reply: true, segments: []).ops == [])
    }

    /// Go answers ERROR to every meta command, closing the connection.
    @Test func metaCommandsAreParsed() throws {
        let (_, connection) = try connection([["command": "get"]])
        #expect(connection.onData("mg k v\r\nms k 1\r\nx\r\n").ops == [.pass(8), .drop(11), .more(2)])
    }

    /// Go searches retrieval replies for "\r\nEND\r\n": a miss (a bare END) never completes, and a value
    /// containing that text cuts the reply short.
    @Test func retrievalRepliesAreFramedByLength() throws {
        let (_, connection) = try connection()
        _ = connection.onData("get a\r\nget b\r\n")
        let value = "x\r\nEND\r\ny"
        let header = "VALUE b 0 \(value.utf8.count)\r\n"
        #expect(connection.onData(reply: true, "END\r\n" + header + value + "\r\nEND\r\n").ops
                == [.pass(5), .pass(header.utf8.count + value.utf8.count + 2 + 5)])
    }
}
