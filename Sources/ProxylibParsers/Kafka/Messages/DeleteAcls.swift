extension KafkaAPI {
    /// DeleteAcls (31).
    static var deleteAcls: KafkaAPI { KafkaAPI(
        key: 31, name: "DeleteAcls", versions: 0...3, flexibleFrom: 2,
        request: [
            .structs("filters", role: .items, [
                .int8("resource_type_filter"),
                .string("resource_name_filter", nullable: 0...),
                .int8("pattern_type_filter", 1..., default: 3),
                .string("principal_filter", nullable: 0...),
                .string("host_filter", nullable: 0...),
                .int8("operation"),
                .int8("permission_type"),
            ]),
        ],
        response: [
            .int32("throttle_time_ms"),
            .structs("filter_results", role: .items, [
                .int16("error_code", role: .errorCode),
                .string("error_message", nullable: 0...),
                .structs("matching_acls", 0..., [
                    .int16("error_code", role: .errorCode),
                    .string("error_message", nullable: 0...),
                    .int8("resource_type"),
                    .string("resource_name"),
                    .int8("pattern_type", 1..., default: 3),
                    .string("principal"),
                    .string("host"),
                    .int8("operation"),
                    .int8("permission_type"),
                ]),
            ]),
        ]) }
}
