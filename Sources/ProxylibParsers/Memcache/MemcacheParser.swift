import ProxylibCore

/// `memcache`: memcached's text, meta and binary protocols (the first request byte tells them apart: binary
/// requests start with the magic byte 0x80).
///
/// Every request is checked against the policy by command (or opcode) and keys (`MemcacheRule`) and logged
/// (generic_l7 `textmemcached` {command, keys} or `binarymemcached` {opcode, key}); replies are framed and
/// logged too. A denied request is dropped and answered with the protocol's error — `CLIENT_ERROR access
/// denied` (text, meta) or status 0x0008 `access denied` with the request's opcode and opaque (binary) — in
/// the position of its reply among pipelined replies. Malformed input closes the connection.
///
///     l7proto: memcache
///     l7: [{command: get, keyPrefix: "public/"}, {command: storage, keyExact: "counter"}]
public final class MemcacheParser: ConnectionParser {
    public static let name = "memcache"

    private let connection: Connection
    private var session = Session.undecided

    private enum Session {
        case undecided
        case text(TextSession)
        case binary(BinarySession)
    }

    public init(connection: Connection) {
        self.connection = connection
    }

    public func onData(reply: Bool, endStream: Bool, input: InputView) -> ParserOp {
        switch session {
        case .text(let text):
            return reply ? text.onReply(input) : text.onRequest(input)
        case .binary(let binary):
            return reply ? binary.onReply(input) : binary.onRequest(input)
        case .undecided:
            guard let first = input[0] else { return .nop }
            // The server never speaks first: a reply before any request is a protocol error.
            guard !reply else { return .error(.invalidFrameType) }
            if first >= BinaryHeader.requestMagic {
                let binary = BinarySession(connection: connection)
                session = .binary(binary)
                return binary.onRequest(input)
            }
            let text = TextSession(connection: connection)
            session = .text(text)
            return text.onRequest(input)
        }
    }
}
