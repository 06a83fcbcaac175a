extension KafkaAPI {
    /// PushTelemetry (72). KIP-714.
    static var pushTelemetry: KafkaAPI { KafkaAPI(
        key: 72, name: "PushTelemetry", versions: 0...0, flexibleFrom: 0,
        request: [
            .uuid("client_instance_id"),
            .int32("subscription_id"),
            .bool("terminating"),
            .int8("compression_type"),
            .bytes("metrics"),
        ],
        response: [
            .int32("throttle_time_ms"),
            .int16("error_code", role: .errorCode),
        ]) }
}
