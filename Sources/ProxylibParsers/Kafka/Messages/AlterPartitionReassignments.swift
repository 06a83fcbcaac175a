extension KafkaAPI {
    /// AlterPartitionReassignments (45).
    static var alterPartitionReassignments: KafkaAPI { KafkaAPI(
        key: 45, name: "AlterPartitionReassignments", versions: 0...1, flexibleFrom: 0,
        request: [
            .int32("timeout_ms", default: 60000),
            .bool("allow_replication_factor_change", 1...),
            .structs("topics", role: .topics, [
                .string("name", role: .topicName),
                .structs("partitions", role: .partitions, [
                    .int32("partition_index", role: .partitionIndex),
                    .array("replicas", of: .int32, nullable: 0...),
                ]),
            ]),
        ],
        response: [
            .int32("throttle_time_ms"),
            .bool("allow_replication_factor_change", 1...),
            .int16("error_code", role: .errorCode),
            .string("error_message", nullable: 0...),
            .structs("responses", role: .topics, [
                .string("name", role: .topicName),
                .structs("partitions", role: .partitions, [
                    .int32("partition_index", role: .partitionIndex),
                    .int16("error_code", role: .errorCode),
                    .string("error_message", nullable: 0...),
                ]),
            ]),
        ]) }
}
