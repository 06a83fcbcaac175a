extension KafkaAPI {
    /// ApiVersions (18).
    static var apiVersions: KafkaAPI { KafkaAPI(
        key: 18, name: "ApiVersions", versions: 0...4, flexibleFrom: 3,
        request: [
            .string("client_software_name", 3...),
            .string("client_software_version", 3...),
            .string("cluster_id", 5..., nullable: 5...),
            .int32("node_id", 5..., default: -1),
        ],
        response: [
            .int16("error_code", role: .errorCode),
            .structs("api_keys", 0..., [
                .int16("api_key"),
                .int16("min_version"),
                .int16("max_version"),
            ]),
            .int32("throttle_time_ms", 1...),
        ]) }
}
