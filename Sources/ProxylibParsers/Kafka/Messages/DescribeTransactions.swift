extension KafkaAPI {
    /// DescribeTransactions (65). The response lists each transaction's topics under its state; they carry no role.
    static var describeTransactions: KafkaAPI { KafkaAPI(
        key: 65, name: "DescribeTransactions", versions: 0...0, flexibleFrom: 0,
        request: [
            .array("transactional_ids", of: .string, role: .items),
        ],
        response: [
            .int32("throttle_time_ms"),
            .structs("transaction_states", role: .items, [
                .int16("error_code", role: .errorCode),
                .string("transactional_id", role: .itemKey),
                .string("transaction_state"),
                .int32("transaction_timeout_ms"),
                .int64("transaction_start_time_ms"),
                .int64("producer_id"),
                .int16("producer_epoch"),
                .structs("topics", 0..., [
                    .string("topic"),
                    .array("partitions", of: .int32),
                ]),
            ]),
        ]) }
}
