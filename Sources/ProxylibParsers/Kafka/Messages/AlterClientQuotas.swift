extension KafkaAPI {
    /// AlterClientQuotas (49).
    static var alterClientQuotas: KafkaAPI { KafkaAPI(
        key: 49, name: "AlterClientQuotas", versions: 0...1, flexibleFrom: 1,
        request: [
            .structs("entries", role: .items, [
                .structs("entity", 0..., [
                    .string("entity_type"),
                    .string("entity_name", nullable: 0...),
                ]),
                .structs("ops", 0..., [
                    .string("key"),
                    .float64("value"),
                    .bool("remove"),
                ]),
            ]),
            .bool("validate_only"),
        ],
        response: [
            .int32("throttle_time_ms"),
            .structs("entries", role: .items, [
                .int16("error_code", role: .errorCode),
                .string("error_message", nullable: 0...),
                .structs("entity", 0..., [
                    .string("entity_type"),
                    .string("entity_name", nullable: 0...),
                ]),
            ]),
        ]) }
}
