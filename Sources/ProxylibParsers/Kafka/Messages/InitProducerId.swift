extension KafkaAPI {
    /// InitProducerId (22). Version 6 (two-phase commit, KIP-939) is still marked unstable in Kafka's JSON.
    static var initProducerId: KafkaAPI { KafkaAPI(
        key: 22, name: "InitProducerId", versions: 0...6, flexibleFrom: 2,
        request: [
            .string("transactional_id", nullable: 0...),
            .int32("transaction_timeout_ms"),
            .int64("producer_id", 3..., default: -1),
            .int16("producer_epoch", 3..., default: -1),
            .bool("enable_2pc", 6...),
            .bool("keep_prepared_txn", 6...),
        ],
        response: [
            .int32("throttle_time_ms"),
            .int16("error_code", role: .errorCode),
            .int64("producer_id", default: -1),
            .int16("producer_epoch"),
            .int64("ongoing_txn_producer_id", 6..., default: -1),
            .int16("ongoing_txn_producer_epoch", 6..., default: -1),
        ]) }
}
