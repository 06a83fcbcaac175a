extension KafkaAPI {
    /// WriteTxnMarkers (27). Broker to broker. Topics sit under each marker (the markers array has no role).
    static var writeTxnMarkers: KafkaAPI { KafkaAPI(
        key: 27, name: "WriteTxnMarkers", versions: 0...2, flexibleFrom: 1,
        request: [
            .structs("markers", 0..., [
                .int64("producer_id"),
                .int16("producer_epoch"),
                .bool("transaction_result"),
                .structs("topics", role: .topics, [
                    .string("name", role: .topicName),
                    .array("partition_indexes", of: .int32, role: .partitionIndex),
                ]),
                .int32("coordinator_epoch"),
                .int8("transaction_version", 2...),
            ]),
        ],
        response: [
            .structs("markers", 0..., [
                .int64("producer_id"),
                .structs("topics", role: .topics, [
                    .string("name", role: .topicName),
                    .structs("partitions", role: .partitions, [
                        .int32("partition_index", role: .partitionIndex),
                        .int16("error_code", role: .errorCode),
                    ]),
                ]),
            ]),
        ]) }
}
