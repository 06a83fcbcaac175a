extension KafkaAPI {
    /// Fetch (1). Topics by name up to v12, by id from v13. The forgotten topics of an incremental fetch session only
    /// drop state, so they carry no role.
    static var fetch: KafkaAPI { KafkaAPI(
        key: 1, name: "Fetch", versions: 0...18, flexibleFrom: 12,
        request: [
            .int32("replica_id", 0...14, default: -1),
            .int32("max_wait_ms"),
            .int32("min_bytes"),
            .int32("max_bytes", 3..., default: 2147483647),
            .int8("isolation_level", 4...),
            .int32("session_id", 7...),
            .int32("session_epoch", 7..., default: -1),
            .structs("topics", role: .topics, [
                .string("topic", 0...12, role: .topicName),
                .uuid("topic_id", 13..., role: .topicID),
                .structs("partitions", role: .partitions, [
                    .int32("partition", role: .partitionIndex),
                    .int32("current_leader_epoch", 9..., default: -1),
                    .int64("fetch_offset"),
                    .int32("last_fetched_epoch", 12..., default: -1),
                    .int64("log_start_offset", 5..., default: -1),
                    .int32("partition_max_bytes"),
                ]),
            ]),
            .structs("forgotten_topics_data", 7..., [
                .string("topic", 7...12),
                .uuid("topic_id", 13...),
                .array("partitions", of: .int32, 7...),
            ]),
            .string("rack_id", 11...),
        ],
        response: [
            .int32("throttle_time_ms", 1...),
            .int16("error_code", 7..., role: .errorCode),
            .int32("session_id", 7...),
            .structs("responses", role: .topics, [
                .string("topic", 0...12, role: .topicName),
                .uuid("topic_id", 13..., role: .topicID),
                .structs("partitions", role: .partitions, [
                    .int32("partition_index", role: .partitionIndex),
                    .int16("error_code", role: .errorCode),
                    .int64("high_watermark"),
                    .int64("last_stable_offset", 4..., default: -1),
                    .int64("log_start_offset", 5..., default: -1),
                    .structs("aborted_transactions", 4..., nullable: 4..., [
                        .int64("producer_id", 4...),
                        .int64("first_offset", 4...),
                    ]),
                    .int32("preferred_read_replica", 11..., default: -1),
                    .records("records"),
                ]),
            ]),
        ]) }
}
