extension KafkaAPI {
    /// TxnOffsetCommit (28). Topics by id from v6. The v3+ generation field was renamed (generation or member epoch);
    /// the wire is unchanged.
    static var txnOffsetCommit: KafkaAPI { KafkaAPI(
        key: 28, name: "TxnOffsetCommit", versions: 0...5, flexibleFrom: 3,
        request: [
            .string("transactional_id"),
            .string("group_id"),
            .int64("producer_id"),
            .int16("producer_epoch"),
            .int32("generation_id_or_member_epoch", 3..., default: -1),
            .string("member_id", 3...),
            .string("group_instance_id", 3..., nullable: 3...),
            .structs("topics", role: .topics, [
                .string("name", 0...5, role: .topicName),
                .uuid("topic_id", 6..., role: .topicID),
                .structs("partitions", role: .partitions, [
                    .int32("partition_index", role: .partitionIndex),
                    .int64("committed_offset"),
                    .int32("committed_leader_epoch", 2..., default: -1),
                    .string("committed_metadata", nullable: 0...),
                ]),
            ]),
        ],
        response: [
            .int32("throttle_time_ms"),
            .structs("topics", role: .topics, [
                .string("name", 0...5, role: .topicName),
                .uuid("topic_id", 6..., role: .topicID),
                .structs("partitions", role: .partitions, [
                    .int32("partition_index", role: .partitionIndex),
                    .int16("error_code", role: .errorCode),
                ]),
            ]),
        ]) }
}
