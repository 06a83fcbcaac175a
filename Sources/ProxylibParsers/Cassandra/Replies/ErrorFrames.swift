/// The ERROR responses the proxy answers in the server's place (native_protocol_v4.spec section 9).
enum ErrorFrames {
    static let unauthorizedCode: Int32 = 0x2100
    static let unpreparedCode: Int32 = 0x2500
    /// Upstream's message, byte for byte.
    static let unauthorizedMessage: StaticString = "Request Unauthorized"

    /// Unauthorized, for a denied request: the request's version and stream id.
    static func appendUnauthorized(version: UInt8, stream: Int16, to output: inout [UInt8]) {
        let message = UnsafeRawBufferPointer(start: unauthorizedMessage.utf8Start,
                                             count: unauthorizedMessage.utf8CodeUnitCount)
        appendHeader(version: version, stream: stream, bodyLength: 4 + 2 + message.count, to: &output)
        appendInt(unauthorizedCode, to: &output)
        appendShort(message.count, to: &output)
        output.append(contentsOf: message)
    }

    static let unpreparedMessage: StaticString = "Prepared statement unknown to the proxy: prepare it again"

    /// Unprepared, for an EXECUTE (or batch entry) naming an id the proxy has not seen prepared: the client
    /// prepares the statement again on this connection, and the proxy learns it. The body is the
    /// specification's — code, [string] message, [short bytes] id; upstream leaves out the message, so drivers
    /// read the id's length as the message's and fail to decode the error.
    static func appendUnprepared(version: UInt8, stream: Int16, id: UnsafeRawBufferPointer, to output: inout [UInt8]) {
        let message = UnsafeRawBufferPointer(start: unpreparedMessage.utf8Start, count: unpreparedMessage.utf8CodeUnitCount)
        appendHeader(version: version, stream: stream, bodyLength: 4 + 2 + message.count + 2 + id.count, to: &output)
        appendInt(unpreparedCode, to: &output)
        appendShort(message.count, to: &output)
        output.append(contentsOf: message)
        appendShort(id.count, to: &output)
        output.append(contentsOf: id)
    }

    private static func appendHeader(version: UInt8, stream: Int16, bodyLength: Int, to output: inout [UInt8]) {
        FrameHeader(isResponse: true, version: version, flags: 0, stream: stream, opcode: Opcode.error,
                    bodyLength: bodyLength).append(to: &output)
    }

    private static func appendInt(_ value: Int32, to output: inout [UInt8]) {
        let bits = UInt32(bitPattern: value)
        for shift in stride(from: 24, through: 0, by: -8) { output.append(UInt8(truncatingIfNeeded: bits >> UInt32(shift))) }
    }

    private static func appendShort(_ value: Int, to output: inout [UInt8]) {
        output.append(UInt8(truncatingIfNeeded: value >> 8))
        output.append(UInt8(truncatingIfNeeded: value))
    }
}
