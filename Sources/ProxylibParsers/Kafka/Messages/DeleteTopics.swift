extension KafkaAPI {
    /// DeleteTopics (20). Versions 0-5 send bare names; v6 sends name-or-id pairs.
    static var deleteTopics: KafkaAPI { KafkaAPI(
        key: 20, name: "DeleteTopics", versions: 0...6, flexibleFrom: 4,
        request: [
            .structs("topics", 6..., role: .topics, [
                .string("name", 6..., role: .topicName, nullable: 6...),
                .uuid("topic_id", 6..., role: .topicID),
            ]),
            .array("topic_names", of: .string, 0...5, role: .topicName),
            .int32("timeout_ms"),
        ],
        response: [
            .int32("throttle_time_ms", 1...),
            .structs("responses", role: .topics, [
                .string("name", role: .topicName, nullable: 6...),
                .uuid("topic_id", 6..., role: .topicID),
                .int16("error_code", role: .errorCode),
                .string("error_message", 5..., nullable: 5...),
            ]),
        ]) }
}
