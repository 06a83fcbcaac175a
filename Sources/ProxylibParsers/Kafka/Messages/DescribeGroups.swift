extension KafkaAPI {
    /// DescribeGroups (15).
    static var describeGroups: KafkaAPI { KafkaAPI(
        key: 15, name: "DescribeGroups", versions: 0...6, flexibleFrom: 5,
        request: [
            .array("groups", of: .string, role: .items),
            .bool("include_authorized_operations", 3...),
        ],
        response: [
            .int32("throttle_time_ms", 1...),
            .structs("groups", role: .items, [
                .int16("error_code", role: .errorCode),
                .string("error_message", 6..., nullable: 6...),
                .string("group_id", role: .itemKey),
                .string("group_state"),
                .string("protocol_type"),
                .string("protocol_data"),
                .structs("members", 0..., [
                    .string("member_id"),
                    .string("group_instance_id", 4..., nullable: 4...),
                    .string("client_id"),
                    .string("client_host"),
                    .bytes("member_metadata"),
                    .bytes("member_assignment"),
                ]),
                .int32("authorized_operations", 3..., default: -2147483648),
            ]),
        ]) }
}
