extension KafkaAPI {
    /// AlterConfigs (33). Resources of type 2 are topics.
    static var alterConfigs: KafkaAPI { KafkaAPI(
        key: 33, name: "AlterConfigs", versions: 0...2, flexibleFrom: 2,
        request: [
            .structs("resources", role: .resources, [
                .int8("resource_type", role: .resourceType),
                .string("resource_name", role: .resourceName),
                .structs("configs", 0..., [
                    .string("name"),
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
