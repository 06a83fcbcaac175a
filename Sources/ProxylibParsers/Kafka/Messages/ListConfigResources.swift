extension KafkaAPI {
    /// ListConfigResources (74). Was ListClientMetricsResources (v0 lists client-metrics resources only); renamed
    /// when v1 added resource types.
    static var listConfigResources: KafkaAPI { KafkaAPI(
        key: 74, name: "ListConfigResources", versions: 0...1, flexibleFrom: 0,
        request: [
            .array("resource_types", of: .int8, 1...),
        ],
        response: [
            .int32("throttle_time_ms"),
            .int16("error_code", role: .errorCode),
            .structs("config_resources", 0..., [
                .string("resource_name"),
                .int8("resource_type", 1..., default: 16),
            ]),
        ]) }
}
