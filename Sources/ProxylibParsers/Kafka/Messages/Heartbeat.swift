extension KafkaAPI {
    /// Heartbeat (12).
    static var heartbeat: KafkaAPI { KafkaAPI(
        key: 12, name: "Heartbeat", versions: 0...4, flexibleFrom: 4,
        request: [
            .string("group_id"),
            .int32("generation_id"),
            .string("member_id"),
            .string("group_instance_id", 3..., nullable: 3...),
        ],
        response: [
            .int32("throttle_time_ms", 1...),
            .int16("error_code", role: .errorCode),
        ]) }
}
