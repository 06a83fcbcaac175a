extension KafkaAPI {
    /// ElectLeaders (43). A null topic_partitions asks for every partition.
    static var electLeaders: KafkaAPI { KafkaAPI(
        key: 43, name: "ElectLeaders", versions: 0...2, flexibleFrom: 2,
        request: [
            .int8("election_type", 1...),
            .structs("topic_partitions", role: .topics, nullable: 0..., [
                .string("topic", role: .topicName),
                .array("partitions", of: .int32, role: .partitionIndex),
            ]),
            .int32("timeout_ms", default: 60000),
        ],
        response: [
            .int32("throttle_time_ms"),
            .int16("error_code", 1..., role: .errorCode),
            .structs("replica_election_results", role: .topics, [
                .string("topic", role: .topicName),
                .structs("partition_result", role: .partitions, [
                    .int32("partition_id", role: .partitionIndex),
                    .int16("error_code", role: .errorCode),
                    .string("error_message", nullable: 0...),
                ]),
            ]),
        ]) }
}
