/// What a walk over a request (or a Metadata response) found: its topics with their partitions, the groups
/// and config resources they sit in, and Produce's acks. Reused by a connection for every frame (cleared,
/// capacity kept), so recording allocates nothing once warm.
struct KafkaFacts {
    struct Topic {
        /// The name's extent in the frame; null when the topic is named by id only.
        var name: KafkaRange = .null
        var id: KafkaUUID?
        var partitions: Range<Int32> = 0..<0
        /// Index into `groups`, or -1.
        var group: Int32 = -1
        /// Index into `resources`, or -1.
        var resource: Int32 = -1
        /// Where, in a response, the topic's own error code, its id and its partitions array lie (-1, empty:
        /// absent), so that a Metadata response can be masked in a copy.
        var errorCodeOffset: Int32 = -1
        var idOffset: Int32 = -1
        var partitionsSpan: Range<Int32> = 0..<0
    }

    struct Group {
        var id: KafkaRange = .null
    }

    struct Resource {
        var type: Int8 = 0
        var name: KafkaRange = .null
    }

    static let topicResourceType: Int8 = 2

    var topics: [Topic] = []
    var partitions: [Int32] = []
    var groups: [Group] = []
    var resources: [Resource] = []
    /// The keys of the request's items (null where an item has none).
    var items: [KafkaRange] = []
    var acks: Int16 = -1
    /// A topic list was null: the request is about every topic (Metadata, OffsetFetch, DescribeLogDirs, …).
    var namesAllTopics = false

    /// The topic being read (inside an element of a `topics` array).
    private var openTopic: Int?
    private var openGroup: Int32 = -1
    private var openResource: Int32 = -1

    mutating func reset() {
        topics.clearKeepingCapacity()
        partitions.clearKeepingCapacity()
        groups.clearKeepingCapacity()
        resources.clearKeepingCapacity()
        items.clearKeepingCapacity()
        acks = -1
        namesAllTopics = false
        openTopic = nil
        openGroup = -1
        openResource = -1
    }

    mutating func enterElement(_ role: KafkaRole) {
        switch role {
        case .topics:
            openTopic = topics.count
            let start = Int32(partitions.count)
            topics.append(Topic(partitions: start..<start, group: openGroup, resource: openResource))
        case .groups:
            openGroup = Int32(groups.count)
            groups.append(Group())
        case .resources:
            openResource = Int32(resources.count)
            resources.append(Resource())
        case .items:
            items.append(.null)
        default:
            break
        }
    }

    mutating func exitElement(_ role: KafkaRole) {
        switch role {
        case .topics:
            if let index = openTopic {
                topics[index].partitions = topics[index].partitions.lowerBound..<Int32(partitions.count)
            }
            openTopic = nil
        case .groups:
            openGroup = -1
        case .resources:
            if let last = resources.last, last.type == Self.topicResourceType {
                topics.append(Topic(name: last.name, group: openGroup, resource: openResource))
            }
            openResource = -1
        default:
            break
        }
    }

    mutating func record(_ role: KafkaRole, string range: KafkaRange) {
        switch role {
        case .topicName:
            if let index = openTopic {
                topics[index].name = range
            } else {
                topics.append(Topic(name: range, group: openGroup, resource: openResource))
            }
        case .groupID:
            if openGroup >= 0 { groups[Int(openGroup)].id = range }
        case .resourceName:
            if openResource >= 0 { resources[Int(openResource)].name = range }
        case .items:
            items.append(range)
        case .itemKey:
            if !items.isEmpty { items[items.count - 1] = range }
        default:
            break
        }
    }

    mutating func record(_ role: KafkaRole, integer value: Int64, at offset: Int) {
        switch role {
        case .errorCode:
            // The first error code inside a topic element is the topic's own (its partitions' follow).
            if let index = openTopic, topics[index].errorCodeOffset < 0, topics[index].partitions.isEmpty,
               partitions.count == Int(topics[index].partitions.lowerBound) {
                topics[index].errorCodeOffset = Int32(truncatingIfNeeded: offset)
            }
        case .partitionIndex:
            partitions.append(Int32(truncatingIfNeeded: value))
        case .resourceType:
            if openResource >= 0 { resources[Int(openResource)].type = Int8(truncatingIfNeeded: value) }
        case .acks:
            acks = Int16(truncatingIfNeeded: value)
        default:
            break
        }
    }

    mutating func recordPartitionsSpan(_ span: Range<Int>) {
        if let index = openTopic {
            topics[index].partitionsSpan = Int32(truncatingIfNeeded: span.lowerBound)..<Int32(truncatingIfNeeded: span.upperBound)
        }
    }

    mutating func record(topicID: KafkaUUID, at offset: Int) {
        if let index = openTopic {
            topics[index].id = topicID
            topics[index].idOffset = Int32(truncatingIfNeeded: offset)
        } else {
            topics.append(Topic(id: topicID, group: openGroup, resource: openResource))
        }
    }
}
