/// Runs a compiled message program over a frame's body, framing every field and recording the ones with a
/// role into `KafkaFacts`. Every count is bounded by the bytes left in the frame, so a hostile count costs
/// no more than the frame's own length; nesting depth is the description's, never the input's.
struct KafkaWalker {
    /// Walks `program` from the reader's position; false when the bytes do not follow the program (too short,
    /// a negative length, a count larger than what remains, a malformed varint).
    static func walk(_ program: [KafkaOp], reader: inout KafkaReader, facts: inout KafkaFacts) -> Bool {
        program.withUnsafeBufferPointer { ops in
            walk(ops, from: 0, to: ops.count, reader: &reader, facts: &facts)
        }
    }

    private static func walk(_ ops: UnsafeBufferPointer<KafkaOp>, from start: Int, to end: Int,
                             reader: inout KafkaReader, facts: inout KafkaFacts) -> Bool {
        var index = start
        while index < end {
            let op = ops[index]
            switch op.kind {
            case .fixed:
                if op.role == .none {
                    guard reader.skip(Int(op.width)) else { return false }
                } else if op.width == 16 {
                    let offset = reader.position
                    guard let id = reader.readUUID() else { return false }
                    if op.role == .topicID { facts.record(topicID: id, at: offset) }
                } else {
                    let offset = reader.position
                    guard let value = readInteger(width: op.width, reader: &reader) else { return false }
                    facts.record(op.role, integer: value, at: offset)
                }
                index += 1
            case .string:
                guard let range = reader.readRange(compact: op.compact, wide: false) else { return false }
                if op.role != .none { facts.record(op.role, string: range) }
                index += 1
            case .bytes:
                guard reader.readRange(compact: op.compact, wide: true) != nil else { return false }
                index += 1
            case .array:
                guard readArray(op, reader: &reader, facts: &facts) else { return false }
                index += 1
            case .structs:
                let arrayStart = reader.position
                guard let count = reader.readLength(compact: op.compact, wide: true) else { return false }
                guard count <= reader.remaining else { return false }
                if count < 0 && op.role == .topics { facts.namesAllTopics = true }
                let bodyEnd = Int(op.end)
                if count > 0 {
                    for _ in 0..<count {
                        facts.enterElement(op.role)
                        guard walk(ops, from: index + 1, to: bodyEnd, reader: &reader, facts: &facts) else { return false }
                        facts.exitElement(op.role)
                    }
                }
                if op.role == .partitions { facts.recordPartitionsSpan(arrayStart..<reader.position) }
                index = bodyEnd
            case .structure:
                let bodyEnd = Int(op.end)
                var present = true
                if op.nullable {
                    guard let marker = reader.readUInt8() else { return false }
                    present = Int8(bitPattern: marker) >= 0
                }
                if present {
                    guard walk(ops, from: index + 1, to: bodyEnd, reader: &reader, facts: &facts) else { return false }
                }
                index = bodyEnd
            case .tagged:
                guard reader.skipTaggedFields() else { return false }
                index += 1
            }
        }
        return true
    }

    private static func readArray(_ op: KafkaOp, reader: inout KafkaReader, facts: inout KafkaFacts) -> Bool {
        guard let count = reader.readLength(compact: op.compact, wide: true) else { return false }
        if count < 0 && op.role == .topicName { facts.namesAllTopics = true }
        guard count > 0 else { return true }
        switch op.element {
        case .fixed:
            let width = Int(op.width)
            guard width > 0, count <= reader.remaining / width else { return false }
            if op.role == .none || width == 16 { return reader.skip(count * width) }
            for _ in 0..<count {
                guard let value = readInteger(width: op.width, reader: &reader) else { return false }
                facts.record(op.role, integer: value, at: -1)
            }
            return true
        case .string, .bytes:
            guard count <= reader.remaining else { return false }
            let isString = op.element == .string
            for _ in 0..<count {
                guard let range = reader.readRange(compact: op.compact, wide: !isString) else { return false }
                if isString && op.role != .none { facts.record(op.role, string: range) }
            }
            return true
        default:
            return false
        }
    }

    private static func readInteger(width: UInt8, reader: inout KafkaReader) -> Int64? {
        switch width {
        case 1:
            guard let byte = reader.readUInt8() else { return nil }
            return Int64(Int8(bitPattern: byte))
        case 2:
            guard let value = reader.readInt16() else { return nil }
            return Int64(value)
        case 4:
            guard let value = reader.readInt32() else { return nil }
            return Int64(value)
        default:
            guard let high = reader.readInt32(), let low = reader.readInt32() else { return nil }
            return Int64(high) << 32 | Int64(UInt32(bitPattern: low))
        }
    }
}
