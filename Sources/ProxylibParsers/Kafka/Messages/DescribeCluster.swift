extension KafkaAPI {
    /// DescribeCluster (60).
    static var describeCluster: KafkaAPI { KafkaAPI(
        key: 60, name: "DescribeCluster", versions: 0...2, flexibleFrom: 0,
        request: [
            .bool("include_cluster_authorized_operations"),
            .int8("endpoint_type", 1..., default: 1),
            .bool("include_fenced_brokers", 2...),
        ],
        response: [
            .int32("throttle_time_ms"),
            .int16("error_code", role: .errorCode),
            .string("error_message", nullable: 0...),
            .int8("endpoint_type", 1..., default: 1),
            .string("cluster_id"),
            .int32("controller_id", default: -1),
            .structs("brokers", 0..., [
                .int32("broker_id"),
                .string("host"),
                .int32("port"),
                .string("rack", nullable: 0...),
                .bool("is_fenced", 2...),
            ]),
            .int32("cluster_authorized_operations", default: -2147483648),
        ]) }
}
