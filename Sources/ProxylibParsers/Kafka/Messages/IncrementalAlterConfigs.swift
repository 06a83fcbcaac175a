extension KafkaAPI {
    /// IncrementalAlterConfigs (44). Resources of type 2 are topics.
    static var incrementalAlterConfigs: KafkaAPI { KafkaAPI(
        key: 44, name: "IncrementalAlterConfigs", versions: 0...1, flexibleFrom: 1,
        request: [
            .structs("resources", role: .resources, [
                .int8("resource_type", role: .resourceType),
                .string("resource_name", role: .resourceName),
                .structs("configs", 0..., [
                    .string("name"),
                    .int8("config_operation"),
                    .string("value", nullable: 0...),
                ]),
            ]),
            .bool("validate_only"),
        ],
        response: [
            .int32("throttle_time_ms"),
            .structs("responses", role: .resources, [
                .int16("error_code", role: .errorCode),
                .string("error_message", nullable: 0...),
                .int8("resource_type", role: .resourceType),
                .string("resource_name", role: .resourceName),
            ]),
        ]) }
}
