extension KafkaAPI {
    /// OffsetCommit (8). Topics by id from v10. commit_timestamp existed in v1 only (removed from the JSON in Kafka
    /// 4.0).
    static var offsetCommit: KafkaAPI { KafkaAPI(
        key: 8, name: "OffsetCommit", versions: 0...10, flexibleFrom: 8,
        request: [
            .string("group_id"),
            .int32("generation_id_or_member_epoch", 1..., default: -1),
            .string("member_id", 1...),
            .string("group_instance_id", 7..., nullable: 7...),
            .int64("retention_time_ms", 2...4, default: -1),
            .structs("topics", role: .topics, [
                .string("name", 0...9, role: .topicName),
                .uuid("topic_id", 10..., role: .topicID),
                .structs("partitions", role: .partitions, [
                    .int32("partition_index", role: .partitionIndex),
                    .int64("committed_offset"),
                    .int32("committed_leader_epoch", 6..., default: -1),
                    .int64("commit_timestamp", 1...1, default: -1),  // gone from the JSON since Kafka 4.0
                    .string("committed_metadata", nullable: 0...),
                ]),
            ]),
        ],
        response: [
            .int32("throttle_time_ms", 3...),
            .structs("topics", role: .topics, [
                .string("name", 0...9, role: .topicName),
                .uuid("topic_id", 10..., role: .topicID),
                .structs("partitions", role: .partitions, [
                    .int32("partition_index", role: .partitionIndex),
                    .int16("error_code", role: .errorCode),
                ]),
            ]),
        ]) }
}
