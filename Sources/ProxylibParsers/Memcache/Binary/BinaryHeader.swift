import ProxylibCore

/// The 24-byte header of a binary protocol packet (memcached's `protocol_binary.h`):
///
///     0 magic  1 opcode  2-3 key length  4 extras length  5 data type  6-7 vbucket (request) / status (response)
///     8-11 total body length  12-15 opaque  16-23 CAS
///
/// followed by extras, key and value, which together make up the body.
struct BinaryHeader {
    static let size = 24
    static let requestMagic: UInt8 = 0x80
    static let responseMagic: UInt8 = 0x81
    /// memcached's key length limit.
    static let maxKeyLength = 250
    /// The largest body accepted: memcached's item size limit can be raised to 1 GiB, no further.
    static let maxBodyLength = (1 << 30) + 1024

    let magic: UInt8
    let opcode: UInt8
    let keyLength: Int
    let extrasLength: Int
    let status: UInt16
    let bodyLength: Int
    let opaque: UInt32

    /// Reads the header at the front of `input`; nil when fewer than 24 bytes are there.
    init?(_ input: InputView) {
        guard input.count >= Self.size, let magic = input[0], let opcode = input[1],
              let keyLength = input.readInteger(at: 2, as: UInt16.self), let extrasLength = input[4],
              let status = input.readInteger(at: 6, as: UInt16.self),
              let bodyLength = input.readInteger(at: 8, as: UInt32.self),
              let opaque = input.readInteger(at: 12, as: UInt32.self)
        else { return nil }
        self.magic = magic
        self.opcode = opcode
        self.keyLength = Int(keyLength)
        self.extrasLength = Int(extrasLength)
        self.status = status
        self.bodyLength = Int(bodyLength)
        self.opaque = opaque
    }

    /// Header, extras and key: what must be buffered to read the key.
    var prefixLength: Int { Self.size + extrasLength + keyLength }
    var frameLength: Int { Self.size + bodyLength }

    /// Whether the lengths are consistent and within memcached's limits.
    var isWellFormed: Bool {
        extrasLength + keyLength <= bodyLength && keyLength <= Self.maxKeyLength && bodyLength <= Self.maxBodyLength
    }

    /// The denial sent in place of a request's reply: status 0x0008 and body `access denied` (upstream's), with
    /// the request's opcode and opaque, so that clients matching replies by opaque accept it.
    static func denial(opcode: UInt8, opaque: UInt32) -> InjectedReply {
        var bytes: (UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0)
        let message: StaticString = "access denied"
        return withUnsafeMutableBytes(of: &bytes) { frame in
            frame[0] = responseMagic
            frame[1] = opcode
            frame[7] = 0x08
            frame[11] = UInt8(message.utf8CodeUnitCount)
            frame[12] = UInt8(truncatingIfNeeded: opaque >> 24)
            frame[13] = UInt8(truncatingIfNeeded: opaque >> 16)
            frame[14] = UInt8(truncatingIfNeeded: opaque >> 8)
            frame[15] = UInt8(truncatingIfNeeded: opaque)
            for index in 0..<message.utf8CodeUnitCount {
                frame[size + index] = message.utf8Start[index]
            }
            return InjectedReply(UnsafeRawBufferPointer(rebasing: frame[..<(size + message.utf8CodeUnitCount)]))
        }
    }

    /// A NOOP request with `opaque`: sent to the server in place of a denied request queued behind quiet ones.
    static func noopProbe(opaque: UInt32) -> (UInt64, UInt64, UInt64) {
        var bytes: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &bytes) { frame in
            frame[0] = requestMagic
            frame[1] = MemcacheOpcode.noop
            frame[12] = UInt8(truncatingIfNeeded: opaque >> 24)
            frame[13] = UInt8(truncatingIfNeeded: opaque >> 16)
            frame[14] = UInt8(truncatingIfNeeded: opaque >> 8)
            frame[15] = UInt8(truncatingIfNeeded: opaque)
        }
        return bytes
    }
}
