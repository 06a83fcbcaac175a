extension KafkaAPI {
    /// UpdateFeatures (57).
    static var updateFeatures: KafkaAPI { KafkaAPI(
        key: 57, name: "UpdateFeatures", versions: 0...2, flexibleFrom: 0,
        request: [
            .int32("timeout_ms", default: 60000),
            .structs("feature_updates", 0..., [
                .string("feature"),
                .int16("max_version_level"),
                .bool("allow_downgrade", 0...0),
                .int8("upgrade_type", 1..., default: 1),
            ]),
            .bool("validate_only", 1...),
        ],
        response: [
            .int32("throttle_time_ms"),
            .int16("error_code", role: .errorCode),
            .string("error_message", nullable: 0...),
            .structs("results", 0...1, [
                .string("feature"),
                .int16("error_code", role: .errorCode),
                .string("error_message", nullable: 0...),
            ]),
        ]) }
}
