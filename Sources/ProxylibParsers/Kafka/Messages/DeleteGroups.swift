extension KafkaAPI {
    /// DeleteGroups (42).
    static let deleteGroups = KafkaAPI(
        key: 42, name: "DeleteGroups", versions: 0...3, flexibleFrom: 2,
        request: [
            .array("groups_names", of: .string),
        ],
        response: [
            .int32("throttle_time_ms"),
            .structs("results", 0..., [
                .string("group_id"),
                .int16("error_code", role: .errorCode),
                .string("error_message", 3..., nullable: 3...),
            ]),
        ])
}
