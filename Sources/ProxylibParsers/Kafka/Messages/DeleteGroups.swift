extension KafkaAPI {
    /// DeleteGroups (42).
    static var deleteGroups: KafkaAPI { KafkaAPI(
        key: 42, name: "DeleteGroups", versions: 0...2, flexibleFrom: 2,
        request: [
            .array("groups_names", of: .string, role: .items),
        ],
        response: [
            .int32("throttle_time_ms"),
            .structs("results", role: .items, [
                .string("group_id", role: .itemKey),
                .int16("error_code", role: .errorCode),
                .string("error_message", 3..., nullable: 3...),
            ]),
        ]) }
}
