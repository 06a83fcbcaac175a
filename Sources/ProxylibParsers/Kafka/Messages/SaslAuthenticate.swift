extension KafkaAPI {
    /// SaslAuthenticate (36).
    static var saslAuthenticate: KafkaAPI { KafkaAPI(
        key: 36, name: "SaslAuthenticate", versions: 0...2, flexibleFrom: 2,
        request: [
            .bytes("auth_bytes"),
        ],
        response: [
            .int16("error_code", role: .errorCode),
            .string("error_message", nullable: 0...),
            .bytes("auth_bytes"),
            .int64("session_lifetime_ms", 1...),
        ]) }
}
