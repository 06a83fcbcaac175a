extension KafkaAPI {
    /// RenewDelegationToken (39).
    static var renewDelegationToken: KafkaAPI { KafkaAPI(
        key: 39, name: "RenewDelegationToken", versions: 0...2, flexibleFrom: 2,
        request: [
            .bytes("hmac"),
            .int64("renew_period_ms"),
        ],
        response: [
            .int16("error_code", role: .errorCode),
            .int64("expiry_timestamp_ms"),
            .int32("throttle_time_ms"),
        ]) }
}
