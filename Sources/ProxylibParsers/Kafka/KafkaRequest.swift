/// A Kafka request as the policy sees it: its header and the names of the topics it names, as views into the
/// frame (or into the topic-id map for topics named by id), valid during the policy check only.
///
/// `covered` is shared by every rule the check consults: each rule marks the topics it allows, and the
/// request is allowed once the rules together cover all of them (upstream's semantics, where each matching
/// rule removes its topic from the request's set).
struct KafkaRequest {
    let apiKey: Int16
    let apiVersion: Int16
    /// Nil for a null client id.
    let clientID: UnsafeRawBufferPointer?
    /// The request's type can name topics (a topic rule applies to it).
    let namesTopics: Bool
    let topics: UnsafeBufferPointer<UnsafeRawBufferPointer>
    let covered: UnsafeMutableBufferPointer<Bool>
}
