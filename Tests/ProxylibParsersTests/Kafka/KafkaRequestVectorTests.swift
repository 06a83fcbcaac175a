import CDatapath
import CProxylib
import Foundation
import Synchronization
import Testing
@testable import ProxylibCore
import ProxylibParsers
import ProxylibTestSupport

/// Request frames for every Kafka api key the parser reads, at its lowest, a middle, its first flexible and its
/// newest version, built by Tests/kafka/vectors/generate.py from Apache Kafka's message definitions (not from
/// our Swift tables). Each is replayed through the C datapath (cilium-envoy's onIo and network filter) whole,
/// byte by byte and randomly split: with no L7 restrictions it must reach the server byte-identical and be
/// logged with its key, version, correlation id and topics; under a policy whose only rule names another topic,
/// every topic-bearing request is dropped and the topic-less ones still pass.
@Suite struct KafkaRequestVectorTests {
    struct Vector: Decodable, Sendable, CustomTestStringConvertible {
        let name: String
        let apiKey: Int32
        let apiVersion: Int32
        let correlationId: Int32
        let clientId: String?
        let topicBearing: Bool
        let topics: [String?]
        let topicIds: [String?]
        let partitions: [[Int32]?]
        let acks: Int16?
        let source: String
        let frameHex: String

        var testDescription: String { name }
        var frame: [UInt8] { Self.bytes(frameHex) }
        var namesOnlyByID: Bool { topics.contains { $0 == nil } }

        static func bytes(_ hex: String) -> [UInt8] {
            var out: [UInt8] = []
            out.reserveCapacity(hex.utf8.count / 2)
            var high: UInt8?
            for c in hex.utf8 {
                let nibble = c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x61 + 10
                if let h = high { out.append(h << 4 | nibble); high = nil } else { high = nibble }
            }
            return out
        }
    }

    /// A Metadata request naming the vectors' three topics and the server's answer with their ids: what lets
    /// the parser check a request that names topics by id only.
    struct MetadataPrelude: Decodable, Sendable {
        let apiVersion: Int32
        let requestHex: String
        let responseHex: String
        let topicIds: [String: String]
    }

    struct File: Decodable, Sendable {
        let metadataPrelude: MetadataPrelude
        let vectors: [Vector]
    }

