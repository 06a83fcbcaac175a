extension KafkaAPI {
    /// DescribeLogDirs (35). A null topics array asks about every topic. The response groups topics under log
    /// directories (the results array has no role).
    static var describeLogDirs: KafkaAPI { KafkaAPI(
        key: 35, name: "DescribeLogDirs", versions: 0...5, flexibleFrom: 2,
        request: [
            .structs("topics", role: .topics, nullable: 0..., [
                .string("topic", role: .topicName),
                .array("partitions", of: .int32, role: .partitionIndex),
            ]),
        ],
        response: [
            .int32("throttle_time_ms"),
            .int16("error_code", 3..., role: .errorCode),
            .structs("results", 0..., [
                .int16("error_code", role: .errorCode),
                .string("log_dir"),
                .structs("topics", role: .topics, [
                    .string("name", role: .topicName),
                    .structs("partitions", role: .partitions, [
                        .int32("partition_index", role: .partitionIndex),
                        .int64("partition_size"),
                        .int64("offset_lag"),
                        .bool("is_future_key"),
                    ]),
                ]),
                .int64("total_bytes", 4..., default: -1),
                .int64("usable_bytes", 4..., default: -1),
                .bool("is_cordoned", 5...),
            ]),
        ]) }
}
