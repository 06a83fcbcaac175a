import ProxylibCore

/// `r2d2`: the toy droid protocol of Cilium's proxylib guide.
///
///     request = cmd [" " file] "\r\n"      ; cmd: READ | WRITE | HALT | RESET
///     reply   = *octet "\r\n"               ; passed unchecked
///
/// Each request is checked against the policy (`cmd` exact, `file` regular expression) and logged
/// (generic_l7 proto `r2d2`, fields `cmd`, `file`). A denied request is dropped and `ERROR\r\n` is sent back.
///
///     l7proto: r2d2
///     l7: [{cmd: READ, file: "^/public/"}, {cmd: HALT}]
/// The request a rule sees: views of the command and the file, valid during the policy check only.
struct R2D2Request {
    let command: UnsafeRawBufferPointer
    let file: UnsafeRawBufferPointer
}

public final class R2D2Parser: ConnectionParser {
    public static let name = "r2d2"

    private let connection: Connection
    /// Reused for requests that span input segments.
    private var scratch: [UInt8] = []

    public init(connection: Connection) {
        self.connection = connection
    }

    public func onData(reply: Bool, endStream: Bool, input: InputView) -> ParserOp {
        guard let end = input.firstIndex(of: "\r\n") else {
            return .more(1)
        }
        let frameLength = end + 2
        if reply {
            return .pass(frameLength)
        }
        let allowed = input.withContiguousBytes(from: 0, count: end, scratch: &scratch) { line in
            let request = Self.split(line)
            let allowed = connection.matches(request)
            connection.log(allowed ? .request : .denied,
                           .generic(proto: R2D2Parser.name,
                                    fields: L7Fields(("cmd", LogText(decoding: request.command)),
                                                    ("file", LogText(decoding: request.file)))))
            return allowed
        } ?? false
        if allowed {
            return .pass(frameLength)
        }
        connection.inject(reply: true, "ERROR\r\n")
        return .drop(frameLength)
    }

    /// Splits a request line at spaces: the first field is the command; the file is the second field when
    /// there are exactly two.
    static func split(_ line: UnsafeRawBufferPointer) -> R2D2Request {
        let space = UInt8(ascii: " ")
        guard let firstSpace = ASCII.firstIndex(of: space, in: line) else {
            return R2D2Request(command: line, file: UnsafeRawBufferPointer(start: nil, count: 0))
        }
        let command = UnsafeRawBufferPointer(rebasing: line[..<firstSpace])
        let rest = UnsafeRawBufferPointer(rebasing: line[(firstSpace + 1)...])
        if ASCII.firstIndex(of: space, in: rest) != nil {
            return R2D2Request(command: command, file: UnsafeRawBufferPointer(start: nil, count: 0))
        }
        return R2D2Request(command: command, file: rest)
    }
}
