extension KafkaAPI {
    /// AddPartitionsToTxn (24). Versions 0-3 carry one transaction's topics at the top level; from v4 (broker to
    /// broker) a request carries several transactions, each with its topics. The transactions array has no role of
    /// its own; its topics arrays are marked. The per-partition error field is named partition_error_code here and is
    /// marked as the error code.
    static var addPartitionsToTxn: KafkaAPI { KafkaAPI(
        key: 24, name: "AddPartitionsToTxn", versions: 0...5, flexibleFrom: 3,
        request: [
            .structs("transactions", 4..., [
                .string("transactional_id", 4...),
                .int64("producer_id", 4...),
                .int16("producer_epoch", 4...),
                .bool("verify_only", 4...),
                .structs("topics", 4..., role: .topics, [
                    .string("name", role: .topicName),
                    .array("partitions", of: .int32, role: .partitionIndex),
                ]),
            ]),
            .string("v3_and_below_transactional_id", 0...3),
            .int64("v3_and_below_producer_id", 0...3),
            .int16("v3_and_below_producer_epoch", 0...3),
            .structs("v3_and_below_topics", 0...3, role: .topics, [
                .string("name", role: .topicName),
                .array("partitions", of: .int32, role: .partitionIndex),
            ]),
        ],
        response: [
            .int32("throttle_time_ms"),
            .int16("error_code", 4..., role: .errorCode),
            .structs("results_by_transaction", 4..., [
                .string("transactional_id", 4...),
                .structs("topic_results", 4..., role: .topics, [
                    .string("name", role: .topicName),
                    .structs("results_by_partition", role: .partitions, [
                        .int32("partition_index", role: .partitionIndex),
                        .int16("partition_error_code", role: .errorCode),
                    ]),
                ]),
            ]),
            .structs("results_by_topic_v3_and_below", 0...3, role: .topics, [
                .string("name", role: .topicName),
                .structs("results_by_partition", role: .partitions, [
                    .int32("partition_index", role: .partitionIndex),
                    .int16("partition_error_code", role: .errorCode),
                ]),
            ]),
        ]) }
}
