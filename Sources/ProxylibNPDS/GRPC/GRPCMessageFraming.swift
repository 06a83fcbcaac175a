import NIOCore

// gRPC over HTTP/2 carries each message in DATA frames as a length-prefixed message
// (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md):
//
//   Length-Prefixed-Message = Compressed-Flag Message-Length Message
//   Compressed-Flag         = 0 / 1            ; 1 octet; 1 = compressed with the call's grpc-encoding
//   Message-Length          = 4 octets         ; unsigned, big-endian
//   Message                 = *OCTET
//
// DATA frame boundaries mean nothing: a message may span several frames and a frame may hold several messages.

/// Limits of the gRPC message layer.
public enum GRPCFraming {
    /// Bytes before each message: the flag and the 32-bit length.
    public static let prefixLength = 5
    /// Largest message we accept (a full NPDS state of the world is far smaller); a larger prefix is an error,
    /// not an allocation.
    public static let defaultMaximumMessageLength = 64 << 20

    /// `message` as one length-prefixed gRPC message (uncompressed).
    public static func frame(_ message: [UInt8], allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: prefixLength + message.count)
        frame(message, into: &buffer)
        return buffer
    }

    /// Appends `message` to `buffer` as one length-prefixed gRPC message (uncompressed).
    public static func frame(_ message: [UInt8], into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(0))
        buffer.writeInteger(UInt32(truncatingIfNeeded: message.count), endianness: .big)
        buffer.writeBytes(message)
    }
}

/// Reassembles length-prefixed gRPC messages from the DATA frames of one stream. Pure: no channel, no I/O.
///
/// Feed every DATA payload to `append(_:)`, then take messages with `next()` until it answers nil. After
/// `next()` throws, the stream is unusable (the framing is lost) and every later call throws the same error.
public struct GRPCMessageDeframer {
    public let maximumMessageLength: Int
    /// Received bytes not yet returned as messages; nil when none.
    private var buffered: ByteBuffer?
    private var failure: GRPCError?

    public init(maximumMessageLength: Int = GRPCFraming.defaultMaximumMessageLength) {
        self.maximumMessageLength = maximumMessageLength
    }

    /// Bytes received but not yet returned as a message (an incomplete prefix or message).
    public var bufferedBytes: Int { buffered?.readableBytes ?? 0 }

    public mutating func append(_ bytes: ByteBuffer) {
        guard failure == nil, bytes.readableBytes > 0 else { return }
        if buffered == nil || buffered!.readableBytes == 0 {
            buffered = bytes  // the common case (whole messages per frame): no copy
        } else {
            var incoming = bytes
            buffered!.writeBuffer(&incoming)
        }
    }

    /// The next complete message, or nil when more bytes are needed.
    public mutating func next() throws(GRPCError) -> [UInt8]? {
        if let failure { throw failure }
        guard var buffer = buffered, buffer.readableBytes >= GRPCFraming.prefixLength,
              let flag = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self),
              let length = buffer.getInteger(at: buffer.readerIndex + 1, endianness: .big, as: UInt32.self)
        else { return nil }

        switch flag {
        case 0: break
        case 1: throw failed(.compressedMessage)
        default: throw failed(.invalidMessageFlag(flag))
        }
        guard UInt64(length) <= UInt64(maximumMessageLength) else {
            throw failed(.messageTooLarge(length: length, limit: maximumMessageLength))
        }
        let total = GRPCFraming.prefixLength + Int(length)
        guard buffer.readableBytes >= total else { return nil }

        buffered = nil  // `buffer` holds the only reference again: no copy-on-write below
        buffer.moveReaderIndex(forwardBy: GRPCFraming.prefixLength)
        let message = buffer.readBytes(length: Int(length)) ?? []
        if buffer.readableBytes > 0 {
            // Keep the storage from growing without bound on a long-lived stream.
            if buffer.readerIndex > 1 << 16 { buffer.discardReadBytes() }
            buffered = buffer
        }
        return message
    }

    /// Call when the stream has ended: throws if a partial message is left over.
    public func finish() throws(GRPCError) {
        if let failure { throw failure }
        if bufferedBytes > 0 { throw .truncatedMessage(bufferedBytes: bufferedBytes) }
    }

    /// Records `error` as the stream's fate (the buffered bytes are useless now) and returns it.
    private mutating func failed(_ error: GRPCError) -> GRPCError {
        failure = error
        buffered = nil
        return error
    }
}