    static let file: File = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Vectors/kafka-requests.json")
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do {
            return try decoder.decode(File.self, from: Data(contentsOf: url))
        } catch {
            fatalError("cannot read \(url.path): \(error)")
        }
    }()

    static let vectors = file.vectors
    static let prelude = file.metadataPrelude
    static let topicBearing = vectors.filter(\.topicBearing)

    /// The topics the access log must carry: unique, in request order, ids resolved through the prelude.
    static func loggedTopics(_ vector: Vector) -> [String] {
        let names = Dictionary(uniqueKeysWithValues: prelude.topicIds.map { ($0.value, $0.key) })
        var seen = Set<String>(), out: [String] = []
        for (name, id) in zip(vector.topics, vector.topicIds) {
            guard let topic = name ?? id.flatMap({ names[$0] }) else { continue }
            if seen.insert(topic).inserted { out.append(topic) }
        }
        return out
    }

    static func policy(_ rules: [KafkaRuleConfig]?) -> NetworkPolicyConfig {
        let rule = PortNetworkPolicyRuleConfig(l7Proto: "kafka", l7: rules.map { .kafka($0) })
        return NetworkPolicyConfig(endpointIPs: ["1.1.1.1"], endpointID: 2,
                                   ingress: [PortNetworkPolicyConfig(port: 80, rules: [rule])], egress: [])
    }

    @Test func theFileCoversEveryVersionItCites() {
        #expect(Self.vectors.count > 150)
        #expect(Set(Self.vectors.map(\.correlationId)).count == Self.vectors.count)
        #expect(Self.vectors.allSatisfy { $0.frame.count == Int(UInt32(bigEndian: $0.frame.prefix(4).withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) })) + 4 })
    }

    /// No L7 restrictions: the frame reaches the server whole and unchanged, nothing reaches the client, and the
    /// request is logged. Topics named by id are first mapped by a Metadata exchange on the same connection.
    @Test(arguments: vectors)
    func passesUnchanged(_ vector: Vector) throws {
        for delivery in ReplayVerifier.Delivery.all {
            let wire = try KafkaWire(policy: Self.policy(nil), delivery: delivery)
            #expect(wire.result == FILTER_OK)
            if vector.namesOnlyByID {
                let request = Vector.bytes(Self.prelude.requestHex), response = Vector.bytes(Self.prelude.responseHex)
                wire.send(.client, request)
                let first = wire.takeOutputs()
                #expect(first.toServer == request, "prelude request, \(delivery)")
                wire.send(.server, response)
                let second = wire.takeOutputs()
                #expect(second.toClient == response, "prelude response, \(delivery)")
                wire.log.clear()
            }
            wire.send(.client, vector.frame)
            #expect(wire.result == FILTER_OK, "\(delivery)")
            let outputs = wire.takeOutputs()
            #expect(Printable(outputs.toServer) == Printable(vector.frame), "to server, \(delivery)")
            #expect(outputs.toClient.isEmpty, "to client, \(delivery)")
            let entries = wire.log.all
            #expect(entries.map(\.entryType) == [.request], "\(delivery)")
            if let entry = entries.first, case let .kafka(correlationID, _, apiVersion, apiKey, topics) = entry.l7 {
                #expect(correlationID == vector.correlationId, "\(delivery)")
                #expect(apiVersion == vector.apiVersion, "\(delivery)")
                #expect(apiKey == vector.apiKey, "\(delivery)")
                #expect(topics == Self.loggedTopics(vector), "\(delivery)")
            } else {
                Issue.record("not a kafka Request entry: \(entries), \(delivery)")
            }
        }
    }

    /// A policy whose only rule allows a topic none of the vectors names: every topic-bearing request is dropped
    /// (a topic named by id that no Metadata answer mapped with 100, UNKNOWN_TOPIC_ID; a name with 29,
    /// TOPIC_AUTHORIZATION_FAILED) and answered unless it is a Produce with acks 0; topic-less requests pass.
    @Test(arguments: vectors)
    func otherTopicRule(_ vector: Vector) throws {
        for delivery in ReplayVerifier.Delivery.all {
            let wire = try KafkaWire(policy: Self.policy([KafkaRuleConfig(topic: "not.these")]), delivery: delivery)
            wire.send(.client, vector.frame)
            #expect(wire.result == FILTER_OK, "\(delivery)")
            let outputs = wire.takeOutputs()
            let entries = wire.log.all
            if vector.topicBearing {
                #expect(outputs.toServer.isEmpty, "dropped, \(delivery)")
                if vector.acks == 0 {
                    #expect(outputs.toClient.isEmpty, "acks 0: no answer, \(delivery)")
                } else {
                    // A response frame with the request's correlation id right after the size.
                    #expect(outputs.toClient.count >= 8, "answered, \(delivery)")
                    if outputs.toClient.count >= 8 {
                        let size = outputs.toClient[0..<4].reduce(0) { $0 << 8 | Int($1) }
                        let correlation = outputs.toClient[4..<8].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
                        #expect(size == outputs.toClient.count - 4, "one response frame, \(delivery)")
                        #expect(Int32(bitPattern: correlation) == vector.correlationId, "\(delivery)")
                    }
                }
                #expect(entries.map(\.entryType) == [.denied], "\(delivery)")
                if let entry = entries.first, case let .kafka(correlationID, errorCode, apiVersion, apiKey, _) = entry.l7 {
                    #expect(correlationID == vector.correlationId && apiVersion == vector.apiVersion
                            && apiKey == vector.apiKey, "\(delivery)")
                    #expect(errorCode == (vector.namesOnlyByID ? 100 : 29), "\(delivery)")
                }
            } else {
                #expect(Printable(outputs.toServer) == Printable(vector.frame), "passed, \(delivery)")
                #expect(outputs.toClient.isEmpty, "\(delivery)")
                #expect(entries.map(\.entryType) == [.request], "\(delivery)")
            }
        }
    }
}

