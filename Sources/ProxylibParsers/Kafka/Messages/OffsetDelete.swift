extension KafkaAPI {
    /// OffsetDelete (47).
    static var offsetDelete: KafkaAPI { KafkaAPI(
        key: 47, name: "OffsetDelete", versions: 0...0, flexibleFrom: nil,
        request: [
            .string("group_id"),
            .structs("topics", role: .topics, [
                .string("name", role: .topicName),
                .structs("partitions", role: .partitions, [
                    .int32("partition_index", role: .partitionIndex),
                ]),
            ]),
        ],
        response: [
            .int16("error_code", role: .errorCode),
            .int32("throttle_time_ms"),
            .structs("topics", role: .topics, [
                .string("name", role: .topicName),
                .structs("partitions", role: .partitions, [
                    .int32("partition_index", role: .partitionIndex),
                    .int16("error_code", role: .errorCode),
                ]),
            ]),
        ]) }
}
