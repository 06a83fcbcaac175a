extension KafkaAPI {
    /// DeleteRecords (21).
    static var deleteRecords: KafkaAPI { KafkaAPI(
        key: 21, name: "DeleteRecords", versions: 0...2, flexibleFrom: 2,
        request: [
            .structs("topics", role: .topics, [
                .string("name", role: .topicName),
                .structs("partitions", role: .partitions, [
                    .int32("partition_index", role: .partitionIndex),
                    .int64("offset"),
                ]),
            ]),
            .int32("timeout_ms"),
        ],
        response: [
            .int32("throttle_time_ms"),
            .structs("topics", role: .topics, [
                .string("name", role: .topicName),
                .structs("partitions", role: .partitions, [
                    .int32("partition_index", role: .partitionIndex),
                    .int64("low_watermark"),
                    .int16("error_code", role: .errorCode),
                ]),
            ]),
        ]) }
}
