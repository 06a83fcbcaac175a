extension KafkaAPI {
    /// LeaveGroup (13). Versions 0-2 name one member; v3+ a list of members.
    static var leaveGroup: KafkaAPI { KafkaAPI(
        key: 13, name: "LeaveGroup", versions: 0...5, flexibleFrom: 4,
        request: [
            .string("group_id"),
            .string("member_id", 0...2),
            .structs("members", 3..., [
                .string("member_id", 3...),
                .string("group_instance_id", 3..., nullable: 3...),
                .string("reason", 5..., nullable: 5...),
            ]),
        ],
        response: [
            .int32("throttle_time_ms", 1...),
            .int16("error_code", role: .errorCode),
            .structs("members", 3..., [
                .string("member_id", 3...),
                .string("group_instance_id", 3..., nullable: 3...),
                .int16("error_code", 3..., role: .errorCode),
            ]),
        ]) }
}
