extension KafkaAPI {
    /// OffsetForLeaderEpoch (23).
    static var offsetForLeaderEpoch: KafkaAPI { KafkaAPI(
        key: 23, name: "OffsetForLeaderEpoch", versions: 0...4, flexibleFrom: 4,
        request: [
            .int32("replica_id", 3..., default: -2),
            .structs("topics", role: .topics, [
                .string("topic", role: .topicName),
                .structs("partitions", role: .partitions, [
                    .int32("partition", role: .partitionIndex),
                    .int32("current_leader_epoch", 2..., default: -1),
                    .int32("leader_epoch"),
                ]),
            ]),
        ],
        response: [
            .int32("throttle_time_ms", 2...),
            .structs("topics", role: .topics, [
                .string("topic", role: .topicName),
                .structs("partitions", role: .partitions, [
                    .int16("error_code", role: .errorCode),
                    .int32("partition", role: .partitionIndex),
                    .int32("leader_epoch", 1..., default: -1),
                    .int64("end_offset", default: -1),
                ]),
            ]),
        ]) }
}
