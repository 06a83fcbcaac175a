extension KafkaAPI {
    /// Produce (0). Version 13 names topics by id only (KIP-516); acks 0 gets no response at all.
    static var produce: KafkaAPI { KafkaAPI(
        key: 0, name: "Produce", versions: 0...13, flexibleFrom: 9,
        request: [
            .string("transactional_id", 3..., nullable: 3...),
            .int16("acks", role: .acks),
            .int32("timeout_ms"),
            .structs("topic_data", role: .topics, [
                .string("name", 0...12, role: .topicName),
                .uuid("topic_id", 13..., role: .topicID),
                .structs("partition_data", role: .partitions, [
                    .int32("index", role: .partitionIndex),
                    .records("records"),
                ]),
            ]),
        ],
        response: [
            .structs("responses", role: .topics, [
                .string("name", 0...12, role: .topicName),
                .uuid("topic_id", 13..., role: .topicID),
                .structs("partition_responses", role: .partitions, [
                    .int32("index", role: .partitionIndex),
                    .int16("error_code", role: .errorCode),
                    .int64("base_offset", default: -1),
                    .int64("log_append_time_ms", 2..., default: -1),
                    .int64("log_start_offset", 5..., default: -1),
                    .structs("record_errors", 8..., [
                        .int32("batch_index"),
                        .string("batch_index_error_message", nullable: 8...),
                    ]),
                    .string("error_message", 8..., nullable: 8...),
                ]),
            ]),
            .int32("throttle_time_ms", 1...),
        ]) }
}
