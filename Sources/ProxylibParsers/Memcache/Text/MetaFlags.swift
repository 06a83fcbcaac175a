/// The flags of a meta command (`mg <key> <flags>*`): single-letter tokens, some with a value (`O123`, `MS`).
/// Only the flags that change what the parser must know are kept: the key's encoding, quiet mode, the opaque
/// echoed in the reply, and the mode of `ms`/`ma`.
struct MetaFlags {
    /// `b`: the key is base64.
    var base64Key = false
    /// `q`: the server leaves out the reply that means success (or a miss for `mg`).
    var quiet = false
    /// `C<cas>` on `ms`: compare-and-swap.
    var compareCas = false
    /// `M<mode>`: the first byte of the mode token, if any.
    var mode: UInt8?
    /// `O<opaque>`: the opaque token, echoed by the server (at most 32 bytes).
    var opaque = InlineToken()

    /// Reads the flag tokens; nil when one is empty or malformed for what the parser relies on.
    static func parse(_ tokens: inout TextTokens) -> MetaFlags? {
        var flags = MetaFlags()
        while let token = tokens.next() {
            guard let letter = token.first else { return nil }
            switch letter {
            case UInt8(ascii: "b"): flags.base64Key = true
            case UInt8(ascii: "q"): flags.quiet = true
            case UInt8(ascii: "C"): flags.compareCas = true
            case UInt8(ascii: "M"):
                guard token.count == 2 else { return nil }
                flags.mode = token[1]
            case UInt8(ascii: "O"):
                guard let opaque = InlineToken(UnsafeRawBufferPointer(rebasing: token[1...])) else { return nil }
                flags.opaque = opaque
            default:
                break
            }
        }
        return flags
    }
}

/// Up to 32 bytes held in place (a meta opaque).
struct InlineToken: Equatable {
    private var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    private(set) var count: Int = -1

    init() {}

    init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count <= 32 else { return nil }
        count = bytes.count
        withUnsafeMutableBytes(of: &words) { target in
            if let base = target.baseAddress, let source = bytes.baseAddress, !bytes.isEmpty {
                base.copyMemory(from: source, byteCount: bytes.count)
            }
        }
    }

    var isPresent: Bool { count >= 0 }

    static func == (lhs: InlineToken, rhs: InlineToken) -> Bool {
        lhs.count == rhs.count && lhs.words == rhs.words
    }
}

/// Standard base64 (with padding), as memcached decodes `b` keys.
enum Base64Key {
    /// Decodes `text` into `output` (reusing its capacity); false when it is not valid base64.
    static func decode(_ text: UnsafeRawBufferPointer, into output: inout [UInt8]) -> Bool {
        output.removeAll(keepingCapacity: true)
        guard text.count % 4 == 0 else { return false }
        var accumulator: UInt32 = 0
        var bits = 0
        var padding = 0
        for (index, byte) in text.enumerated() {
            if byte == UInt8(ascii: "=") {
                // Padding only in the last two positions.
                guard index >= text.count - 2 else { return false }
                padding += 1
                continue
            }
            guard padding == 0, let value = sextet(byte) else { return false }
            accumulator = (accumulator << 6) | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                output.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
                accumulator &= (1 << UInt32(bits)) - 1
            }
        }
        return true
    }

    private static func sextet(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return byte - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return byte - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0") + 52
        case UInt8(ascii: "+"): return 62
        case UInt8(ascii: "/"): return 63
        default: return nil
        }
    }
}
