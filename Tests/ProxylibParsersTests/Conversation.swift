import CDatapath
import CiliumProxylib
import CProxylib
import Testing
@testable import ProxylibCore
import ProxylibTestSupport
import ProxylibParsers
import Synchronization

/// A client and a server talking through the C datapath (cilium-envoy's onIo and its network filter) into
/// the library's five entry points, with a policy installed in-process. Each write can be cut into pieces
/// (byte by byte, at random points) to check that verdicts and outputs do not depend on how bytes arrive.
final class Conversation {
    enum Side { case client, server }

    /// The plain entry points. Not DatapathFuzzTarget's table: that one checks every call against the fuzz
    /// session running at the time, which the corpus tests may be running in this process concurrently.
    nonisolated(unsafe) private static var library: dp_library = {
        var library = dp_library()
        library.open_module = { params, debug in CiliumProxylib.OpenModule(params, debug) }
        library.close_module = { id in CiliumProxylib.CloseModule(id) }
        library.on_new_connection = { instance, proto, id, ingress, source, destination, sourceAddress,
                                       destinationAddress, policy, originalBuffer, replyBuffer in
            CiliumProxylib.OnNewConnection(instance, proto, id, ingress, source, destination, sourceAddress,
                                           destinationAddress, policy, originalBuffer, replyBuffer)
        }
        library.on_data = { id, reply, endStream, data, ops in CiliumProxylib.OnData(id, reply, endStream, data, ops) }
        library.close = { id in CiliumProxylib.Close(id) }
        return library
    }()

    private static let nextID = AtomicCounter(start: 7_000_000)

    private let instanceID: UInt64
    /// The instance's access log, for a conversation opened with `recordsAccessLog` (nil otherwise: the
    /// process-wide runtime's instances log to a socket).
    let log: RecordingAccessLog?
    private var connection: OpaquePointer?
    private var serverBuffer = dp_buf()
    private var clientBuffer = dp_buf()
    private let delivery: ReplayVerifier.Delivery
    private var generator: SplitMix64
    private(set) var result = FILTER_OK

    /// - Parameters:
    ///   - injectSize: the size of both inject buffers; `maxOps`: ops per OnData call.
    ///   - recordsAccessLog: open the instance in `RecordingRuntime`, whose instances log into `log`.
    init(parser: String, policy: NetworkPolicyConfig, delivery: ReplayVerifier.Delivery, injectSize: Int = 1024,
         maxOps: Int = 16, recordsAccessLog: Bool = false) throws {
        self.delivery = delivery
        if case .randomSplits(let seed) = delivery {
            generator = SplitMix64(seed: seed)
        } else {
            generator = SplitMix64(seed: 1)
        }
        recording = recordsAccessLog
        if recordsAccessLog {
            let path = "/conversation/\(Self.nextID.next())"
            instanceID = RecordingRuntime.runtime.openModule([("access-log-path", path)], debug: false)
            log = RecordingRuntime.logs.withLock { $0.removeValue(forKey: path) }
        } else {
            instanceID = runtime.openModule([("node-id", "conversation-\(Self.nextID.next())")], debug: false)
            log = nil
        }
        try owner.instances.find(instanceID)?.updatePolicy([policy], version: "1")
        dp_buf_init(&serverBuffer)
        dp_buf_init(&clientBuffer)
        var options = dp_conn_options()
        options.max_ops = Int32(maxOps)
        options.inject_size = injectSize
        var opened: OpaquePointer?
        if recordsAccessLog {
            result = dp_conn_new_ex(&RecordingRuntime.library, instanceID, parser, Self.nextID.next(), 1, 1, 2,
                                    "1.1.1.1:34567", "10.0.0.2:80", "1.1.1.1", &options, &opened)
        } else {
            result = dp_conn_new_ex(&Self.library, instanceID, parser, Self.nextID.next(), 1, 1, 2, "1.1.1.1:34567",
                                    "10.0.0.2:80", "1.1.1.1", &options, &opened)
        }
        connection = opened
    }

    deinit {
        if let connection {
            dp_conn_close(connection)
            dp_conn_free(connection)
        }
        dp_buf_free(&serverBuffer)
        dp_buf_free(&clientBuffer)
        owner.closeModule(instanceID)
    }

    private let recording: Bool
    /// The runtime the instance lives in.
    private var owner: ProxylibRuntime { recording ? RecordingRuntime.runtime : runtime }

    var isOpen: Bool { connection.map { dp_conn_is_open($0) != 0 } ?? false }

    /// Sends `bytes` from one side, cut as the delivery says; stops at the first non-OK result.
    func send(_ side: Side, _ bytes: [UInt8]) {
        guard result == FILTER_OK, let connection else { return }
        for piece in pieces(bytes) {
            let status = piece.withUnsafeBytes { raw -> FilterResult in
                let base = raw.baseAddress?.assumingMemoryBound(to: UInt8.self)
                switch side {
                case .client:
                    return dp_filter_on_data(connection, base, raw.count, 0, &serverBuffer, &clientBuffer)
                case .server:
                    return dp_filter_on_write(connection, base, raw.count, 0, &clientBuffer)
                }
            }
            if status != FILTER_OK {
                result = status
                return
            }
        }
    }

    func send(_ side: Side, _ text: String) { send(side, Array(text.utf8)) }

    /// What reached the server and the client since the last call.
    func takeOutputs() -> (toServer: [UInt8], toClient: [UInt8]) {
        let server = Array(UnsafeRawBufferPointer(start: serverBuffer.data, count: serverBuffer.len))
        let client = Array(UnsafeRawBufferPointer(start: clientBuffer.data, count: clientBuffer.len))
        dp_buf_truncate(&serverBuffer, 0)
        dp_buf_truncate(&clientBuffer, 0)
        return (server, client)
    }

