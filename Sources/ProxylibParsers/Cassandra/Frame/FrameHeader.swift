import ProxylibCore

/// The 9-byte header of a native-protocol frame (v3 and later):
///
///     version (bit 7: response) | flags | stream (int16) | opcode | body length (int32)
struct FrameHeader: Equatable {
    static let length = 9
    /// Upstream's limit (and the specification's): a longer frame closes the connection.
    static let maxBodyLength = 256 * 1024 * 1024

    var isResponse: Bool
    var version: UInt8
    var flags: UInt8
    var stream: Int16
    var opcode: UInt8
    var bodyLength: Int

    var frameLength: Int { Self.length + bodyLength }
    var isCompressed: Bool { flags & Flags.compression != 0 }

    enum Flags {
        static let compression: UInt8 = 0x01
        static let tracing: UInt8 = 0x02
        static let customPayload: UInt8 = 0x04
        static let warning: UInt8 = 0x08
    }

    /// The protocol versions whose frames this parser reads.
    static let supportedVersions: ClosedRange<UInt8> = 3...5

    init(isResponse: Bool, version: UInt8, flags: UInt8, stream: Int16, opcode: UInt8, bodyLength: Int) {
        self.isResponse = isResponse
        self.version = version
        self.flags = flags
        self.stream = stream
        self.opcode = opcode
        self.bodyLength = bodyLength
    }

    /// Reads the header at `offset` of `input`; nil when fewer than 9 bytes are there. The 9 bytes are copied
    /// to the stack in one pass over the segments and decoded there (field by field through the view, five
    /// segment walks, cost ~390 instructions per header).
    init?(_ input: InputView, at offset: Int = 0) {
        // Most input sits in one slice: read it in place.
        if let bytes = input.contiguousBytes {
            guard offset >= 0, offset <= bytes.count else { return nil }
            self.init(UnsafeRawBufferPointer(rebasing: bytes[offset...]))
            return
        }
        var raw: (UInt64, UInt64) = (0, 0)
        let header: FrameHeader? = withUnsafeMutableBytes(of: &raw) { buffer in
            let bytes = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<Self.length])
            guard input.copyBytes(from: offset, count: Self.length, into: bytes) else { return nil }
            return FrameHeader(UnsafeRawBufferPointer(bytes))
        }
        guard let header else { return nil }
        self = header
    }

    /// Reads the header at the front of contiguous `bytes`.
    init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= Self.length else { return nil }
        let length = UInt32(bytes[5]) << 24 | UInt32(bytes[6]) << 16 | UInt32(bytes[7]) << 8 | UInt32(bytes[8])
        self.init(isResponse: bytes[0] & 0x80 != 0, version: bytes[0] & 0x7F, flags: bytes[1],
                  stream: Int16(bitPattern: UInt16(bytes[2]) << 8 | UInt16(bytes[3])), opcode: bytes[4],
                  bodyLength: Int(length))
    }

    /// Appends the header's 9 bytes.
    func append(to output: inout [UInt8]) {
        output.append((isResponse ? 0x80 : 0) | version)
        output.append(flags)
        let stream = UInt16(bitPattern: stream)
        output.append(UInt8(truncatingIfNeeded: stream >> 8))
        output.append(UInt8(truncatingIfNeeded: stream))
        output.append(opcode)
        let length = UInt32(truncatingIfNeeded: bodyLength)
        for shift in stride(from: 24, through: 0, by: -8) { output.append(UInt8(truncatingIfNeeded: length >> UInt32(shift))) }
    }
}

/// Message opcodes (native_protocol_v4.spec section 2.4).
enum Opcode {
    static let error: UInt8 = 0x00
    static let startup: UInt8 = 0x01
    static let ready: UInt8 = 0x02
    static let authenticate: UInt8 = 0x03
    static let options: UInt8 = 0x05
    static let supported: UInt8 = 0x06
    static let query: UInt8 = 0x07
    static let result: UInt8 = 0x08
    static let prepare: UInt8 = 0x09
    static let execute: UInt8 = 0x0A
    static let register: UInt8 = 0x0B
    static let event: UInt8 = 0x0C
    static let batch: UInt8 = 0x0D
    static let authChallenge: UInt8 = 0x0E
    static let authResponse: UInt8 = 0x0F
    static let authSuccess: UInt8 = 0x10
}