/// A client and a server talking through the C datapath into a runtime of its own whose instance logs into a
/// `RecordingAccessLog` (Conversation drives the process-wide runtime, whose log goes to a socket).
final class KafkaWire {
    enum Side { case client, server }

    static let runtime = ProxylibRuntime(registry: BuiltinParsers.registry, makeAccessLog: { params in
        let log = RecordingAccessLog()
        logs.withLock { $0[params.accessLogPath] = log }
        return log
    })
    static let logs = Mutex<[String: RecordingAccessLog]>([:])
    private static let nextID = AtomicCounter(start: 9_000_000)

    nonisolated(unsafe) private static var library: dp_library = {
        var library = dp_library()
        library.open_module = { _, _ in 0 }
        library.close_module = { _ in }
        library.on_new_connection = { instance, proto, id, ingress, source, destination, sourceAddress,
                                       destinationAddress, policy, originalBuffer, replyBuffer in
            KafkaWire.runtime.newConnection(
                instanceID: instance, parserName: text(proto), connectionID: id, ingress: ingress != 0,
                sourceSecurityID: source, destinationSecurityID: destination, sourceAddress: text(sourceAddress),
                destinationAddress: text(destinationAddress), policyName: text(policy),
                originalInjectBuffer: originalBuffer, replyInjectBuffer: replyBuffer)
        }
        library.on_data = { id, reply, endStream, data, ops in
            KafkaWire.runtime.onData(connectionID: id, reply: reply != 0, endStream: endStream != 0, data: data, ops: ops)
        }
        library.close = { id in KafkaWire.runtime.close(connectionID: id) }
        return library
    }()

    private static func text(_ string: GoString) -> String {
        guard string.n > 0, let p = string.p else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: p, count: Int(string.n)), as: UTF8.self)
    }

    let log: RecordingAccessLog
    private let instanceID: UInt64
    private var connection: OpaquePointer?
    private var serverBuffer = dp_buf()
    private var clientBuffer = dp_buf()
    private let delivery: ReplayVerifier.Delivery
    private var generator: SplitMix64
    private(set) var result = FILTER_OK

    init(policy: NetworkPolicyConfig, delivery: ReplayVerifier.Delivery) throws {
        self.delivery = delivery
        if case .randomSplits(let seed) = delivery { generator = SplitMix64(seed: seed) } else { generator = SplitMix64(seed: 1) }
        let path = "/kafka-vectors/\(Self.nextID.next())"
        instanceID = Self.runtime.openModule([("access-log-path", path)], debug: false)
        log = Self.logs.withLock { $0.removeValue(forKey: path) } ?? RecordingAccessLog()
        try Self.runtime.instances.find(instanceID)?.updatePolicy([policy], version: "1")
        dp_buf_init(&serverBuffer)
        dp_buf_init(&clientBuffer)
        var options = dp_conn_options()
        options.max_ops = 16
        options.inject_size = 1024
        var opened: OpaquePointer?
        result = dp_conn_new_ex(&Self.library, instanceID, "kafka", Self.nextID.next(), 1, 1, 2, "1.1.1.1:34567",
                                "10.0.0.2:80", "1.1.1.1", &options, &opened)
        connection = opened
    }

    deinit {
        if let connection {
            dp_conn_close(connection)
            dp_conn_free(connection)
        }
        dp_buf_free(&serverBuffer)
        dp_buf_free(&clientBuffer)
        Self.runtime.closeModule(instanceID)
    }

    /// Sends `bytes` from one side, cut as the delivery says; stops at the first non-OK result.
    func send(_ side: Side, _ bytes: [UInt8]) {
        guard result == FILTER_OK, let connection else { return }
        for piece in pieces(bytes) {
            let status = piece.withUnsafeBytes { raw -> FilterResult in
                let base = raw.baseAddress?.assumingMemoryBound(to: UInt8.self)
                switch side {
                case .client: return dp_filter_on_data(connection, base, raw.count, 0, &serverBuffer, &clientBuffer)
                case .server: return dp_filter_on_write(connection, base, raw.count, 0, &clientBuffer)
                }
            }
            if status != FILTER_OK {
                result = status
                return
            }
        }
    }

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
