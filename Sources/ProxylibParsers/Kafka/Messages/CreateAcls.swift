extension KafkaAPI {
    /// CreateAcls (30).
    static var createAcls: KafkaAPI { KafkaAPI(
        key: 30, name: "CreateAcls", versions: 0...3, flexibleFrom: 2,
        request: [
            .structs("creations", role: .items, [
                .int8("resource_type"),
                .string("resource_name"),
                .int8("resource_pattern_type", 1..., default: 3),
                .string("principal"),
                .string("host"),
                .int8("operation"),
                .int8("permission_type"),
            ]),
        ],
        response: [
            .int32("throttle_time_ms"),
            .structs("results", role: .items, [
                .int16("error_code", role: .errorCode),
                .string("error_message", nullable: 0...),
            ]),
        ]) }
}
