extension KafkaAPI {
    /// DescribeProducers (61).
    static var describeProducers: KafkaAPI { KafkaAPI(
        key: 61, name: "DescribeProducers", versions: 0...0, flexibleFrom: 0,
        request: [
            .structs("topics", role: .topics, [
                .string("name", role: .topicName),
                .array("partition_indexes", of: .int32, role: .partitionIndex),
            ]),
        ],
        response: [
            .int32("throttle_time_ms"),
            .structs("topics", role: .topics, [
                .string("name", role: .topicName),
                .structs("partitions", role: .partitions, [
                    .int32("partition_index", role: .partitionIndex),
                    .int16("error_code", role: .errorCode),
                    .string("error_message", nullable: 0...),
                    .structs("active_producers", 0..., [
                        .int64("producer_id"),
                        .int32("producer_epoch"),
                        .int32("last_sequence", default: -1),
                        .int64("last_timestamp", default: -1),
                        .int32("coordinator_epoch"),
                        .int64("current_txn_start_offset", default: -1),
                    ]),
                ]),
            ]),
        ]) }
}
