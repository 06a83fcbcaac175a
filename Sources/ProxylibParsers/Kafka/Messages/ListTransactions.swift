extension KafkaAPI {
    /// ListTransactions (66).
    static var listTransactions: KafkaAPI { KafkaAPI(
        key: 66, name: "ListTransactions", versions: 0...2, flexibleFrom: 0,
        request: [
            .array("state_filters", of: .string),
            .array("producer_id_filters", of: .int64),
            .int64("duration_filter", 1..., default: -1),
            .string("transactional_id_pattern", 2..., nullable: 2...),
        ],
        response: [
            .int32("throttle_time_ms"),
            .int16("error_code", role: .errorCode),
            .array("unknown_state_filters", of: .string),
            .structs("transaction_states", 0..., [
                .string("transactional_id"),
                .int64("producer_id"),
                .string("transaction_state"),
            ]),
        ]) }
}
