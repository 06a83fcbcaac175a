// `ADDR:PORT` command-line addresses and the `ip:port` / `[ipv6]:port` strings proxylib expects.
import NIOCore

/// A host and port given on the command line: `127.0.0.1:9000`, `[::1]:9000`, `localhost:9000`, or `:9000`
/// (any address; for listening).
struct HostAddress: Sendable, CustomStringConvertible {
    var host: String
    var port: Int

    /// Parses `text`; nil when it is not `HOST:PORT` with a port in 0...65535.
    init?(parsing text: String) {
        let hostPart: Substring
        let portPart: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            hostPart = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            portPart = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            hostPart = text[..<colon]
            if hostPart.contains(":") { return nil }  // a bare IPv6 address needs brackets
            portPart = text[text.index(after: colon)...]
        }
        guard !portPart.isEmpty, portPart.allSatisfy({ $0.isASCII && $0.isNumber }), portPart.count <= 5,
            let port = Int(portPart), port <= 65535
        else { return nil }
        self.host = String(hostPart)
        self.port = port
    }

    var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Resolves the host (numeric addresses are taken as they are). `listening`: an empty host is any address.
    func resolve(listening: Bool = false) throws -> SocketAddress {
        let name = host.isEmpty ? (listening ? "0.0.0.0" : "127.0.0.1") : host
        return try SocketAddress.makeAddressResolvingHost(name, port: port)
    }
}

extension SocketAddress {
    /// `ip:port`, or `[ipv6]:port`, as proxylib and Cilium write addresses.
    var proxylibString: String {
        let ip = self.ipAddress ?? "?"
        let port = self.port ?? 0
        switch self {
        case .v6: return "[\(ip)]:\(port)"
        default: return "\(ip):\(port)"
        }
    }
}
