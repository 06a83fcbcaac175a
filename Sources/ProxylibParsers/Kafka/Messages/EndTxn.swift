extension KafkaAPI {
    /// EndTxn (26).
    static var endTxn: KafkaAPI { KafkaAPI(
        key: 26, name: "EndTxn", versions: 0...5, flexibleFrom: 3,
        request: [
            .string("transactional_id"),
            .int64("producer_id"),
            .int16("producer_epoch"),
            .bool("committed"),
        ],
        response: [
            .int32("throttle_time_ms"),
            .int16("error_code", role: .errorCode),
            .int64("producer_id", 5..., default: -1),
            .int16("producer_epoch", 5..., default: -1),
        ]) }
}
