extension KafkaAPI {
    /// CreateDelegationToken (38).
    static var createDelegationToken: KafkaAPI { KafkaAPI(
        key: 38, name: "CreateDelegationToken", versions: 0...3, flexibleFrom: 2,
        request: [
            .string("owner_principal_type", 3..., nullable: 3...),
            .string("owner_principal_name", 3..., nullable: 3...),
            .structs("renewers", 0..., [
                .string("principal_type"),
                .string("principal_name"),
            ]),
            .int64("max_lifetime_ms"),
        ],
        response: [
            .int16("error_code", role: .errorCode),
            .string("principal_type"),
            .string("principal_name"),
            .string("token_requester_principal_type", 3...),
            .string("token_requester_principal_name", 3...),
            .int64("issue_timestamp_ms"),
            .int64("expiry_timestamp_ms"),
            .int64("max_timestamp_ms"),
            .string("token_id"),
            .bytes("hmac"),
            .int32("throttle_time_ms"),
        ]) }
}
