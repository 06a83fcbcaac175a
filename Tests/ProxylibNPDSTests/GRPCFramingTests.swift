import NIOCore
import NIOHPACK
import NIOHTTP2
@testable import ProxylibNPDS
import Testing

/// gRPC message framing, metadata and the response state machine: pure values, no channel.
@Suite struct GRPCFramingTests {
    private static func prefixed(_ payload: [UInt8], flag: UInt8 = 0) -> [UInt8] {
        let length = UInt32(payload.count)
        return [flag, UInt8(length >> 24), UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff)]
            + payload
    }

    private static func drain(_ deframer: inout GRPCMessageDeframer) throws -> [[UInt8]] {
        var messages: [[UInt8]] = []
        while let message = try deframer.next() { messages.append(message) }
        return messages
    }

    // MARK: Encoding

    @Test func encodesALengthPrefixedMessage() {
        let frame = GRPCFraming.frame([0xde, 0xad, 0xbe, 0xef])
        #expect(Array(frame.readableBytesView) == [0, 0, 0, 0, 4, 0xde, 0xad, 0xbe, 0xef])
        #expect(Array(GRPCFraming.frame([]).readableBytesView) == [0, 0, 0, 0, 0])
        let large = [UInt8](repeating: 7, count: 70_000)
        #expect(Array(GRPCFraming.frame(large).readableBytesView) == Self.prefixed(large))
    }

    @Test func encodedMessagesDecodeBack() throws {
        var deframer = GRPCMessageDeframer()
        let messages: [[UInt8]] = [[], [1], Array("hello".utf8), [UInt8](repeating: 0xff, count: 100_000)]
        var wire = ByteBuffer()
        for message in messages { GRPCFraming.frame(message, into: &wire) }
        deframer.append(wire)
        #expect(try Self.drain(&deframer) == messages)
        #expect(deframer.bufferedBytes == 0)
        try deframer.finish()
    }

    // MARK: Reassembly

    @Test func messageSplitAcrossFrames() throws {
        let payload = Array("a policy that arrives in pieces".utf8)
        let wire = Self.prefixed(payload)
        // Every split point, including inside the 5-byte prefix.
        for cut in 1..<wire.count {
            var deframer = GRPCMessageDeframer()
            deframer.append(ByteBuffer(bytes: wire[..<cut]))
            #expect(try deframer.next() == nil, "cut at \(cut)")
            deframer.append(ByteBuffer(bytes: wire[cut...]))
            #expect(try Self.drain(&deframer) == [payload], "cut at \(cut)")
        }
    }

    @Test func messageArrivingByteByByte() throws {
        let payloads: [[UInt8]] = [Array("first".utf8), [], Array("third".utf8)]
        let wire = payloads.flatMap { Self.prefixed($0) }
        var deframer = GRPCMessageDeframer()
        var received: [[UInt8]] = []
        for byte in wire {
            deframer.append(ByteBuffer(bytes: [byte]))
            received += try Self.drain(&deframer)
        }
        #expect(received == payloads)
        try deframer.finish()
    }

    @Test func severalMessagesInOneFrame() throws {
        let payloads: [[UInt8]] = (0..<10).map { Array("message \($0)".utf8) }
        var deframer = GRPCMessageDeframer()
        // Ten whole messages and the first half of an eleventh.
        let eleventh = Self.prefixed(Array("eleventh".utf8))
        deframer.append(ByteBuffer(bytes: payloads.flatMap { Self.prefixed($0) } + eleventh[..<7]))
        #expect(try Self.drain(&deframer) == payloads)
        #expect(deframer.bufferedBytes == 7)
        #expect(throws: GRPCError.truncatedMessage(bufferedBytes: 7)) { try deframer.finish() }
        deframer.append(ByteBuffer(bytes: eleventh[7...]))
        #expect(try Self.drain(&deframer) == [Array("eleventh".utf8)])
        try deframer.finish()
    }

    @Test func randomSplitsReassembleTheSameMessages() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<50 {
            let payloads: [[UInt8]] = (0..<Int.random(in: 1...8, using: &generator)).map { _ in
                (0..<Int.random(in: 0...300, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            }
            let wire = payloads.flatMap { Self.prefixed($0) }
            var deframer = GRPCMessageDeframer()
            var received: [[UInt8]] = []
            var offset = 0
            while offset < wire.count {
                let count = min(wire.count - offset, Int.random(in: 1...64, using: &generator))
                deframer.append(ByteBuffer(bytes: wire[offset..<offset + count]))
                received += try Self.drain(&deframer)
                offset += count
            }
            #expect(received == payloads)
        }
    }

    // MARK: Refusals

    @Test func compressedFlagIsAStreamError() throws {
        var deframer = GRPCMessageDeframer()
        deframer.append(ByteBuffer(bytes: Self.prefixed([1, 2, 3]) + Self.prefixed([4], flag: 1)))
        #expect(try deframer.next() == [1, 2, 3], "messages before the bad one are still delivered")
        #expect(throws: GRPCError.compressedMessage) { try deframer.next() }
        // The framing is lost for good: more bytes do not revive the stream.
        deframer.append(ByteBuffer(bytes: Self.prefixed([5])))
        #expect(throws: GRPCError.compressedMessage) { try deframer.next() }
        #expect(throws: GRPCError.compressedMessage) { try deframer.finish() }
    }

    @Test func unknownFlagIsAStreamError() {
        var deframer = GRPCMessageDeframer()
        deframer.append(ByteBuffer(bytes: Self.prefixed([1], flag: 0x80)))
        #expect(throws: GRPCError.invalidMessageFlag(0x80)) { try deframer.next() }
    }

    @Test func oversizedLengthIsAnErrorNotAnAllocation() {
        var deframer = GRPCMessageDeframer()
        // The prefix alone: 4 GiB - 1 announced, nothing follows. Must fail at once, not wait for 4 GiB.
        deframer.append(ByteBuffer(bytes: [0, 0xff, 0xff, 0xff, 0xff]))
        #expect(throws: GRPCError.messageTooLarge(length: 0xffff_ffff, limit: 64 << 20)) { try deframer.next() }

        var justOver = GRPCMessageDeframer()
        let limit = UInt32(GRPCFraming.defaultMaximumMessageLength) + 1
        justOver.append(ByteBuffer(bytes: [0, UInt8(limit >> 24), UInt8(limit >> 16 & 0xff),
                                           UInt8(limit >> 8 & 0xff), UInt8(limit & 0xff)]))
        #expect(throws: GRPCError.messageTooLarge(length: limit, limit: 64 << 20)) { try justOver.next() }
    }

    @Test func customLimitAcceptsUpToTheLimit() throws {
        var deframer = GRPCMessageDeframer(maximumMessageLength: 8)
        deframer.append(ByteBuffer(bytes: Self.prefixed([UInt8](repeating: 1, count: 8))))
        #expect(try deframer.next()?.count == 8)
        deframer.append(ByteBuffer(bytes: Self.prefixed([UInt8](repeating: 1, count: 9))))
        #expect(throws: GRPCError.messageTooLarge(length: 9, limit: 8)) { try deframer.next() }
    }

    // MARK: Metadata

    @Test func requestHeaders() {
        let headers = GRPCMetadata.requestHeaders()
        let fields = headers.map { ($0.name, $0.value) }
        #expect(fields.map(\.0) == [":method", ":scheme", ":path", ":authority", "content-type", "te"],
                "pseudo-headers first")
        #expect(headers.first(name: ":method") == "POST")
        #expect(headers.first(name: ":scheme") == "http")
        #expect(headers.first(name: ":path") == "/cilium.NetworkPolicyDiscoveryService/StreamNetworkPolicies")
        #expect(headers.first(name: ":authority") == "localhost")
        #expect(headers.first(name: "content-type") == "application/grpc")
        #expect(headers.first(name: "te") == "trailers")
    }

    @Test func responseHeaderValidation() throws {
        try GRPCMetadata.validateResponseHeaders(HPACKHeaders([(":status", "200"), ("content-type", "application/grpc")]))
        try GRPCMetadata.validateResponseHeaders(
            HPACKHeaders([(":status", "200"), ("content-type", "application/grpc+proto")]))
        try GRPCMetadata.validateResponseHeaders(
            HPACKHeaders([(":status", "200"), ("content-type", "Application/GRPC; charset=utf-8")]))
        #expect(throws: GRPCError.badHTTPStatus("404")) {
            try GRPCMetadata.validateResponseHeaders(
                HPACKHeaders([(":status", "404"), ("content-type", "application/grpc")]))
        }
        #expect(throws: GRPCError.badHTTPStatus(nil)) {
            try GRPCMetadata.validateResponseHeaders(HPACKHeaders([("content-type", "application/grpc")]))
        }
        #expect(throws: GRPCError.badContentType("text/html")) {
            try GRPCMetadata.validateResponseHeaders(HPACKHeaders([(":status", "200"), ("content-type", "text/html")]))
        }
        #expect(throws: GRPCError.badContentType("application/grpcx")) {
            try GRPCMetadata.validateResponseHeaders(
                HPACKHeaders([(":status", "200"), ("content-type", "application/grpcx")]))
        }
        #expect(throws: GRPCError.badContentType(nil)) {
            try GRPCMetadata.validateResponseHeaders(HPACKHeaders([(":status", "200")]))
        }
    }

    @Test func trailerStatus() {
        #expect(GRPCMetadata.statusError(inTrailers: HPACKHeaders([("grpc-status", "0")])) == nil)
        #expect(GRPCMetadata.statusError(inTrailers: HPACKHeaders([("grpc-status", "0"), ("grpc-message", "fine")]))
                == nil)
        #expect(GRPCMetadata.statusError(inTrailers: HPACKHeaders([("grpc-status", "14")]))
                == .status(code: 14, message: ""))
        #expect(GRPCMetadata.statusError(inTrailers: HPACKHeaders([
            ("grpc-status", "13"), ("grpc-message", "policy%20compile%20failed%3A%20caf%C3%A9%20%E2%9C%93"),
        ])) == .status(code: 13, message: "policy compile failed: café ✓"))
        #expect(GRPCMetadata.statusError(inTrailers: HPACKHeaders([])) == .invalidGRPCStatus(nil))
        #expect(GRPCMetadata.statusError(inTrailers: HPACKHeaders([("grpc-status", "OK")])) == .invalidGRPCStatus("OK"))
        #expect(GRPCMetadata.statusError(inTrailers: HPACKHeaders([("grpc-status", "-1")])) == .invalidGRPCStatus("-1"))
        #expect(GRPCMetadata.statusError(inTrailers: HPACKHeaders([("grpc-status", "99999999999999999999")]))
                == .invalidGRPCStatus("99999999999999999999"))
    }

    @Test func percentDecoding() {
        #expect(GRPCMetadata.percentDecoded("plain text") == "plain text")
        #expect(GRPCMetadata.percentDecoded("a%20b") == "a b")
        #expect(GRPCMetadata.percentDecoded("%e2%9c%93") == "✓", "lower-case hex")
        #expect(GRPCMetadata.percentDecoded("100%") == "100%", "a lone % stays")
        #expect(GRPCMetadata.percentDecoded("%zz%4") == "%zz%4", "invalid escapes stay")
        #expect(GRPCMetadata.percentDecoded("%FF") == "\u{FFFD}", "invalid UTF-8 is replaced, not trapped on")
    }

    @Test func statusDescriptions() {
        #expect(GRPCError.status(code: 13, message: "boom").description == "grpc-status 13 (INTERNAL): boom")
        #expect(GRPCError.status(code: 14, message: "").description == "grpc-status 14 (UNAVAILABLE)")
        #expect(GRPCError.status(code: 42, message: "").description == "grpc-status 42 (code 42)")
    }

    // MARK: The response state machine

    private static let okHeaders = HTTP2Frame.FramePayload.headers(
        .init(headers: HPACKHeaders([(":status", "200"), ("content-type", "application/grpc")])))

    private static func data(_ bytes: [UInt8], endStream: Bool = false) -> HTTP2Frame.FramePayload {
        .data(.init(data: .byteBuffer(ByteBuffer(bytes: bytes)), endStream: endStream))
    }

    private static func trailers(_ fields: [(String, String)]) -> HTTP2Frame.FramePayload {
        .headers(.init(headers: HPACKHeaders(fields), endStream: true))
    }

    @Test func normalCall() {
        var reader = GRPCResponseReader()
        #expect(reader.receive(Self.okHeaders).isEmpty)
        #expect(reader.receivedHeaders)
        let wire = Self.prefixed([1, 2]) + Self.prefixed([3])
        #expect(reader.receive(Self.data(Array(wire[..<4]))) == [])
        #expect(reader.receive(Self.data(Array(wire[4...]))) == [[1, 2], [3]])
        #expect(reader.receive(.windowUpdate(windowSizeIncrement: 10)).isEmpty)
        #expect(reader.end == nil)
        #expect(reader.receive(Self.trailers([("grpc-status", "0")])).isEmpty)
        #expect(reader.end == .ok)
    }

    @Test func trailersWithErrorStatus() {
        var reader = GRPCResponseReader()
        _ = reader.receive(Self.okHeaders)
        _ = reader.receive(Self.trailers([("grpc-status", "7"), ("grpc-message", "not%20allowed")]))
        #expect(reader.end == .failed(.status(code: 7, message: "not allowed")))
    }

    @Test func trailersOnlyResponse() {
        var reader = GRPCResponseReader()
        _ = reader.receive(Self.trailers([
            (":status", "200"), ("content-type", "application/grpc"),
            ("grpc-status", "12"), ("grpc-message", "unknown%20service"),
        ]))
        #expect(reader.end == .failed(.status(code: 12, message: "unknown service")))

        var ok = GRPCResponseReader()
        _ = ok.receive(Self.trailers([(":status", "200"), ("content-type", "application/grpc"), ("grpc-status", "0")]))
        #expect(ok.end == .ok)

        var http = GRPCResponseReader()
        _ = http.receive(Self.trailers([(":status", "503"), ("grpc-status", "14")]))
        #expect(http.end == .failed(.badHTTPStatus("503")), "the HTTP status is checked first")
    }

    @Test func protocolViolations() {
        var early = GRPCResponseReader()
        #expect(early.receive(Self.data(Self.prefixed([1]))).isEmpty)
        #expect(early.end == .failed(.unexpectedFrame("DATA before response headers")))

        var twice = GRPCResponseReader()
        _ = twice.receive(Self.okHeaders)
        _ = twice.receive(Self.okHeaders)
        #expect(twice.end == .failed(.unexpectedFrame("second HEADERS without END_STREAM")))

        var reset = GRPCResponseReader()
        _ = reset.receive(Self.okHeaders)
        _ = reset.receive(.rstStream(.internalError))
        if case .failed(.streamReset) = reset.end {} else {
            Issue.record("expected a reset, got \(String(describing: reset.end))")
        }

        var noTrailers = GRPCResponseReader()
        _ = noTrailers.receive(Self.okHeaders)
        #expect(noTrailers.receive(Self.data(Self.prefixed([9]), endStream: true)) == [[9]])
        #expect(noTrailers.end == .failed(.closedWithoutStatus))

        var truncated = GRPCResponseReader()
        _ = truncated.receive(Self.okHeaders)
        _ = truncated.receive(Self.data(Array(Self.prefixed([1, 2, 3])[..<6])))
        _ = truncated.receive(Self.trailers([("grpc-status", "0")]))
        #expect(truncated.end == .failed(.truncatedMessage(bufferedBytes: 6)))

        var lost = GRPCResponseReader()
        _ = lost.receive(Self.okHeaders)
        lost.streamClosed()
        #expect(lost.end == .failed(.closedWithoutStatus))
    }

    @Test func messagesBeforeABadPrefixAreDeliveredThenTheCallFails() {
        var reader = GRPCResponseReader()
        _ = reader.receive(Self.okHeaders)
        let messages = reader.receive(Self.data(Self.prefixed([1]) + Self.prefixed([2]) + [0, 0xff, 0xff, 0xff, 0xff]))
        #expect(messages == [[1], [2]])
        #expect(reader.end == .failed(.messageTooLarge(length: 0xffff_ffff, limit: 64 << 20)))
        #expect(reader.receive(Self.data(Self.prefixed([3]))).isEmpty, "nothing after the end")
        #expect(reader.receive(Self.trailers([("grpc-status", "0")])).isEmpty)
        #expect(reader.end == .failed(.messageTooLarge(length: 0xffff_ffff, limit: 64 << 20)))
    }

    // MARK: Backoff

    @Test func backoffDoublesFrom100msToTheTenSecondCap() {
        var backoff = NPDSBackoff()
        let delays = (0..<10).map { _ in backoff.nextDelayMilliseconds() }
        #expect(delays == [100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000])
        backoff.reset()
        #expect(backoff.nextDelayMilliseconds() == 100)
        #expect(NPDSBackoff.delay(initial: 100, maximum: 10_000, failures: Int.max) == 10_000, "no overflow")
    }
}
