/// Seed scripts for `datapath-kafka`: conversations under the oracle's policy (topic `allowed`; `billing` for
/// client `billing`; `catalog` for Metadata; `legacy` for Produce v3; `seven` from remote 7; nothing from
/// remote 9), built here from Kafka's message definitions, and hostile frames (varints too long or
/// overflowing, negative and huge counts, lengths past the frame, bad size prefixes).
enum KafkaSeeds {
    typealias Step = FuzzSeeds.Step

    // MARK: Notation

    static func i16(_ value: Int) -> [UInt8] { [UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)] }
    static func i32(_ value: Int) -> [UInt8] { [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: value >> $0) } }
    static func i64(_ value: Int) -> [UInt8] { i32(value >> 32) + i32(value) }
    static func uvarint(_ value: UInt32) -> [UInt8] {
        var rest = value
        var out: [UInt8] = []
        while rest >= 0x80 {
            out.append(UInt8(rest & 0x7F) | 0x80)
            rest >>= 7
        }
        return out + [UInt8(rest)]
    }
    /// STRING or COMPACT_STRING; nil is null.
    static func string(_ text: String?, _ flexible: Bool) -> [UInt8] {
        guard let text else { return flexible ? [0] : i16(-1) }
        let bytes = Array(text.utf8)
        return (flexible ? uvarint(UInt32(bytes.count + 1)) : i16(bytes.count)) + bytes
    }
    static func bytes(_ value: [UInt8], _ flexible: Bool) -> [UInt8] {
        (flexible ? uvarint(UInt32(value.count + 1)) : i32(value.count)) + value
    }
    /// An array count; nil is null.
    static func count(_ n: Int?, _ flexible: Bool) -> [UInt8] {
        guard let n else { return flexible ? [0] : i32(-1) }
        return flexible ? uvarint(UInt32(n + 1)) : i32(n)
    }
    static func tags(_ flexible: Bool) -> [UInt8] { flexible ? [0] : [] }

    static func id(_ n: UInt8) -> [UInt8] { [0x5E, 0xED] + Array(repeating: n, count: 14) }
    static let records: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9]

    static func request(key: Int, version: Int, correlation: Int, client: String? = "client", flexible: Bool,
                        body: [UInt8]) -> [UInt8] {
        let frame = i16(key) + i16(version) + i32(correlation) + string(client, false) + tags(flexible) + body
        return i32(frame.count) + frame
    }

    static func response(correlation: Int, flexible: Bool, body: [UInt8]) -> [UInt8] {
        let frame = i32(correlation) + tags(flexible) + body
        return i32(frame.count) + frame
    }

    // MARK: Produce (0)

    static func produce(_ version: Int, _ correlation: Int, acks: Int = 1, client: String? = "client",
                        topics: [(String, [Int])]) -> [UInt8] {
        let flexible = version >= 9
        var body = version >= 3 ? string(nil, flexible) : []
        body += i16(acks) + i32(30000) + count(topics.count, flexible)
        for (name, partitions) in topics {
            body += string(name, flexible) + count(partitions.count, flexible)
            for partition in partitions { body += i32(partition) + bytes(records, flexible) + tags(flexible) }
            body += tags(flexible)
        }
        body += tags(flexible)
        return request(key: 0, version: version, correlation: correlation, client: client, flexible: flexible, body: body)
    }

    static func produce13(_ correlation: Int, acks: Int = 1, topics: [([UInt8], [Int])]) -> [UInt8] {
        var body = string(nil, true) + i16(acks) + i32(30000) + count(topics.count, true)
        for (topicID, partitions) in topics {
            body += topicID + count(partitions.count, true)
            for partition in partitions { body += i32(partition) + bytes(records, true) + [0] }
            body += [0]
        }
        return request(key: 0, version: 13, correlation: correlation, flexible: true, body: body + [0])
    }

    static func produceResponse(_ version: Int, _ correlation: Int, topics: [(String, [Int])]) -> [UInt8] {
        let flexible = version >= 9
        var body = count(topics.count, flexible)
        for (name, partitions) in topics {
            body += string(name, flexible) + count(partitions.count, flexible)
            for partition in partitions {
                body += i32(partition) + i16(0) + i64(42)
                if version >= 2 { body += i64(-1) }
                if version >= 5 { body += i64(0) }
                if version >= 8 { body += count(0, flexible) + string(nil, flexible) }
                body += tags(flexible)
            }
            body += tags(flexible)
        }
        body += i32(0) + tags(flexible)
        return response(correlation: correlation, flexible: flexible, body: body)
    }

    // MARK: Metadata (3)

    /// `topics` nil: every topic (v1+); ids for v10+ (empty: the zero id; nil name: by id only).
    static func metadata(_ version: Int, _ correlation: Int, client: String? = "client",
                         topics: [(String?, [UInt8])]?) -> [UInt8] {
        let flexible = version >= 9
        var body = count(topics?.count, flexible)
        for (name, topicID) in topics ?? [] {
            if version >= 10 { body += topicID.isEmpty ? [UInt8](repeating: 0, count: 16) : topicID }
            body += string(name, flexible) + tags(flexible)
        }
        if version >= 4 { body += [1] }
        if (8...10).contains(version) { body += [0] }
        if version >= 8 { body += [0] }
        body += tags(flexible)
        return request(key: 3, version: version, correlation: correlation, client: client, flexible: flexible, body: body)
    }

    static func metadataResponse(_ version: Int, _ correlation: Int, topics: [(String, [UInt8])]) -> [UInt8] {
        let flexible = version >= 9
        var body = version >= 3 ? i32(0) : []
        body += count(1, flexible) + i32(1) + string("broker-1", flexible) + i32(9092)
        if version >= 1 { body += string(nil, flexible) }
        body += tags(flexible)
        if version >= 2 { body += string("cluster", flexible) }
        if version >= 1 { body += i32(1) }
        body += count(topics.count, flexible)
        for (name, topicID) in topics {
            body += i16(0) + string(name, flexible)
            if version >= 10 { body += topicID }
            if version >= 1 { body += [0] }
            body += count(1, flexible) + i16(0) + i32(0) + i32(1)
            if version >= 7 { body += i32(0) }
            body += count(1, flexible) + i32(1) + count(1, flexible) + i32(1)
            if version >= 5 { body += count(0, flexible) }
            body += tags(flexible)
            if version >= 8 { body += i32(0) }
            body += tags(flexible)
        }
        if (8...10).contains(version) { body += i32(0) }
        if version >= 13 { body += i16(0) }
        body += tags(flexible)
        return response(correlation: correlation, flexible: flexible, body: body)
    }

    // MARK: Fetch (1)

    static func fetch(_ version: Int, _ correlation: Int, topics: [(String, [Int])]) -> [UInt8] {
        let flexible = version >= 12
        var body = version < 15 ? i32(-1) : []
        body += i32(500) + i32(1)
        if version >= 3 { body += i32(1 << 20) }
        if version >= 4 { body += [0] }
        if version >= 7 { body += i32(0) + i32(-1) }
        body += count(topics.count, flexible)
        for (index, (name, partitions)) in topics.enumerated() {
            body += version >= 13 ? id(UInt8(index)) : string(name, flexible)
            body += count(partitions.count, flexible)
            for partition in partitions {
                body += i32(partition)
                if version >= 9 { body += i32(-1) }
                body += i64(0)
                if version >= 12 { body += i32(-1) }
                if version >= 5 { body += i64(-1) }
                body += i32(1 << 20) + tags(flexible)
            }
            body += tags(flexible)
        }
        if version >= 7 { body += count(0, flexible) }
        if version >= 11 { body += string("", flexible) }
        body += tags(flexible)
        return request(key: 1, version: version, correlation: correlation, flexible: flexible, body: body)
    }

    static func fetchResponse(_ version: Int, _ correlation: Int, topics: [(String, [Int])]) -> [UInt8] {
        let flexible = version >= 12
        var body = version >= 1 ? i32(0) : []
        if version >= 7 { body += i16(0) + i32(0) }
        body += count(topics.count, flexible)
        for (index, (name, partitions)) in topics.enumerated() {
            body += version >= 13 ? id(UInt8(index)) : string(name, flexible)
            body += count(partitions.count, flexible)
            for partition in partitions {
                body += i32(partition) + i16(0) + i64(10)
                if version >= 4 { body += i64(10) }
                if version >= 5 { body += i64(0) }
                if version >= 4 { body += count(nil, flexible) }
                if version >= 11 { body += i32(-1) }
                body += bytes(records, flexible) + tags(flexible)
            }
            body += tags(flexible)
        }
        body += tags(flexible)
        return response(correlation: correlation, flexible: flexible, body: body)
    }

    // MARK: Scripts

    /// Run once before the first input (`DatapathFuzzTarget.Profile.warmUp`): a Produce answered, a Produce
    /// denied, a Metadata v12 answered.
    static var warmUp: [[UInt8]] {
        let allowed = [("allowed", [0])]
        return [FuzzSeeds.script([
            .clientBytes(produce(3, 1, topics: allowed)), .serverBytes(produceResponse(3, 1, topics: allowed)),
            .clientBytes(produce(9, 2, topics: [("secret", [0])])),
            .clientBytes(metadata(12, 3, topics: [("allowed", [])])),
            .serverBytes(metadataResponse(12, 3, topics: [("allowed", id(9))])),
        ])]
    }

    static func scripts() -> [[UInt8]] {
        func script(setup: UInt8 = 0, _ steps: [Step]) -> [UInt8] { FuzzSeeds.script(setup: setup, steps) }
        func setup(remote: UInt8 = 0, ops: UInt8 = 0, inject: UInt8 = 0) -> UInt8 {
            FuzzSeeds.setup(remote: remote, ops: ops, inject: inject)
        }
        func c(_ bytes: [UInt8]) -> Step { .clientBytes(bytes) }
        func s(_ bytes: [UInt8]) -> Step { .serverBytes(bytes) }
        let allowed = [("allowed", [0, 1])]
        let secret = [("secret", [0])]
        var seeds: [[UInt8]] = [
            // Produce v3: allowed and answered, denied (answered by the library), acks=0 denied (nothing).
            script([c(produce(3, 1, topics: allowed)), s(produceResponse(3, 1, topics: allowed)),
                    c(produce(3, 2, topics: secret)), c(produce(3, 3, acks: 0, topics: secret)),
                    c(produce(3, 4, topics: allowed)), s(produceResponse(3, 4, topics: allowed))]),
            // Pipelined: a denial waits behind the response owed before it.
            script([c(produce(3, 10, topics: allowed) + produce(3, 11, topics: [("allowed", [0]), ("secret", [1])])
                      + produce(3, 12, topics: allowed)),
                    s(produceResponse(3, 10, topics: allowed)), s(produceResponse(3, 12, topics: allowed))]),
            // Flexible Produce v9 and v11, a small inject buffer, one op per call.
            script(setup: setup(ops: 1, inject: 3), [
                c(produce(9, 20, topics: allowed)), c(produce(11, 21, topics: secret)),
                s(produceResponse(9, 20, topics: allowed)), .flushReplyInject, .flushReplyInject, .flushReplyInject]),
            // The version rule (legacy: Produce v3 only), the client-id rule (billing), remote 7's topic.
            script([c(produce(3, 30, topics: [("legacy", [0])])), c(produce(9, 31, topics: [("legacy", [0])])),
                    c(produce(9, 32, client: "billing", topics: [("billing", [0])])),
                    c(produce(9, 33, client: nil, topics: [("billing", [0])])),
                    c(produce(9, 34, topics: [("seven", [0])]))]),
            script(setup: setup(remote: 1), [c(produce(7, 40, topics: [("seven", [0]), ("allowed", [1])])),
                                             s(produceResponse(7, 40, topics: [("seven", [0]), ("allowed", [1])]))]),
            script(setup: setup(remote: 2), [c(produce(3, 50, topics: allowed)), c(metadata(1, 51, topics: [("allowed", [])]))]),
            // Metadata: the api-key rule (catalog), every topic (null, and v0's empty list), flexible versions.
            script([c(metadata(1, 60, topics: [("catalog", [])])), s(metadataResponse(1, 60, topics: [("catalog", [])])),
                    c(metadata(1, 61, topics: nil)), c(metadata(0, 62, topics: [])),
                    c(metadata(9, 63, topics: [("allowed", []), ("catalog", [])])),
                    c(metadata(12, 64, topics: [("secret", [])]))]),
            // Topic ids: a Metadata v12 response maps ids to names; Produce v13 names topics by id only.
            script([c(metadata(12, 70, topics: [("allowed", [])])),
                    s(metadataResponse(12, 70, topics: [("allowed", id(1)), ("secret", id(2))])),
                    c(produce13(71, topics: [(id(1), [0])])), s(produceResponse(9, 71, topics: [])),
                    c(produce13(72, topics: [(id(2), [0])])), c(produce13(73, topics: [(id(3), [0, 1])])),
                    c(metadata(10, 74, topics: [(nil, id(1))]))]),
            // Metadata naming an allowed and a denied topic: it passes, and the answer's entry for the denied
            // one is masked (v1, v12); ApiVersions' answer capped to what the parser reads.
            script([c(metadata(1, 75, topics: [("allowed", []), ("secret", [])])),
                    s(metadataResponse(1, 75, topics: [("allowed", []), ("secret", [])])),
                    c(metadata(12, 76, topics: [("secret", []), ("catalog", [])])),
                    s(metadataResponse(12, 76, topics: [("secret", id(4)), ("catalog", id(5))])),
                    c(metadata(4, 77, topics: []))]),
            // Fetch v4 and v12 (flexible) with their responses.
            script([c(fetch(4, 80, topics: allowed)), s(fetchResponse(4, 80, topics: allowed)),
                    c(fetch(12, 81, topics: allowed)), s(fetchResponse(12, 81, topics: allowed)),
                    c(fetch(12, 82, topics: secret)), c(fetch(4, 83, topics: secret))]),
            // ApiVersions v3 (flexible request header, response header v0).
            script([c(request(key: 18, version: 3, correlation: 90, flexible: true,
                              body: string("client", true) + string("1.0", true) + [0])),
                    s(response(correlation: 90, flexible: false, body: i16(0) + count(0, true) + i32(0) + [0]))]),
            // A response with a correlation id nothing awaits, and one out of order.
            script([s(produceResponse(3, 99, topics: [])), c(produce(3, 100, topics: allowed)),
                    s(produceResponse(3, 101, topics: allowed))]),
            // Cut at awkward points; a frame closed mid-way.
            script([c(Array(produce(9, 110, topics: allowed).prefix(3))), c(Array(produce(9, 110, topics: allowed).dropFirst(3))),
                    c(Array(produce(3, 111, topics: secret).prefix(20))), .closeMidFrame,
                    c(produce(3, 112, topics: allowed))]),
            script([c(produce(3, 120, topics: secret)), .bothEnd]),
        ]
        // Hostile frames.
        let hostile: [[UInt8]] = [
            // A 6-byte varint as Produce v9's topic count; a 5-byte one with bits past 32.
            request(key: 0, version: 9, correlation: 200, flexible: true,
                    body: [0] + i16(1) + i32(0) + [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]),
            request(key: 0, version: 9, correlation: 201, flexible: true,
                    body: [0] + i16(1) + i32(0) + [0x82, 0x80, 0x80, 0x80, 0x10] + string("secret", true) + [1, 0, 0]),
            // Negative and huge counts, a string past the frame.
            request(key: 0, version: 3, correlation: 202, flexible: false, body: string(nil, false) + i16(1) + i32(0) + i32(-5)),
            request(key: 0, version: 3, correlation: 203, flexible: false, body: string(nil, false) + i16(1) + i32(0) + i32(0x7FFF_FFFF)),
            request(key: 0, version: 3, correlation: 204, flexible: false,
                    body: string(nil, false) + i16(1) + i32(0) + i32(1) + i16(0x7FFF) + Array("allowed".utf8)),
            request(key: 3, version: 1, correlation: 205, flexible: false, body: i32(-7)),
            request(key: 3, version: 9, correlation: 206, flexible: true, body: [0x80, 0x80, 0x80, 0x80, 0x08]),
            // A topic name of length -2 (Java: null for nullable fields only), a negative tagged-field count.
            request(key: 0, version: 3, correlation: 207, flexible: false, body: string(nil, false) + i16(1) + i32(0) + i32(1) + i16(-2) + i32(0)),
            request(key: 0, version: 9, correlation: 208, client: "c", flexible: false,
                    body: [0xFF, 0xFF, 0xFF, 0xFF, 0x0F] + [0] + i16(1) + i32(0) + [1, 0]),
            // Size prefixes: negative, over 100 MiB, smaller than a header.
            i32(-16) + i32(0) + i32(0),
            i32(100 << 20 + 1) + i16(0) + i16(3) + i32(209),
            i32(7) + [0, 0, 0, 3, 0, 0, 0],
            // An unknown api key, an unknown version.
            request(key: 999, version: 0, correlation: 210, flexible: false, body: []),
            request(key: 0, version: 99, correlation: 211, flexible: false, body: []),
        ]
        for frame in hostile {
            seeds.append(script([c(produce(3, 1, topics: allowed)), c(frame), s(produceResponse(3, 1, topics: allowed))]))
        }
        return seeds
    }
}
