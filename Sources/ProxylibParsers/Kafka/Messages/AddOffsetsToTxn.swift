extension KafkaAPI {
    /// AddOffsetsToTxn (25).
    static var addOffsetsToTxn: KafkaAPI { KafkaAPI(
        key: 25, name: "AddOffsetsToTxn", versions: 0...4, flexibleFrom: 3,
        request: [
            .string("transactional_id"),
            .int64("producer_id"),
            .int16("producer_epoch"),
            .string("group_id"),
        ],
        response: [
            .int32("throttle_time_ms"),
            .int16("error_code", role: .errorCode),
        ]) }
}
