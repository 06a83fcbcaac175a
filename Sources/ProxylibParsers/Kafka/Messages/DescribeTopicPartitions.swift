extension KafkaAPI {
    /// DescribeTopicPartitions (75). The cursor (where to resume) names a topic and partition too; it is left
    /// unmarked, the topics array names the same topics.
    static var describeTopicPartitions: KafkaAPI { KafkaAPI(
        key: 75, name: "DescribeTopicPartitions", versions: 0...0, flexibleFrom: 0,
        request: [
            .structs("topics", role: .topics, [
                .string("name", role: .topicName),
            ]),
            .int32("response_partition_limit", default: 2000),
            .structure("cursor", nullable: 0..., [
                .string("topic_name"),
                .int32("partition_index"),
            ]),
        ],
        response: [
            .int32("throttle_time_ms"),
            .structs("topics", role: .topics, [
                .int16("error_code", role: .errorCode),
                .string("name", role: .topicName, nullable: 0...),
                .uuid("topic_id", role: .topicID),
                .bool("is_internal"),
                .structs("partitions", role: .partitions, [
                    .int16("error_code", role: .errorCode),
                    .int32("partition_index", role: .partitionIndex),
                    .int32("leader_id"),
                    .int32("leader_epoch", default: -1),
                    .array("replica_nodes", of: .int32),
                    .array("isr_nodes", of: .int32),
                    .array("eligible_leader_replicas", of: .int32, nullable: 0...),
                    .array("last_known_elr", of: .int32, nullable: 0...),
                    .array("offline_replicas", of: .int32),
                ]),
                .int32("topic_authorized_operations", default: -2147483648),
            ]),
            .structure("next_cursor", nullable: 0..., [
                .string("topic_name"),
                .int32("partition_index"),
            ]),
        ]) }
}
