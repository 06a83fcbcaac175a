extension KafkaAPI {
    /// ListGroups (16).
    static var listGroups: KafkaAPI { KafkaAPI(
        key: 16, name: "ListGroups", versions: 0...5, flexibleFrom: 3,
        request: [
            .array("states_filter", of: .string, 4...),
            .array("types_filter", of: .string, 5...),
        ],
        response: [
            .int32("throttle_time_ms", 1...),
            .int16("error_code", role: .errorCode),
            .structs("groups", 0..., [
                .string("group_id"),
                .string("protocol_type"),
                .string("group_state", 4...),
                .string("group_type", 5...),
            ]),
        ]) }
}
