extension KafkaAPI {
    /// ConsumerGroupDescribe (69). KIP-848. Member assignments name topics; they carry no role.
    static var consumerGroupDescribe: KafkaAPI { KafkaAPI(
        key: 69, name: "ConsumerGroupDescribe", versions: 0...1, flexibleFrom: 0,
        request: [
            .array("group_ids", of: .string, role: .items),
            .bool("include_authorized_operations"),
        ],
        response: [
            .int32("throttle_time_ms"),
            .structs("groups", role: .items, [
                .int16("error_code", role: .errorCode),
                .string("error_message", nullable: 0...),
                .string("group_id", role: .itemKey),
                .string("group_state"),
                .int32("group_epoch"),
                .int32("assignment_epoch"),
                .string("assignor_name"),
                .structs("members", 0..., [
                    .string("member_id"),
                    .string("instance_id", nullable: 0...),
                    .string("rack_id", nullable: 0...),
                    .int32("member_epoch"),
                    .string("client_id"),
                    .string("client_host"),
                    .array("subscribed_topic_names", of: .string),
                    .string("subscribed_topic_regex", nullable: 0...),
                    .structure("assignment", 0..., [
                        .structs("topic_partitions", 0..., [
                            .uuid("topic_id"),
                            .string("topic_name"),
                            .array("partitions", of: .int32),
                        ]),
                    ]),
                    .structure("target_assignment", 0..., [
                        .structs("topic_partitions", 0..., [
                            .uuid("topic_id"),
                            .string("topic_name"),
                            .array("partitions", of: .int32),
                        ]),
                    ]),
                    .int8("member_type", 1..., default: -1),
                ]),
                .int32("authorized_operations", default: -2147483648),
            ]),
        ]) }
}
