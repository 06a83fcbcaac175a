import NIOHPACK
import ProxylibCore

/// The HTTP/2 headers of the NPDS call and the checks on what the server answers
/// (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md).
enum GRPCMetadata {
    /// The one method we call: a bidirectional stream of DiscoveryRequest / DiscoveryResponse.
    static let npdsPath = "/cilium.NetworkPolicyDiscoveryService/StreamNetworkPolicies"

    /// Request headers of a call to `path`. Over a unix socket the authority is "localhost", as grpc-go sends.
    static func requestHeaders(path: String = npdsPath, authority: String = "localhost") -> HPACKHeaders {
        HPACKHeaders([
            (":method", "POST"),
            (":scheme", "http"),
            (":path", path),
            (":authority", authority),
            ("content-type", "application/grpc"),
            ("te", "trailers"),
        ])
    }

    /// Checks the response headers (the first HEADERS frame): `:status` 200 and a gRPC content-type.
    static func validateResponseHeaders(_ headers: HPACKHeaders) throws(GRPCError) {
        let status = headers.first(name: ":status")
        guard status == "200" else { throw .badHTTPStatus(status) }
        let contentType = headers.first(name: "content-type")
        guard let contentType, isGRPCContentType(contentType) else { throw .badContentType(contentType) }
    }

    /// "application/grpc", optionally followed by "+subtype" or ";parameters" (case-insensitive).
    static func isGRPCContentType(_ value: String) -> Bool {
        let expected = Array("application/grpc".utf8)
        let bytes = Array(value.utf8)
        guard bytes.count >= expected.count else { return false }
        for (byte, wanted) in zip(bytes, expected) where asciiLowercased(byte) != wanted {
            return false
        }
        guard bytes.count > expected.count else { return true }
        let next = bytes[expected.count]
        return next == UInt8(ascii: "+") || next == UInt8(ascii: ";")
    }

    /// The call's outcome from its trailers (or a trailers-only response's headers): nil for OK, otherwise the
    /// error to end the call with.
    static func statusError(inTrailers trailers: HPACKHeaders) -> GRPCError? {
        guard let raw = trailers.first(name: "grpc-status") else { return .invalidGRPCStatus(nil) }
        guard let code = parseStatusCode(raw) else { return .invalidGRPCStatus(raw) }
        guard code != GRPCStatusCode.ok else { return nil }
        let message = trailers.first(name: "grpc-message").map(percentDecoded) ?? ""
        return .status(code: code, message: message)
    }

    /// A non-negative decimal status code of at most a few digits (the spec's codes are 0…16).
    static func parseStatusCode(_ raw: String) -> Int? {
        let trimmed = raw.utf8.count <= 9 ? raw : ""
        guard !trimmed.isEmpty, trimmed.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
        else { return nil }
        return Int(trimmed)
    }

    /// `grpc-message` decoding: "%XX" is the byte 0xXX, the bytes are UTF-8; a '%' not followed by two hex
    /// digits is kept as it is, invalid UTF-8 becomes U+FFFD.
    static func percentDecoded(_ value: String) -> String {
        guard value.utf8.contains(UInt8(ascii: "%")) else { return value }
        let input = Array(value.utf8)
        var output: [UInt8] = []
        output.reserveCapacity(input.count)
        var index = 0
        while index < input.count {
            let byte = input[index]
            if byte == UInt8(ascii: "%"), index + 2 < input.count,
               let high = ASCIIHex.value(of: input[index + 1]), let low = ASCIIHex.value(of: input[index + 2]) {
                output.append(high << 4 | low)
                index += 3
            } else {
                output.append(byte)
                index += 1
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    private static func asciiLowercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte
    }
}
