/// A request header: v1 (api_key, api_version, correlation_id, client_id as a nullable int16-length string),
/// v2 in flexible versions (v1 + a tagged-field section), v0 (no client id) for ControlledShutdown v0.
struct KafkaRequestHeader {
    var apiKey: Int16
    var apiVersion: Int16
    var correlationID: Int32
    var clientID: KafkaRange = .null

    /// Reads the fixed part from a frame (after its 4-byte size).
    static func peek(_ frame: UnsafeRawBufferPointer) -> KafkaRequestHeader? {
        var reader = KafkaReader(frame, at: 4)
        guard let key = reader.readInt16(), let version = reader.readInt16(), let correlation = reader.readInt32() else {
            return nil
        }
        return KafkaRequestHeader(apiKey: key, apiVersion: version, correlationID: correlation)
    }

    /// Where the client id begins: after the size and the fixed part.
    static let fixedEnd = 12

    /// Reads the client id and the tagged section the api's header has from a reader at `fixedEnd`; leaves
    /// `reader` at the body.
    mutating func readRest(api: KafkaCompiledAPI?, reader: inout KafkaReader) -> Bool {
        if let api, !api.requestHeaderHasClientID(apiVersion) { return true }
        guard let client = reader.readRange(compact: false, wide: false) else { return false }
        clientID = client
        if let api, api.isFlexible(apiVersion) { return reader.skipTaggedFields() }
        return true
    }
}
