extension KafkaAPI {
    /// ListPartitionReassignments (46). A null topics array lists every reassignment.
    static var listPartitionReassignments: KafkaAPI { KafkaAPI(
        key: 46, name: "ListPartitionReassignments", versions: 0...0, flexibleFrom: 0,
        request: [
            .int32("timeout_ms", default: 60000),
            .structs("topics", role: .topics, nullable: 0..., [
                .string("name", role: .topicName),
                .array("partition_indexes", of: .int32, role: .partitionIndex),
            ]),
        ],
        response: [
            .int32("throttle_time_ms"),
            .int16("error_code", role: .errorCode),
            .string("error_message", nullable: 0...),
            .structs("topics", role: .topics, [
                .string("name", role: .topicName),
                .structs("partitions", role: .partitions, [
                    .int32("partition_index", role: .partitionIndex),
                    .array("replicas", of: .int32),
                    .array("adding_replicas", of: .int32),
                    .array("removing_replicas", of: .int32),
                ]),
            ]),
        ]) }
}
