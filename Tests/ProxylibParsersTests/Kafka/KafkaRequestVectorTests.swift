import CDatapath
import CProxylib
import Foundation
import Synchronization
import Testing
@testable import ProxylibCore
@testable import ProxylibParsers
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

    /// The version range and first flexible version the generator used for one api key.
    struct Cited: Decodable, Sendable {
        let versions: String
        let flexibleFrom: Int16?
    }

    struct File: Decodable, Sendable {
        let apiVersions: [String: Cited]
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

    /// The ranges the vectors were built from (cited per api key in the file's `api_versions`, with their
    /// source files) are the ranges of our descriptions, flexible versions included.
    @Test func ourDescriptionsHaveTheCitedVersionRanges() {
        for (key, cited) in Self.file.apiVersions {
            guard let api = Int16(key).flatMap(KafkaAPIs.api) else {
                Issue.record("api key \(key) is not described")
                continue
            }
            let bounds = cited.versions.split(separator: "-").compactMap { Int16($0) }
            let low = bounds.first ?? -1, high = bounds.last ?? -1
            #expect((api.versions.low, api.versions.high) == (low, high), "api key \(key)")
            #expect(api.flexibleFrom == cited.flexibleFrom, "api key \(key)")
        }
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
            let wire = try Conversation(parser: "kafka", policy: Self.policy(nil), delivery: delivery, recordsAccessLog: true)
            #expect(wire.result == FILTER_OK)
            if vector.namesOnlyByID {
                let request = Vector.bytes(Self.prelude.requestHex), response = Vector.bytes(Self.prelude.responseHex)
                wire.send(.client, request)
                let first = wire.takeOutputs()
                #expect(first.toServer == request, "prelude request, \(delivery)")
                wire.send(.server, response)
                let second = wire.takeOutputs()
                #expect(second.toClient == response, "prelude response, \(delivery)")
                wire.log?.clear()
            }
            wire.send(.client, vector.frame)
            #expect(wire.result == FILTER_OK, "\(delivery)")
            let outputs = wire.takeOutputs()
            #expect(Printable(outputs.toServer) == Printable(vector.frame), "to server, \(delivery)")
            #expect(outputs.toClient.isEmpty, "to client, \(delivery)")
            let entries = wire.log?.all ?? []
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
            let wire = try Conversation(parser: "kafka", policy: Self.policy([KafkaRuleConfig(topic: "not.these")]),
                                        delivery: delivery, recordsAccessLog: true)
            wire.send(.client, vector.frame)
            #expect(wire.result == FILTER_OK, "\(delivery)")
            let outputs = wire.takeOutputs()
            let entries = wire.log?.all ?? []
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
