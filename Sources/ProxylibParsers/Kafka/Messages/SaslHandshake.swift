extension KafkaAPI {
    /// SaslHandshake (17). Never flexible.
    static var saslHandshake: KafkaAPI { KafkaAPI(
        key: 17, name: "SaslHandshake", versions: 0...1, flexibleFrom: nil,
        request: [
            .string("mechanism"),
        ],
        response: [
            .int16("error_code", role: .errorCode),
            .array("mechanisms", of: .string),
        ]) }
}
