/// The message layer of one NPDS stream, as the transport sees it: the first request when the stream opens,
/// then one reply per response. A fresh session is made for every stream, so each stream starts again from
/// version_info "" (as upstream's client does).
protocol NPDSSession: Sendable {
    /// The encoded DiscoveryRequest that opens the stream.
    mutating func initialRequest() -> [UInt8]
    /// Applies one received message (an encoded DiscoveryResponse) and answers the encoded request to send back.
    mutating func handleResponse(_ message: [UInt8]) -> (reply: [UInt8], outcome: NPDSUpdateOutcome)
}

extension NPDSStreamState: NPDSSession {}
