extension KafkaAPI {
    /// Metadata (3). A null topics array (v1+) or an empty one (v0) asks about every topic.
    static var metadata: KafkaAPI { KafkaAPI(
        key: 3, name: "Metadata", versions: 0...13, flexibleFrom: 9,
        request: [
            .structs("topics", role: .topics, nullable: 1..., [
                .uuid("topic_id", 10..., role: .topicID),
                .string("name", role: .topicName, nullable: 10...),
            ]),
            .bool("allow_auto_topic_creation", 4...),
            .bool("include_cluster_authorized_operations", 8...10),
            .bool("include_topic_authorized_operations", 8...),
        ],
        response: [
            .int32("throttle_time_ms", 3...),
            .structs("brokers", 0..., [
                .int32("node_id"),
                .string("host"),
                .int32("port"),
                .string("rack", 1..., nullable: 1...),
            ]),
            .string("cluster_id", 2..., nullable: 2...),
            .int32("controller_id", 1..., default: -1),
            .structs("topics", role: .topics, [
                .int16("error_code", role: .errorCode),
                .string("name", role: .topicName, nullable: 12...),
                .uuid("topic_id", 10..., role: .topicID),
                .bool("is_internal", 1...),
                .structs("partitions", role: .partitions, [
                    .int16("error_code", role: .errorCode),
                    .int32("partition_index", role: .partitionIndex),
                    .int32("leader_id"),
                    .int32("leader_epoch", 7..., default: -1),
                    .array("replica_nodes", of: .int32),
                    .array("isr_nodes", of: .int32),
                    .array("offline_replicas", of: .int32, 5...),
                ]),
                .int32("topic_authorized_operations", 8..., default: -2147483648),
            ]),
            .int32("cluster_authorized_operations", 8...10, default: -2147483648),
            .int16("error_code", 13..., role: .errorCode),
        ]) }
}
