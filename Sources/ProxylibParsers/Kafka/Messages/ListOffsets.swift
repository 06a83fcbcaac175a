extension KafkaAPI {
    /// ListOffsets (2). Version 0 asks for a list of offsets per partition (max_num_offsets) and gets them back as
    /// one array; both fields left Kafka's JSON in 4.0.
    static var listOffsets: KafkaAPI { KafkaAPI(
        key: 2, name: "ListOffsets", versions: 0...11, flexibleFrom: 6,
        request: [
            .int32("replica_id"),
            .int8("isolation_level", 2...),
            .structs("topics", role: .topics, [
                .string("name", role: .topicName),
                .structs("partitions", role: .partitions, [
                    .int32("partition_index", role: .partitionIndex),
                    .int32("current_leader_epoch", 4..., default: -1),
                    .int64("timestamp"),
                    .int32("max_num_offsets", 0...0, default: 1),  // gone from the JSON since Kafka 4.0
                ]),
            ]),
            .int32("timeout_ms", 10...),
        ],
        response: [
            .int32("throttle_time_ms", 2...),
            .structs("topics", role: .topics, [
                .string("name", role: .topicName),
                .structs("partitions", role: .partitions, [
                    .int32("partition_index", role: .partitionIndex),
                    .int16("error_code", role: .errorCode),
                    .array("old_style_offsets", of: .int64, 0...0),  // gone from the JSON since Kafka 4.0
                    .int64("timestamp", 1..., default: -1),
                    .int64("offset", 1..., default: -1),
                    .int32("leader_epoch", 4..., default: -1),
                ]),
            ]),
        ]) }
}
