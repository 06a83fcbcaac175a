import CProxylib
@testable import ProxylibCore
import ProxylibParsers
import ProxylibTestSupport

/// Builders for redis requests and replies, and the texts the parser injects.
enum RD {
    /// A multibulk request, as clients send commands.
    static func command(_ words: String...) -> String {
        "*\(words.count)\r\n" + words.map { "$\($0.utf8.count)\r\n\($0)\r\n" }.joined()
    }

    static func bulk(_ text: String) -> String { "$\(text.utf8.count)\r\n\(text)\r\n" }

    static func denied(_ command: String) -> String {
        "-NOPERM the network policy does not allow '\(command)'\r\n"
    }

    static let deniedUnknown = "-NOPERM the network policy does not allow this command\r\n"
    static let execAbort = "-EXECABORT Transaction discarded: a queued command was denied by policy\r\n"
    static let discard = "*1\r\n$7\r\nDISCARD\r\n"

    static func policy(_ rules: [L7KeyValueRule]? = [[:]], deny: [L7KeyValueRule] = []) -> NetworkPolicyConfig {
        portPolicy("redis", allow: rules, deny: deny)
    }
}
