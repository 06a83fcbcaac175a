extension KafkaAPI {
    /// Every api key the parser reads.
    static let all: [KafkaAPI] = [produce]
}
