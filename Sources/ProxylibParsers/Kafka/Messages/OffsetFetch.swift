extension KafkaAPI {
    /// OffsetFetch (9). Versions 0-7 fetch one group's offsets; from v8 a request names several groups, each with its
    /// own topics (null: all of them).
    static var offsetFetch: KafkaAPI { KafkaAPI(
        key: 9, name: "OffsetFetch", versions: 0...10, flexibleFrom: 6,
        request: [
            .string("group_id", 0...7),
            .structs("topics", 0...7, role: .topics, nullable: 2...7, [
                .string("name", 0...7, role: .topicName),
                .array("partition_indexes", of: .int32, 0...7, role: .partitionIndex),
            ]),
            .structs("groups", 8..., role: .groups, [
                .string("group_id", 8..., role: .groupID),
                .string("member_id", 9..., nullable: 9...),
                .int32("member_epoch", 9..., default: -1),
                .structs("topics", 8..., role: .topics, nullable: 8..., [
                    .string("name", 8...9, role: .topicName),
                    .uuid("topic_id", 10..., role: .topicID),
                    .array("partition_indexes", of: .int32, 8..., role: .partitionIndex),
                ]),
            ]),
            .bool("require_stable", 7...),
        ],
        response: [
            .int32("throttle_time_ms", 3...),
            .structs("topics", 0...7, role: .topics, [
                .string("name", 0...7, role: .topicName),
                .structs("partitions", 0...7, role: .partitions, [
                    .int32("partition_index", 0...7, role: .partitionIndex),
                    .int64("committed_offset", 0...7),
                    .int32("committed_leader_epoch", 5...7, default: -1),
                    .string("metadata", 0...7, nullable: 0...7),
                    .int16("error_code", 0...7, role: .errorCode),
                ]),
            ]),
            .int16("error_code", 2...7, role: .errorCode),
            .structs("groups", 8..., role: .groups, [
                .string("group_id", 8..., role: .groupID),
                .structs("topics", 8..., role: .topics, [
                    .string("name", 8...9, role: .topicName),
                    .uuid("topic_id", 10..., role: .topicID),
                    .structs("partitions", 8..., role: .partitions, [
                        .int32("partition_index", 8..., role: .partitionIndex),
                        .int64("committed_offset", 8...),
                        .int32("committed_leader_epoch", 8..., default: -1),
                        .string("metadata", 8..., nullable: 8...),
                        .int16("error_code", 8..., role: .errorCode),
                    ]),
                ]),
                .int16("error_code", 8..., role: .errorCode),
            ]),
        ]) }
}
