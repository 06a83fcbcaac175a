extension KafkaAPI {
    /// DescribeClientQuotas (48).
    static var describeClientQuotas: KafkaAPI { KafkaAPI(
        key: 48, name: "DescribeClientQuotas", versions: 0...1, flexibleFrom: 1,
        request: [
            .structs("components", 0..., [
                .string("entity_type"),
                .int8("match_type"),
                .string("match", nullable: 0...),
            ]),
            .bool("strict"),
        ],
        response: [
            .int32("throttle_time_ms"),
            .int16("error_code", role: .errorCode),
            .string("error_message", nullable: 0...),
            .structs("entries", nullable: 0..., [
                .structs("entity", 0..., [
                    .string("entity_type"),
                    .string("entity_name", nullable: 0...),
                ]),
                .structs("values", 0..., [
                    .string("key"),
                    .float64("value"),
                ]),
            ]),
        ]) }
}
