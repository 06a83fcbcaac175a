extension KafkaAPI {
    /// CreatePartitions (37).
    static var createPartitions: KafkaAPI { KafkaAPI(
        key: 37, name: "CreatePartitions", versions: 0...3, flexibleFrom: 2,
        request: [
            .structs("topics", role: .topics, [
                .string("name", role: .topicName),
                .int32("count"),
                .structs("assignments", nullable: 0..., [
                    .array("broker_ids", of: .int32),
                ]),
            ]),
            .int32("timeout_ms"),
            .bool("validate_only"),
        ],
        response: [
            .int32("throttle_time_ms"),
            .structs("results", role: .topics, [
                .string("name", role: .topicName),
                .int16("error_code", role: .errorCode),
                .string("error_message", nullable: 0...),
            ]),
        ]) }
}
