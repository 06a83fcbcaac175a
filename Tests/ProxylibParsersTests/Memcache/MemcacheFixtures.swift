import CProxylib
@testable import ProxylibCore
import ProxylibParsers
import ProxylibTestSupport

/// Byte strings of upstream's memcache tests (proxylib_memcached_test.go) and helpers shared by the memcache
/// test suites.
enum MC {
    static let setHelloText = "set key 0 0 5\r\nhello\r\n"
    static let getKeysText = "get key1 key2 key3\r\n"
    static let gatKeysText = "gat 5 key1 key2 key3\r\n"
    static let getResponse = "VALUE key3 0 4\r\nxDDD\r\nVALUE key4 0 3\r\nxDD\r\nEND\r\n"
    static let deleteText = "delete key\r\n"
    static let incrText = "incr key 5\r\n"
    static let touchText = "touch key 55\r\n"
    static let slabsText = "slabs automove 1\r\n"
    static let okText = "OK\r\n"
    static let lruCrawlerText = "lru_crawler metadump all\r\n"
    static let statsText = "stats\r\n"
    static let flushAllText = "flush_all 15\r\n"
    static let watchText = "watch mutations\r\n"
    static let watchLine = "ts=1538135970.404892 gid=5 type=item_store key=key3 status=stored cmd=set ttl=500 clsid=1\r\n"
    static let watchReply = "OK\r\n" + String(repeating: watchLine, count: 5)
    static let lruCrawlerResponse = "key=key3 exp=1538047402 la=1538046902 cas=1 fetch=no cls=1 size=67\r\n"
        + "key=key4 exp=1538047402 la=1538046902 cas=2 fetch=no cls=1 size=66\r\nEND\r\n"
    static let statsResponse = ["evictions 0", "reclaimed 2", "crawler_reclaimed", "crawler_items_checked 18",
                                "lrutail_reflocked 0", "moves_to_cold 6", "moves_to_warm 0", "moves_within_lru 0",
                                "direct_reclaims 0", "lru_bumps_dropped 0"].map { "STAT \($0)\r\n" }.joined() + "END\r\n"
    static let notFound = "NOT_FOUND\r\n"
    static let stored = "STORED\r\n"
    static let denied = "CLIENT_ERROR access denied\r\n"

    static let getHello: [UInt8] = [128, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        + Array("Hello".utf8)
    static let getHelloResp: [UInt8] = [129, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                        0, 0, 0, 0] + Array("World".utf8)
    static let setHello: [UInt8] = [128, 1, 0, 5, 8, 0, 0, 0, 0, 0, 0, 18, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                    0, 0, 0, 0, 0, 0, 0, 0] + Array("HelloWorld".utf8)
    /// Upstream's binary denial (opcode 0, opaque 0): ours for a GET with opaque 0.
    static let binaryDenied: [UInt8] = [0x81, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0x0d, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        + Array("access denied".utf8)

    /// A binary request packet.
    static func request(_ opcode: UInt8, key: String = "", extras: [UInt8] = [], value: [UInt8] = [],
                        opaque: UInt32 = 0) -> [UInt8] {
        packet(magic: 0x80, opcode, key: key, extras: extras, value: value, opaque: opaque)
    }

    /// A binary response packet.
    static func response(_ opcode: UInt8, key: String = "", extras: [UInt8] = [], value: [UInt8] = [],
                         opaque: UInt32 = 0, status: UInt16 = 0) -> [UInt8] {
        packet(magic: 0x81, opcode, key: key, extras: extras, value: value, opaque: opaque, status: status)
    }

    static func packet(magic: UInt8, _ opcode: UInt8, key: String, extras: [UInt8], value: [UInt8], opaque: UInt32,
                       status: UInt16 = 0) -> [UInt8] {
        let keyBytes = Array(key.utf8)
        let body = UInt32(extras.count + keyBytes.count + value.count)
        var bytes: [UInt8] = [magic, opcode, UInt8(keyBytes.count >> 8), UInt8(keyBytes.count & 0xff),
                              UInt8(extras.count), 0, UInt8(status >> 8), UInt8(status & 0xff)]
        bytes += withUnsafeBytes(of: body.bigEndian, Array.init)
        bytes += withUnsafeBytes(of: opaque.bigEndian, Array.init)
        bytes += [UInt8](repeating: 0, count: 8)
        return bytes + extras + keyBytes + value
    }

    /// The binary denial of a request with `opcode` and `opaque`.
    static func binaryDenial(_ opcode: UInt8, opaque: UInt32 = 0) -> [UInt8] {
        response(opcode, value: Array("access denied".utf8), opaque: opaque, status: 8)
    }

    static func policy(_ rules: [L7KeyValueRule]? = [[:]], deny: [L7KeyValueRule] = []) -> NetworkPolicyConfig {
        portPolicy("memcache", allow: rules, deny: deny)
    }
}
