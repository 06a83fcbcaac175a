extension KafkaAPI {
    /// AlterReplicaLogDirs (34). The request groups topics under log directories (the dirs array has no role); the
    /// response lists topics flat.
    static var alterReplicaLogDirs: KafkaAPI { KafkaAPI(
        key: 34, name: "AlterReplicaLogDirs", versions: 0...2, flexibleFrom: 2,
        request: [
            .structs("dirs", 0..., [
                .string("path"),
                .structs("topics", role: .topics, [
                    .string("name", role: .topicName),
                    .array("partitions", of: .int32, role: .partitionIndex),
                ]),
            ]),
        ],
        response: [
            .int32("throttle_time_ms"),
            .structs("results", role: .topics, [
                .string("topic_name", role: .topicName),
                .structs("partitions", role: .partitions, [
                    .int32("partition_index", role: .partitionIndex),
                    .int16("error_code", role: .errorCode),
                ]),
            ]),
        ]) }
}
