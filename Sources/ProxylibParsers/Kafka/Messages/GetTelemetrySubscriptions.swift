extension KafkaAPI {
    /// GetTelemetrySubscriptions (71). KIP-714.
    static var getTelemetrySubscriptions: KafkaAPI { KafkaAPI(
        key: 71, name: "GetTelemetrySubscriptions", versions: 0...0, flexibleFrom: 0,
        request: [
            .uuid("client_instance_id"),
        ],
        response: [
            .int32("throttle_time_ms"),
            .int16("error_code", role: .errorCode),
            .uuid("client_instance_id"),
            .int32("subscription_id"),
            .array("accepted_compression_types", of: .int8),
            .int32("push_interval_ms"),
            .int32("telemetry_max_bytes"),
            .bool("delta_temporality"),
            .array("requested_metrics", of: .string),
        ]) }
}
