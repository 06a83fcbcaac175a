/// Encodes the response a denied request gets, from the response program of its api key and version: the
/// request's topics, partitions, groups and config resources echoed one element each, with the denial's error
/// code in each of their error fields; every other field at its default (numbers 0 or the description's
/// default, nullable strings null, other strings empty, other arrays empty, tagged sections empty).
///
/// The message's own (top-level) error fields carry the code only when no per-topic entry does: a client
/// reads a top-level error as the failure of the whole exchange (a Fetch session error, a Metadata failure),
/// where a per-topic one fails just those topics.
struct KafkaResponseWriter {
    private(set) var bytes: [UInt8] = []
    /// The elements of the response arrays being written, innermost last (a stack reused by every denial).
    private var scopes: [Scope] = []

    private struct Scope {
        var group: Int32 = -1
        var topic: Int = -1
        var partition: Int32 = -1
        var resource: Int32 = -1
        var item: Int32 = -1
        /// Inside an element written for something of the request (a topic, partition, group, resource).
        var echoed = false
    }

    /// Writes the whole frame (size prefix, response header, body) into `bytes`, replacing what was there.
    mutating func write(api: KafkaCompiledAPI, version: Int16, correlationID: Int32, errorCode: Int16,
                        facts: borrowing KafkaFacts, frame: UnsafeRawBufferPointer) {
        bytes.removeAll(keepingCapacity: true)
        appendInteger(0, width: 4)
        appendInteger(Int64(correlationID), width: 4)
        if api.responseHeaderIsFlexible(version) { bytes.append(0) }
        let program = api.response(version)
        program.withUnsafeBufferPointer { ops in
            var top = Scope()
            top.echoed = !Self.echoesEntries(ops, facts: facts)
            writeFields(ops, from: 0, to: ops.count, scope: top, errorCode: errorCode, facts: facts, frame: frame)
        }
        let size = UInt32(truncatingIfNeeded: bytes.count - 4)
        bytes[0] = UInt8(truncatingIfNeeded: size >> 24)
        bytes[1] = UInt8(truncatingIfNeeded: size >> 16)
        bytes[2] = UInt8(truncatingIfNeeded: size >> 8)
        bytes[3] = UInt8(truncatingIfNeeded: size)
    }

    private mutating func writeFields(_ ops: UnsafeBufferPointer<KafkaOp>, from start: Int, to end: Int, scope: Scope,
                                      errorCode: Int16, facts: borrowing KafkaFacts, frame: UnsafeRawBufferPointer) {
        var index = start
        while index < end {
            let op = ops[index]
            switch op.kind {
            case .fixed:
                writeFixed(op, scope: scope, errorCode: errorCode, facts: facts)
                index += 1
            case .string:
                writeString(op, scope: scope, facts: facts, frame: frame)
                index += 1
            case .bytes:
                appendLength(op.nullable ? -1 : 0, compact: op.compact, wide: true)
                index += 1
            case .array:
                writeArray(op, scope: scope, facts: facts, frame: frame)
                index += 1
            case .structs:
                let bodyEnd = Int(op.end)
                // The elements go on the `scopes` stack (capacity kept across denials: no allocation once warm);
                // nested arrays push theirs above and pop them before this loop moves on.
                let first = scopes.count
                appendElements(of: op.role, scope: scope, facts: facts,
                               holdsTopics: Self.holdsTopics(ops, from: index + 1, to: bodyEnd))
                let last = scopes.count
                appendLength(last - first, compact: op.compact, wide: true)
                for position in first..<last {
                    writeFields(ops, from: index + 1, to: bodyEnd, scope: scopes[position], errorCode: errorCode,
                                facts: facts, frame: frame)
                }
                scopes.truncate(to: first)
                index = bodyEnd
            case .structure:
                let bodyEnd = Int(op.end)
                if op.nullable {
                    bytes.append(0xFF)
                } else {
                    writeFields(ops, from: index + 1, to: bodyEnd, scope: scope, errorCode: errorCode, facts: facts,
                                frame: frame)
                }
                index = bodyEnd
            case .tagged:
                bytes.append(0)
                index += 1
            }
        }
    }

    /// Whether the response gets an element, with an error field, for a topic, group or resource the request
    /// named (so the denial's errors sit there).
    private static func echoesEntries(_ ops: UnsafeBufferPointer<KafkaOp>, facts: borrowing KafkaFacts) -> Bool {
        for (index, op) in ops.enumerated() where op.kind == .structs {
            let named: Bool
            switch op.role {
            case .topics: named = facts.topics.contains(where: { $0.resource < 0 })
            case .groups: named = !facts.groups.isEmpty
            case .resources: named = !facts.resources.isEmpty
            default: named = false
            }
            if named && (index + 1..<Int(op.end)).contains(where: { ops[$0].role == .errorCode }) { return true }
        }
        return false
    }

    /// Whether the body of an array op holds an array of topics.
    private static func holdsTopics(_ ops: UnsafeBufferPointer<KafkaOp>, from start: Int, to end: Int) -> Bool {
        (start..<end).contains { ops[$0].role == .topics }
    }

