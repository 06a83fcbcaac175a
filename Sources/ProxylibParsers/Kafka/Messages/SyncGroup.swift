extension KafkaAPI {
    /// SyncGroup (14).
    static var syncGroup: KafkaAPI { KafkaAPI(
        key: 14, name: "SyncGroup", versions: 0...5, flexibleFrom: 4,
        request: [
            .string("group_id"),
            .int32("generation_id"),
            .string("member_id"),
            .string("group_instance_id", 3..., nullable: 3...),
            .string("protocol_type", 5..., nullable: 5...),
            .string("protocol_name", 5..., nullable: 5...),
            .structs("assignments", 0..., [
                .string("member_id"),
                .bytes("assignment"),
            ]),
        ],
        response: [
            .int32("throttle_time_ms", 1...),
            .int16("error_code", role: .errorCode),
            .string("protocol_type", 5..., nullable: 5...),
            .string("protocol_name", 5..., nullable: 5...),
            .bytes("assignment"),
        ]) }
}
