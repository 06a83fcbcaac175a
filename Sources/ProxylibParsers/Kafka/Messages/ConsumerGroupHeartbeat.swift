extension KafkaAPI {
    /// ConsumerGroupHeartbeat (68). KIP-848. Subscribed topic names and assigned topic ids are membership data, not
    /// data being read, and carry no role.
    static var consumerGroupHeartbeat: KafkaAPI { KafkaAPI(
        key: 68, name: "ConsumerGroupHeartbeat", versions: 0...1, flexibleFrom: 0,
        request: [
            .string("group_id"),
            .string("member_id"),
            .int32("member_epoch"),
            .string("instance_id", nullable: 0...),
            .string("rack_id", nullable: 0...),
            .int32("rebalance_timeout_ms", default: -1),
            .array("subscribed_topic_names", of: .string, nullable: 0...),
            .string("subscribed_topic_regex", 1..., nullable: 1...),
            .string("server_assignor", nullable: 0...),
            .structs("topic_partitions", nullable: 0..., [
                .uuid("topic_id"),
                .array("partitions", of: .int32),
            ]),
        ],
        response: [
            .int32("throttle_time_ms"),
            .int16("error_code", role: .errorCode),
            .string("error_message", nullable: 0...),
            .string("member_id", nullable: 0...),
            .int32("member_epoch"),
            .int32("heartbeat_interval_ms"),
            .structure("assignment", nullable: 0..., [
                .structs("topic_partitions", 0..., [
                    .uuid("topic_id"),
                    .array("partitions", of: .int32),
                ]),
            ]),
        ]) }
}
