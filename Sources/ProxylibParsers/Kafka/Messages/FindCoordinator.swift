extension KafkaAPI {
    /// FindCoordinator (10). Versions 0-3 look up one key; v4+ look up several.
    static var findCoordinator: KafkaAPI { KafkaAPI(
        key: 10, name: "FindCoordinator", versions: 0...6, flexibleFrom: 3,
        request: [
            .string("key", 0...3),
            .int8("key_type", 1...),
            .array("coordinator_keys", of: .string, 4..., role: .items),
        ],
        response: [
            .int32("throttle_time_ms", 1...),
            .int16("error_code", 0...3, role: .errorCode),
            .string("error_message", 1...3, nullable: 1...3),
            .int32("node_id", 0...3),
            .string("host", 0...3),
            .int32("port", 0...3),
            .structs("coordinators", 4..., role: .items, [
                .string("key", 4..., role: .itemKey),
                .int32("node_id", 4...),
                .string("host", 4...),
                .int32("port", 4...),
                .int16("error_code", 4..., role: .errorCode),
                .string("error_message", 4..., nullable: 4...),
            ]),
        ]) }
}
