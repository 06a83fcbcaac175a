extension KafkaAPI {
    /// DescribeUserScramCredentials (50).
    static var describeUserScramCredentials: KafkaAPI { KafkaAPI(
        key: 50, name: "DescribeUserScramCredentials", versions: 0...0, flexibleFrom: 0,
        request: [
            .structs("users", role: .items, nullable: 0..., [
                .string("name", role: .itemKey),
            ]),
        ],
        response: [
            .int32("throttle_time_ms"),
            .int16("error_code", role: .errorCode),
            .string("error_message", nullable: 0...),
            .structs("results", role: .items, [
                .string("user", role: .itemKey),
                .int16("error_code", role: .errorCode),
                .string("error_message", nullable: 0...),
                .structs("credential_infos", 0..., [
                    .int8("mechanism"),
                    .int32("iterations"),
                ]),
            ]),
        ]) }
}
