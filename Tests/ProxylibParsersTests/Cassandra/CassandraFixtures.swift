@testable import ProxylibCore
import ProxylibParsers
import ProxylibTestSupport

/// Frames of Cassandra's native protocol for the tests, built field by field (native_protocol_v4.spec).
enum CQ {
    static func header(response: Bool = false, version: UInt8 = 4, flags: UInt8 = 0, stream: Int16,
                       opcode: UInt8, bodyLength: Int) -> [UInt8] {
        let s = UInt16(bitPattern: stream)
        return [(response ? 0x80 : 0) | version, flags, UInt8(s >> 8), UInt8(s & 0xff), opcode] + int(Int32(bodyLength))
    }

    static func frame(response: Bool = false, version: UInt8 = 4, flags: UInt8 = 0, stream: Int16, opcode: UInt8,
                      body: [UInt8]) -> [UInt8] {
        header(response: response, version: version, flags: flags, stream: stream, opcode: opcode,
               bodyLength: body.count) + body
    }

    static func int(_ value: Int32) -> [UInt8] {
        withUnsafeBytes(of: UInt32(bitPattern: value).bigEndian, Array.init)
    }
    static func short(_ value: Int) -> [UInt8] { [UInt8((value >> 8) & 0xff), UInt8(value & 0xff)] }
    static func string(_ s: String) -> [UInt8] { short(s.utf8.count) + Array(s.utf8) }
    static func longString(_ s: String) -> [UInt8] { int(Int32(s.utf8.count)) + Array(s.utf8) }
    static func shortBytes(_ b: [UInt8]) -> [UInt8] { short(b.count) + b }

    /// QUERY with consistency ONE and no flags (v3/v4) — v5 takes an [int] of flags.
    static func query(_ text: String, stream: Int16 = 5, version: UInt8 = 4) -> [UInt8] {
        let parameters: [UInt8] = version >= 5 ? short(1) + int(0) : short(1) + [0]
        return frame(version: version, stream: stream, opcode: 0x07, body: longString(text) + parameters)
    }

    /// Upstream's query frames: the query string only, no parameters.
    static func bareQuery(_ text: String, stream: Int16 = 5) -> [UInt8] {
        frame(stream: stream, opcode: 0x07, body: longString(text))
    }

    static func prepare(_ text: String, stream: Int16, version: UInt8 = 4) -> [UInt8] {
        frame(version: version, stream: stream, opcode: 0x09, body: longString(text) + (version >= 5 ? int(0) : []))
    }

    static func execute(_ id: [UInt8], stream: Int16, version: UInt8 = 4, trailing: [UInt8] = short(1) + [0]) -> [UInt8] {
        frame(version: version, stream: stream, opcode: 0x0A, body: shortBytes(id) + trailing)
    }

    enum BatchEntry {
        case query(String)
        case prepared([UInt8])
    }

    static func batch(_ entries: [BatchEntry], stream: Int16 = 4, version: UInt8 = 4) -> [UInt8] {
        var body: [UInt8] = [0] + short(entries.count)
        for entry in entries {
            switch entry {
            case .query(let text): body += [0] + longString(text)
            case .prepared(let id): body += [1] + shortBytes(id)
            }
            body += short(0)
        }
        body += short(0) + (version >= 5 ? int(0) : [0])
        return frame(version: version, stream: stream, opcode: 0x0D, body: body)
    }

    static func options(stream: Int16 = 0, version: UInt8 = 4) -> [UInt8] {
        frame(version: version, stream: stream, opcode: 0x05, body: [])
    }

    static func startup(compression: String? = nil, stream: Int16 = 1, version: UInt8 = 4) -> [UInt8] {
        var options: [(String, String)] = [("CQL_VERSION", "3.0.0")]
        if let compression { options.append(("COMPRESSION", compression)) }
        return frame(version: version, stream: stream, opcode: 0x01,
                     body: short(options.count) + options.flatMap { string($0.0) + string($0.1) })
    }

    static func ready(stream: Int16 = 1, version: UInt8 = 4) -> [UInt8] {
        frame(response: true, version: version, stream: stream, opcode: 0x02, body: [])
    }

    static func preparedResult(_ id: [UInt8], stream: Int16, version: UInt8 = 4) -> [UInt8] {
        frame(response: true, version: version, stream: stream, opcode: 0x08,
              body: int(4) + shortBytes(id) + int(0) + int(0) + int(0) + int(1) + int(0))
    }

    static func setKeyspace(_ keyspace: String, stream: Int16, version: UInt8 = 4) -> [UInt8] {
        frame(response: true, version: version, stream: stream, opcode: 0x08, body: int(3) + string(keyspace))
    }

    static func voidResult(stream: Int16, version: UInt8 = 4) -> [UInt8] {
        frame(response: true, version: version, stream: stream, opcode: 0x08, body: int(1))
    }

    static func serverError(stream: Int16, code: Int32 = 0x2200, version: UInt8 = 4) -> [UInt8] {
        frame(response: true, version: version, stream: stream, opcode: 0x00, body: int(code) + string("invalid"))
    }

    /// Upstream's Unauthorized answer for a request on `stream`.
    static func unauthorized(stream: Int16, version: UInt8 = 4) -> [UInt8] {
        frame(response: true, version: version, stream: stream, opcode: 0x00,
              body: int(0x2100) + string("Request Unauthorized"))
    }

    /// Ours carries the specification's message string; upstream's has none (`upstreamUnprepared`).
    static func unprepared(_ id: [UInt8], stream: Int16, version: UInt8 = 4) -> [UInt8] {
        frame(response: true, version: version, stream: stream, opcode: 0x00,
              body: int(0x2500) + string("Prepared statement unknown to the proxy: prepare it again") + shortBytes(id))
    }

    static func hex(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            bytes.append(UInt8(text[index..<next], radix: 16)!)
            index = next
        }
        return bytes
    }

    static func policy(_ rules: [L7KeyValueRule]? = [[:]], deny: [L7KeyValueRule] = []) -> NetworkPolicyConfig {
        portPolicy("cassandra", allow: rules, deny: deny)
    }

    static func table(_ regex: String) -> [L7KeyValueRule] { [["query_table": regex]] }

    /// A fresh connection under `rules`.
    static func connect(_ rules: [L7KeyValueRule]? = [[:]], deny: [L7KeyValueRule] = [],
                        fixture: ParserFixture = ParserFixture()) throws -> (ParserFixture, TestConnection) {
        try fixture.install([policy(rules, deny: deny)])
        return (fixture, fixture.connect("cassandra"))
    }
}
