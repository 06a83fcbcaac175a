extension KafkaAPI {
    /// AlterUserScramCredentials (51).
    static var alterUserScramCredentials: KafkaAPI { KafkaAPI(
        key: 51, name: "AlterUserScramCredentials", versions: 0...0, flexibleFrom: 0,
        request: [
            .structs("deletions", role: .items, [
                .string("name", role: .itemKey),
                .int8("mechanism"),
            ]),
            .structs("upsertions", role: .items, [
                .string("name", role: .itemKey),
                .int8("mechanism"),
                .int32("iterations"),
                .bytes("salt"),
                .bytes("salted_password"),
            ]),
        ],
        response: [
            .int32("throttle_time_ms"),
            .structs("results", role: .items, [
                .string("user", role: .itemKey),
                .int16("error_code", role: .errorCode),
                .string("error_message", nullable: 0...),
            ]),
        ]) }
}