    private func pieces(_ bytes: [UInt8]) -> [[UInt8]] {
        switch delivery {
        case .whole:
            return [bytes]
        case .byteByByte:
            return bytes.map { [$0] }
        case .randomSplits:
            var result: [[UInt8]] = []
            var start = 0
            while start < bytes.count {
                let length = Int.random(in: 1...max(1, min(bytes.count - start, 64)), using: &generator)
                result.append(Array(bytes[start..<(start + length)]))
                start += length
            }
            return result
        }
    }
}

/// A runtime of the tests' own whose instances log into a `RecordingAccessLog` each (keyed by the instance's
/// access-log path), with the entry points a C datapath calls.
enum RecordingRuntime {
    static let runtime = ProxylibRuntime(registry: BuiltinParsers.registry, makeAccessLog: { params in
        let log = RecordingAccessLog()
        logs.withLock { $0[params.accessLogPath] = log }
        return log
    })
    static let logs = Mutex<[String: RecordingAccessLog]>([:])

    nonisolated(unsafe) static var library: dp_library = {
        var library = dp_library()
        library.open_module = { _, _ in 0 }
        library.close_module = { _ in }
        library.on_new_connection = { instance, proto, id, ingress, source, destination, sourceAddress,
                                       destinationAddress, policy, originalBuffer, replyBuffer in
            runtime.newConnection(
                instanceID: instance, parserName: text(proto), connectionID: id, ingress: ingress != 0,
                sourceSecurityID: source, destinationSecurityID: destination, sourceAddress: text(sourceAddress),
                destinationAddress: text(destinationAddress), policyName: text(policy),
                originalInjectBuffer: originalBuffer, replyInjectBuffer: replyBuffer)
        }
        library.on_data = { id, reply, endStream, data, ops in
            runtime.onData(connectionID: id, reply: reply != 0, endStream: endStream != 0, data: data, ops: ops)
        }
        library.close = { id in runtime.close(connectionID: id) }
        return library
    }()

    private static func text(_ string: GoString) -> String {
        guard string.n > 0, let p = string.p else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: p, count: Int(string.n)), as: UTF8.self)
    }
}

/// A process-wide counter (connection ids and node ids unique across parallel tests).
final class AtomicCounter: Sendable {
    private let value: PlainLock<UInt64>

    init(start: UInt64) { value = PlainLock(start) }

    func next() -> UInt64 {
        value.withLock { value in
            value += 1
            return value
        }
    }
}

/// One step of a scripted conversation.
enum ConversationEvent: Sendable {
    case client([UInt8])
    case server([UInt8])
    /// What reached the server and the client since the previous check.
    case expect(server: [UInt8], client: [UInt8])
    /// The connection was closed with a parser error at the last write.
    case expectParserError

    static func client(_ text: String) -> ConversationEvent { .client(Array(text.utf8)) }
    static func server(_ text: String) -> ConversationEvent { .server(Array(text.utf8)) }
    static func expect(server: String = "", client: String = "") -> ConversationEvent {
        .expect(server: Array(server.utf8), client: Array(client.utf8))
    }

    /// Plays `events` once per delivery (whole, byte by byte, random cuts): each check must hold, and every
    /// delivery must produce the same streams.
    static func play(_ events: [ConversationEvent], parser: String, policy: NetworkPolicyConfig, injectSize: Int = 1024,
                     sourceLocation: SourceLocation = #_sourceLocation) throws {
        var streams: [([UInt8], [UInt8])] = []
        for delivery in ReplayVerifier.Delivery.all {
            let conversation = try Conversation(parser: parser, policy: policy, delivery: delivery, injectSize: injectSize)
            #expect(conversation.result == FILTER_OK, sourceLocation: sourceLocation)
            var allServer: [UInt8] = [], allClient: [UInt8] = []
            for (index, event) in events.enumerated() {
                switch event {
                case .client(let bytes): conversation.send(.client, bytes)
                case .server(let bytes): conversation.send(.server, bytes)
                case .expect(let server, let client):
                    #expect(conversation.result == FILTER_OK, "event \(index), \(delivery)", sourceLocation: sourceLocation)
                    let outputs = conversation.takeOutputs()
                    allServer += outputs.toServer
                    allClient += outputs.toClient
                    #expect(Printable(outputs.toServer) == Printable(server), "to server, event \(index), \(delivery)",
                            sourceLocation: sourceLocation)
                    #expect(Printable(outputs.toClient) == Printable(client), "to client, event \(index), \(delivery)",
                            sourceLocation: sourceLocation)
                case .expectParserError:
                    #expect(conversation.result == FILTER_PARSER_ERROR, "event \(index), \(delivery)",
                            sourceLocation: sourceLocation)
                }
            }
            streams.append((allServer, allClient))
        }
        #expect(Set(streams.map { Printable($0.0) }).count == 1, sourceLocation: sourceLocation)
        #expect(Set(streams.map { Printable($0.1) }).count == 1, sourceLocation: sourceLocation)
    }
}

/// Bytes shown as text with escapes in test failures.
struct Printable: Hashable, CustomStringConvertible {
    let bytes: [UInt8]
    init(_ bytes: [UInt8]) { self.bytes = bytes }
    var description: String {
        let text = bytes.count > 300 ? Array(bytes.prefix(150)) + Array("…".utf8) + Array(bytes.suffix(150)) : bytes
        return "\"" + text.map { byte -> String in
            switch byte {
            case 0x0d: return "\\r"
            case 0x0a: return "\\n"
            case 0x20...0x7e: return String(UnicodeScalar(byte))
            default: return "\\x" + String(byte, radix: 16)
            }
        }.joined() + "\" (\(bytes.count) bytes)"
    }
}
