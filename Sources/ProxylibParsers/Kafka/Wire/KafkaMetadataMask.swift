/// Rewrites a Metadata response so that the topics a policy denies read as a broker answers topics a client
/// may not describe: error TOPIC_AUTHORIZATION_FAILED, a zero topic id, no partitions. The other topics and
/// the brokers pass as the broker sent them. Used when a Metadata request names allowed and denied topics:
/// the broker answers for all of them and the client learns, per topic, which it may use.
enum KafkaMetadataMask {
    /// Writes the masked copy of `frame` (the whole response, size prefix included) into `output`. `facts`
    /// holds the response's topics as the walker found them (with their offsets); `isDenied` decides by name.
    static func rewrite(_ frame: UnsafeRawBufferPointer, facts: borrowing KafkaFacts, compact: Bool, errorCode: Int16,
                        isDenied: (UnsafeRawBufferPointer) -> Bool, into output: inout [UInt8]) {
        output.removeAll(keepingCapacity: true)
        var copied = 0
        func copy(upTo offset: Int) {
            if offset > copied { output.append(contentsOf: UnsafeRawBufferPointer(rebasing: frame[copied..<offset])) }
            copied = max(copied, offset)
        }
        for topic in facts.topics where !topic.name.isNull && isDenied(topic.name.bytes(in: frame)) {
            if topic.errorCodeOffset >= 0 {
                copy(upTo: Int(topic.errorCodeOffset))
                output.append(UInt8(truncatingIfNeeded: UInt16(bitPattern: errorCode) >> 8))
                output.append(UInt8(truncatingIfNeeded: UInt16(bitPattern: errorCode)))
                copied += 2
            }
            if topic.idOffset >= 0 {
                copy(upTo: Int(topic.idOffset))
                output.append(contentsOf: repeatElement(0, count: 16))
                copied += 16
            }
            if !topic.partitionsSpan.isEmpty {
                copy(upTo: Int(topic.partitionsSpan.lowerBound))
                output.append(contentsOf: compact ? [1] : [0, 0, 0, 0])
                copied = Int(topic.partitionsSpan.upperBound)
            }
        }
        copy(upTo: frame.count)
        let size = UInt32(truncatingIfNeeded: output.count - 4)
        output[0] = UInt8(truncatingIfNeeded: size >> 24)
        output[1] = UInt8(truncatingIfNeeded: size >> 16)
        output[2] = UInt8(truncatingIfNeeded: size >> 8)
        output[3] = UInt8(truncatingIfNeeded: size)
    }
}
