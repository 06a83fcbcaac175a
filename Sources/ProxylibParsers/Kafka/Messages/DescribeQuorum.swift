extension KafkaAPI {
    /// DescribeQuorum (55). KRaft: the topics here are the metadata log, not client data, and carry no role.
    static let describeQuorum = KafkaAPI(
        key: 55, name: "DescribeQuorum", versions: 0...2, flexibleFrom: 0,
        request: [
            .structs("topics", 0..., [
                .string("topic_name"),
                .structs("partitions", 0..., [
                    .int32("partition_index"),
                ]),
            ]),
        ],
        response: [
            .int16("error_code", role: .errorCode),
            .string("error_message", 2..., nullable: 2...),
            .structs("topics", 0..., [
                .string("topic_name"),
                .structs("partitions", 0..., [
                    .int32("partition_index"),
                    .int16("error_code", role: .errorCode),
                    .string("error_message", 2..., nullable: 2...),
                    .int32("leader_id"),
                    .int32("leader_epoch"),
                    .int64("high_watermark"),
                    .structs("current_voters", 0..., [
                        .int32("replica_id"),
                        .uuid("replica_directory_id", 2...),
                        .int64("log_end_offset"),
                        .int64("last_fetch_timestamp", 1..., default: -1),
                        .int64("last_caught_up_timestamp", 1..., default: -1),
                    ]),
                    .structs("observers", 0..., [
                        .int32("replica_id"),
                        .uuid("replica_directory_id", 2...),
                        .int64("log_end_offset"),
                        .int64("last_fetch_timestamp", 1..., default: -1),
                        .int64("last_caught_up_timestamp", 1..., default: -1),
                    ]),
                ]),
            ]),
            .structs("nodes", 2..., [
                .int32("node_id", 2...),
                .structs("listeners", 2..., [
                    .string("name", 2...),
                    .string("host", 2...),
                    .uint16("port", 2...),
                ]),
            ]),
        ])
}
