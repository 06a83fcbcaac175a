extension KafkaAPI {
    /// DescribeAcls (29).
    static var describeAcls: KafkaAPI { KafkaAPI(
        key: 29, name: "DescribeAcls", versions: 0...3, flexibleFrom: 2,
        request: [
            .int8("resource_type_filter"),
            .string("resource_name_filter", nullable: 0...),
            .int8("pattern_type_filter", 1..., default: 3),
            .string("principal_filter", nullable: 0...),
            .string("host_filter", nullable: 0...),
            .int8("operation"),
            .int8("permission_type"),
        ],
        response: [
            .int32("throttle_time_ms"),
            .int16("error_code", role: .errorCode),
            .string("error_message", nullable: 0...),
            .structs("resources", 0..., [
                .int8("resource_type"),
                .string("resource_name"),
                .int8("pattern_type", 1..., default: 3),
                .structs("acls", 0..., [
                    .string("principal"),
                    .string("host"),
                    .int8("operation"),
                    .int8("permission_type"),
                ]),
            ]),
        ]) }
}
