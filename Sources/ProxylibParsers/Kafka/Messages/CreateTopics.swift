extension KafkaAPI {
    /// CreateTopics (19). The manual replica assignments of a new topic are not marked as partitions: they name
    /// partitions that do not exist yet, and the response has no per-partition part.
    static var createTopics: KafkaAPI { KafkaAPI(
        key: 19, name: "CreateTopics", versions: 0...7, flexibleFrom: 5,
        request: [
            .structs("topics", role: .topics, [
                .string("name", role: .topicName),
                .int32("num_partitions"),
                .int16("replication_factor"),
                .structs("assignments", 0..., [
                    .int32("partition_index"),
                    .array("broker_ids", of: .int32),
                ]),
                .structs("configs", 0..., [
                    .string("name"),
                    .string("value", nullable: 0...),
                ]),
            ]),
            .int32("timeout_ms", default: 60000),
            .bool("validate_only", 1...),
        ],
        response: [
            .int32("throttle_time_ms", 2...),
            .structs("topics", role: .topics, [
                .string("name", role: .topicName),
                .uuid("topic_id", 7..., role: .topicID),
                .int16("error_code", role: .errorCode),
                .string("error_message", 1..., nullable: 0...),
                .int32("num_partitions", 5..., default: -1),
                .int16("replication_factor", 5..., default: -1),
                .structs("configs", 5..., nullable: 5..., [
                    .string("name", 5...),
                    .string("value", 5..., nullable: 5...),
                    .bool("read_only", 5...),
                    .int8("config_source", 5..., default: -1),
                    .bool("is_sensitive", 5...),
                ]),
            ]),
        ]) }
}