    /// Pushes the elements a response array gets onto `scopes`: one per request topic (of the current group),
    /// partition (of the current topic), group, resource or item; one for an array that only holds topics (a
    /// transaction, a log directory: the request's topics sit there); none for arrays that echo nothing.
    private mutating func appendElements(of role: KafkaRole, scope: Scope, facts: borrowing KafkaFacts,
                                         holdsTopics: Bool) {
        var element = scope
        element.echoed = true
        switch role {
        case .topics:
            for (index, topic) in facts.topics.enumerated() where topic.group == scope.group && topic.resource < 0 {
                element.topic = index
                scopes.append(element)
            }
        case .partitions:
            guard scope.topic >= 0 else { break }
            for position in facts.topics[scope.topic].partitions {
                element.partition = position
                scopes.append(element)
            }
        case .groups:
            for index in facts.groups.indices {
                element.group = Int32(index)
                scopes.append(element)
            }
        case .resources:
            for index in facts.resources.indices {
                element.resource = Int32(index)
                scopes.append(element)
            }
        case .items:
            for index in facts.items.indices {
                element.item = Int32(index)
                scopes.append(element)
            }
        default:
            if holdsTopics && facts.topics.contains(where: { $0.group == scope.group && $0.resource < 0 }) {
                scopes.append(element)
            }
        }
    }

    private mutating func writeFixed(_ op: KafkaOp, scope: Scope, errorCode: Int16, facts: borrowing KafkaFacts) {
        if op.width == 16 {
            var id = KafkaUUID.zero
            if op.role == .topicID, scope.topic >= 0, let known = facts.topics[scope.topic].id { id = known }
            appendInteger(Int64(bitPattern: id.high), width: 8)
            appendInteger(Int64(bitPattern: id.low), width: 8)
            return
        }
        var value = op.defaultValue
        switch op.role {
        case .errorCode where scope.echoed:
            value = Int64(errorCode)
        case .partitionIndex where scope.partition >= 0:
            value = Int64(facts.partitions[Int(scope.partition)])
        case .resourceType where scope.resource >= 0:
            value = Int64(facts.resources[Int(scope.resource)].type)
        default:
            break
        }
        appendInteger(value, width: Int(op.width))
    }

    private mutating func writeString(_ op: KafkaOp, scope: Scope, facts: borrowing KafkaFacts,
                                      frame: UnsafeRawBufferPointer) {
        var echoed: KafkaRange?
        switch op.role {
        case .topicName where scope.topic >= 0:
            echoed = facts.topics[scope.topic].name
        case .groupID where scope.group >= 0:
            echoed = facts.groups[Int(scope.group)].id
        case .resourceName where scope.resource >= 0:
            echoed = facts.resources[Int(scope.resource)].name
        case .itemKey where scope.item >= 0:
            echoed = facts.items[Int(scope.item)]
        default:
            break
        }
        if let echoed, !echoed.isNull {
            appendString(echoed.bytes(in: frame), compact: op.compact)
        } else {
            appendLength(op.nullable ? -1 : 0, compact: op.compact, wide: false)
        }
    }

    private mutating func writeArray(_ op: KafkaOp, scope: Scope, facts: borrowing KafkaFacts,
                                     frame: UnsafeRawBufferPointer) {
        switch op.role {
        case .partitionIndex where scope.topic >= 0 && op.element == .fixed:
            let partitions = facts.topics[scope.topic].partitions
            appendLength(partitions.count, compact: op.compact, wide: true)
            for position in partitions { appendInteger(Int64(facts.partitions[Int(position)]), width: Int(op.width)) }
        case .topicName where op.element == .string:
            let echoed = { (topic: KafkaFacts.Topic) in topic.group == scope.group && topic.resource < 0 && !topic.name.isNull }
            var count = 0
            for topic in facts.topics where echoed(topic) { count += 1 }
            appendLength(count, compact: op.compact, wide: true)
            for topic in facts.topics where echoed(topic) { appendString(topic.name.bytes(in: frame), compact: op.compact) }
        case .items where op.element == .string:
            appendLength(facts.items.count, compact: op.compact, wide: true)
            for key in facts.items { appendString(key.bytes(in: frame), compact: op.compact) }
        default:
            appendLength(0, compact: op.compact, wide: true)
        }
    }

    private mutating func appendString(_ value: UnsafeRawBufferPointer, compact: Bool) {
        appendLength(value.count, compact: compact, wide: false)
        bytes.append(contentsOf: value)
    }

    /// A length or count; -1 writes null.
    private mutating func appendLength(_ length: Int, compact: Bool, wide: Bool) {
        if compact {
            appendUnsignedVarint(UInt32(truncatingIfNeeded: length + 1))
        } else {
            appendInteger(Int64(length), width: wide ? 4 : 2)
        }
    }

    private mutating func appendUnsignedVarint(_ value: UInt32) {
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(truncatingIfNeeded: rest))
    }

    private mutating func appendInteger(_ value: Int64, width: Int) {
        var shift = (width - 1) * 8
        while shift >= 0 {
            bytes.append(UInt8(truncatingIfNeeded: value >> Int64(shift)))
            shift -= 8
        }
    }
}
