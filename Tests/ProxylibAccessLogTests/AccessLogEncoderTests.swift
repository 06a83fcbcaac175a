import Testing
@testable import ProxylibCore
@testable import ProxylibAccessLog

/// An entry with the metadata of a typical ingress connection.
func sampleEntry(_ l7: L7LogRecord, type: AccessLogEntryType = .request, ingress: Bool = true,
                 policyName: String = "10.0.0.2", source: String = "10.0.0.1:34567",
                 destination: String = "10.0.0.2:80") -> AccessLogEntry {
    AccessLogEntry(timestampNanoseconds: 1_700_000_000_123_456_789, isIngress: ingress, entryType: type,
                   policyName: policyName, sourceSecurityID: 1001, destinationSecurityID: 2002,
                   sourceAddress: source, destinationAddress: destination, l7: l7)
}

/// Encodes with `limits` and decodes the result with protobuf-c.
func roundTrip(_ entry: AccessLogEntry, limits: AccessLogLimits = .default,
               sourceLocation: SourceLocation = #_sourceLocation) -> (bytes: [UInt8], decoded: DecodedLogEntry)? {
    guard let bytes = AccessLogEncoder(limits: limits).encode(entry) else {
        Issue.record("entry not encoded", sourceLocation: sourceLocation)
        return nil
    }
    #expect(bytes.count <= limits.maxEntryBytes, sourceLocation: sourceLocation)
    guard let decoded = DecodedLogEntry.decode(bytes) else {
        Issue.record("protobuf-c cannot decode the entry", sourceLocation: sourceLocation)
        return nil
    }
    #expect(!decoded.allStrings.contains(nil), "a string is not valid UTF-8", sourceLocation: sourceLocation)
    #expect(protobufCRepack(bytes) == bytes, "not protobuf-c's own encoding", sourceLocation: sourceLocation)
    return (bytes, decoded)
}

/// Splits `value` into the part kept before a `…[truncated N bytes]` marker and N; nil without a marker.
func splitTruncation(_ value: String) -> (kept: String, dropped: Int)? {
    let bytes = Array(value.utf8)
    let prefix = Array("…[truncated ".utf8)
    let suffix = Array(" bytes]".utf8)
    guard bytes.count >= prefix.count + suffix.count, bytes.suffix(suffix.count).elementsEqual(suffix) else {
        return nil
    }
    let body = bytes.dropLast(suffix.count)
    guard let start = (0...(body.count - prefix.count)).last(where: { body[$0..<($0 + prefix.count)].elementsEqual(prefix) }),
          let dropped = Int(String(decoding: body[(start + prefix.count)...], as: UTF8.self)),
          let kept = String(validating: body[..<start], as: UTF8.self)
    else { return nil }
    return (kept, dropped)
}

