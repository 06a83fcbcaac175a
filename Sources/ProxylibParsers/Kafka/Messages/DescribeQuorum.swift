extension KafkaAPI {
    /// DescribeQuorum (55). Its topic is KRaft's metadata log; named like any topic, so topic rules apply to it.
    static var describeQuorum: KafkaAPI { KafkaAPI(
        key: 55, name: "DescribeQuorum", versions: 0...2, flexibleFrom: 0,
        request: [
            .structs("topics", role: .topics, [
                .string("topic_name", role: .topicName),
                .structs("partitions", role: .partitions, [
                    .int32("partition_index", role: .partitionIndex),
                ]),
            ]),
        ],
        response: [
            .int16("error_code", role: .errorCode),
            .string("error_message", 2..., nullable: 2...),
            .structs("topics", role: .topics, [
                .string("topic_name", role: .topicName),
                .structs("partitions", role: .partitions, [
                    .int32("partition_index", role: .partitionIndex),
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
        ]) }
}
