extension KafkaAPI {
    /// DescribeDelegationToken (41). A null owners array describes every token.
    static var describeDelegationToken: KafkaAPI { KafkaAPI(
        key: 41, name: "DescribeDelegationToken", versions: 0...3, flexibleFrom: 2,
        request: [
            .structs("owners", nullable: 0..., [
                .string("principal_type"),
                .string("principal_name"),
            ]),
        ],
        response: [
            .int16("error_code", role: .errorCode),
            .structs("tokens", 0..., [
                .string("principal_type"),
                .string("principal_name"),
                .string("token_requester_principal_type", 3...),
                .string("token_requester_principal_name", 3...),
                .int64("issue_timestamp"),
                .int64("expiry_timestamp"),
                .int64("max_timestamp"),
                .string("token_id"),
                .bytes("hmac"),
                .structs("renewers", 0..., [
                    .string("principal_type"),
                    .string("principal_name"),
                ]),
            ]),
            .int32("throttle_time_ms"),
        ]) }
}