@Suite("AccessLogEncoder")
struct AccessLogEncoderTests {
    @Test("every field upstream sets is encoded, generic_l7")
    func genericFields() throws {
        let entry = sampleEntry(.generic(proto: "r2d2", fields: [("cmd", "READ"), ("file", "/etc/passwd")]),
                                type: .denied, ingress: false, policyName: "f00d::2",
                                source: "[f00d::1]:40000", destination: "[f00d::2]:80")
        let decoded = try #require(roundTrip(entry)).decoded
        #expect(decoded == DecodedLogEntry(
            timestamp: 1_700_000_000_123_456_789, entryType: 2, policyName: "f00d::2", ciliumRuleRef: "",
            sourceSecurityID: 1001, sourceAddress: "[f00d::1]:40000", destinationAddress: "[f00d::2]:80",
            isIngress: false, destinationSecurityID: 2002, proxyID: 0,
            l7: .generic(proto: "r2d2", fields: [.init(key: "cmd", value: "READ"), .init(key: "file", value: "/etc/passwd")])))
    }

    @Test("kafka entries keep negative codes and topic order")
    func kafkaFields() throws {
        let entry = sampleEntry(.kafka(correlationID: -7, errorCode: -1, apiVersion: 12, apiKey: 3,
                                       topics: ["orders", "payments", ""]), type: .response)
        let decoded = try #require(roundTrip(entry)).decoded
        #expect(decoded.entryType == 1)
        #expect(decoded.l7 == .kafka(correlationID: -7, errorCode: -1, apiVersion: 12, apiKey: 3,
                                     topics: ["orders", "payments", ""]))
    }

    @Test("an entry without fields still carries the l7 member (never an empty packet)")
    func emptyGeneric() throws {
        let entry = AccessLogEntry(timestampNanoseconds: 0, isIngress: false, entryType: .request, policyName: "",
                                   sourceSecurityID: 0, destinationSecurityID: 0, sourceAddress: "",
                                   destinationAddress: "", l7: .generic(proto: "", fields: []))
        let result = try #require(roundTrip(entry))
        #expect(!result.bytes.isEmpty)
        #expect(result.decoded.l7 == .generic(proto: "", fields: []))
    }

    @Test("a 100 KB field value: entry ≤ 4 KiB, decodable, cut with a marker")
    func hugeValue() throws {
        let huge = String(repeating: "x", count: 100_000)
        let entry = sampleEntry(.generic(proto: "r2d2", fields: [("cmd", "READ"), ("file", huge), ("status", "ok")]))
        let result = try #require(roundTrip(entry))
        #expect(result.bytes.count <= 4096)
        let fields = result.decoded.genericFields
        #expect(fields["cmd"] == "READ")
        #expect(fields["status"] == "ok")
        let file = try #require(fields["file"])
        #expect(file.utf8.count <= AccessLogLimits.default.maxValueBytes)
        let (kept, dropped) = try #require(splitTruncation(file))
        #expect(huge.hasPrefix(kept))
        #expect(kept.utf8.count + dropped == 100_000)
        #expect(file.hasSuffix("…[truncated \(dropped) bytes]"))
    }

    @Test("cuts fall on UTF-8 character boundaries", arguments: 0..<4)
    func utf8Boundary(shift: Int) throws {
        // 1-, 2-, 3- and 4-byte characters, shifted so the cut lands inside each kind.
        let value = String(repeating: "a", count: shift) + String(repeating: "é€😀z", count: 10_000)
        let entry = sampleEntry(.generic(proto: "test", fields: [("v", value)]))
        let decoded = try #require(roundTrip(entry)).decoded
        let v = try #require(decoded.genericFields["v"])
        let (kept, dropped) = try #require(splitTruncation(v))
        #expect(value.hasPrefix(kept))
        #expect(kept.utf8.count + dropped == value.utf8.count)
        #expect(v.utf8.count <= AccessLogLimits.default.maxValueBytes)
        // The cut is as late as the limit allows: less than one character (4 bytes) is given away.
        #expect(v.utf8.count > AccessLogLimits.default.maxValueBytes - 4)
    }

    @Test("huge metadata, proto name, keys and many fields together stay within the entry limit")
    func everythingHuge() throws {
        let huge = String(repeating: "é", count: 60_000)
        let entry = sampleEntry(.generic(proto: huge, fields: L7Fields((0..<50).map { ("\($0)-" + huge, huge) })),
                                policyName: huge, source: huge, destination: huge)
        let decoded = try #require(roundTrip(entry)).decoded
        for metadata in [decoded.policyName, decoded.sourceAddress, decoded.destinationAddress] {
            let value = try #require(metadata)
            #expect(splitTruncation(value) != nil)
        }
        guard case let .generic(proto, fields) = decoded.l7 else {
            Issue.record("no generic_l7")
            return
        }
        let protoValue = try #require(proto)
        #expect(splitTruncation(protoValue) != nil)
        let marker = try #require(fields.last)
        #expect(marker.key == "…")
        #expect(marker.value == "[\(51 - fields.count) more fields omitted]")
    }

    @Test("fields beyond the budget are replaced by one marker; the kept ones are intact and in order")
    func manyFields() throws {
        let fields = (0..<1000).map { ("key\($0)", "value\($0)") }
        let decoded = try #require(roundTrip(sampleEntry(.generic(proto: "memcache", fields: L7Fields(fields))))).decoded
        guard case let .generic(_, decodedFields) = decoded.l7 else {
            Issue.record("no generic_l7")
            return
        }
        let kept = decodedFields.dropLast()
        #expect(kept.count > 100)
        for (index, field) in kept.enumerated() {
            #expect(field == .init(key: "key\(index)", value: "value\(index)"))
        }
        #expect(decodedFields.last == .init(key: "…", value: "[\(1000 - kept.count) more fields omitted]"))
    }

    @Test("more fields than maxItems are omitted even when they would fit")
    func maxItems() throws {
        let limits = AccessLogLimits(maxEntryBytes: 4096, maxValueBytes: 1024, maxItems: 3)
        let fields = (0..<5).map { ("k\($0)", "v") }
        let decoded = try #require(roundTrip(sampleEntry(.generic(proto: "p", fields: L7Fields(fields))), limits: limits)).decoded
        #expect(decoded.l7 == .generic(proto: "p", fields: [
            .init(key: "k0", value: "v"), .init(key: "k1", value: "v"), .init(key: "k2", value: "v"),
            .init(key: "…", value: "[2 more fields omitted]"),
        ]))
    }

    @Test("topics beyond the budget are replaced by one marker topic")
    func manyTopics() throws {
        let topics = (0..<5000).map { "topic-\($0)" }
        let entry = sampleEntry(.kafka(correlationID: 1, errorCode: 0, apiVersion: 9, apiKey: 1, topics: topics))
        let decoded = try #require(roundTrip(entry)).decoded
        guard case let .kafka(_, _, _, _, decodedTopics) = decoded.l7 else {
            Issue.record("no kafka")
            return
        }
        let kept = decodedTopics.dropLast()
        #expect(kept.count > 100)
        #expect(Array(kept) == topics.prefix(kept.count).map { Optional($0) })
        #expect(decodedTopics.last == "…[\(5000 - kept.count) more topics omitted]")
    }

    @Test("NUL bytes, which a C string cannot carry, become U+FFFD")
    func nulBytes() throws {
        let entry = sampleEntry(.generic(proto: "binarymemcached", fields: [("key", "a\u{0}b\u{0}")]))
        let decoded = try #require(roundTrip(entry)).decoded
        #expect(decoded.genericFields["key"] == "a\u{FFFD}b\u{FFFD}")
    }

    @Test("random entries never exceed the limit and always decode", arguments: [
        AccessLogLimits.default,
        AccessLogLimits(maxEntryBytes: 512, maxValueBytes: 64, maxItems: 8),
        AccessLogLimits(maxEntryBytes: 1000, maxValueBytes: 200, maxItems: 50),
    ])
    func randomEntries(limits: AccessLogLimits) throws {
        var generator = SplitMix64(seed: UInt64(limits.maxEntryBytes))
        let alphabet: [Character] = ["a", "Z", "0", " ", "\u{0}", "é", "€", "😀", "\n"]
        func randomString() -> String {
            let length = [0, 1, 5, 60, 300, 5000][Int.random(in: 0..<6, using: &generator)]
            return String((0..<length).map { _ in alphabet.randomElement(using: &generator)! })
        }
        let encoder = AccessLogEncoder(limits: limits)
        for _ in 0..<300 {
            let l7: L7LogRecord = Bool.random(using: &generator)
                ? .generic(proto: randomString(),
                           fields: L7Fields((0..<Int.random(in: 0..<40, using: &generator)).map { _ in (randomString(), randomString()) }))
                : .kafka(correlationID: .random(in: .min ... .max, using: &generator), errorCode: -1,
                         apiVersion: 3, apiKey: 0,
                         topics: (0..<Int.random(in: 0..<40, using: &generator)).map { _ in randomString() })
            let entry = sampleEntry(l7, policyName: randomString(), source: randomString(), destination: randomString())
            let bytes = try #require(encoder.encode(entry))
            #expect(bytes.count <= limits.maxEntryBytes)
            let decoded = try #require(DecodedLogEntry.decode(bytes))
            #expect(!decoded.allStrings.contains(nil))
            #expect(protobufCRepack(bytes) == bytes, "not protobuf-c's own encoding")
            for string in decoded.allStrings {
                #expect(string!.utf8.count <= limits.maxValueBytes)
            }
        }
    }

    @Test("a buffer smaller than the entry is refused, not overrun")
    func smallBuffer() {
        let encoder = AccessLogEncoder()
        let entry = sampleEntry(.generic(proto: "r2d2", fields: [("cmd", "READ")]))
        var buffer = [UInt8](repeating: 0xAA, count: 20)
        let written = buffer.withUnsafeMutableBytes { raw in
            encoder.encode(entry, into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<10]))
        }
        #expect(written == nil)
        #expect(buffer[10...].allSatisfy { $0 == 0xAA })
    }
}

/// A small deterministic generator for reproducible random tests.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
