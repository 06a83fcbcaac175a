extension KafkaAPI {
    /// ExpireDelegationToken (40).
    static var expireDelegationToken: KafkaAPI { KafkaAPI(
        key: 40, name: "ExpireDelegationToken", versions: 0...2, flexibleFrom: 2,
        request: [
            .bytes("hmac"),
            .int64("expiry_time_period_ms"),
        ],
        response: [
            .int16("error_code", role: .errorCode),
            .int64("expiry_timestamp_ms"),
            .int32("throttle_time_ms"),
        ]) }
}
