extension KafkaAPI {
    /// JoinGroup (11).
    static var joinGroup: KafkaAPI { KafkaAPI(
        key: 11, name: "JoinGroup", versions: 0...9, flexibleFrom: 6,
        request: [
            .string("group_id"),
            .int32("session_timeout_ms"),
            .int32("rebalance_timeout_ms", 1..., default: -1),
            .string("member_id"),
            .string("group_instance_id", 5..., nullable: 5...),
            .string("protocol_type"),
            .structs("protocols", 0..., [
                .string("name"),
                .bytes("metadata"),
            ]),
            .string("reason", 8..., nullable: 8...),
        ],
        response: [
            .int32("throttle_time_ms", 2...),
            .int16("error_code", role: .errorCode),
            .int32("generation_id", default: -1),
            .string("protocol_type", 7..., nullable: 7...),
            .string("protocol_name", nullable: 7...),
            .string("leader"),
            .bool("skip_assignment", 9...),
            .string("member_id"),
            .structs("members", 0..., [
                .string("member_id"),
                .string("group_instance_id", 5..., nullable: 5...),
                .bytes("metadata"),
            ]),
        ]) }
}
