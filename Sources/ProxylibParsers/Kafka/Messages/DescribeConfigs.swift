extension KafkaAPI {
    /// DescribeConfigs (32). Resources of type 2 are topics. is_default existed in v0 only (removed from the JSON in
    /// Kafka 4.0).
    static var describeConfigs: KafkaAPI { KafkaAPI(
        key: 32, name: "DescribeConfigs", versions: 0...4, flexibleFrom: 4,
        request: [
            .structs("resources", role: .resources, [
                .int8("resource_type", role: .resourceType),
                .string("resource_name", role: .resourceName),
                .array("configuration_keys", of: .string, nullable: 0...),
            ]),
            .bool("include_synonyms", 1...),
            .bool("include_documentation", 3...),
        ],
        response: [
            .int32("throttle_time_ms"),
            .structs("results", role: .resources, [
                .int16("error_code", role: .errorCode),
                .string("error_message", nullable: 0...),
                .int8("resource_type", role: .resourceType),
                .string("resource_name", role: .resourceName),
                .structs("configs", 0..., [
                    .string("name"),
                    .string("value", nullable: 0...),
                    .bool("read_only"),
                    .bool("is_default", 0...0),  // gone from the JSON since Kafka 4.0
                    .int8("config_source", 1..., default: -1),
                    .bool("is_sensitive"),
                    .structs("synonyms", 1..., [
                        .string("name", 1...),
                        .string("value", 1..., nullable: 0...),
                        .int8("source", 1...),
                    ]),
                    .int8("config_type", 3...),
                    .string("documentation", 3..., nullable: 0...),
                ]),
            ]),
        ]) }
}
