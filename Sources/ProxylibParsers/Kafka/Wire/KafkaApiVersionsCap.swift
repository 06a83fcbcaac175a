/// Caps the versions a broker's ApiVersions response advertises at the ones the parser reads, so that a client
/// negotiates versions we can check instead of being disconnected when the broker is newer than our
/// descriptions (the failure of the Go parser, cilium/cilium#21813). Only the max versions of api keys we
/// describe are lowered, in a copy; keys we do not describe are left as the broker sent them.
enum KafkaApiVersionsCap {
    /// Writes the capped copy of `frame` (a whole ApiVersions response) into `output` and returns true, or
    /// returns false when nothing needs capping or the response cannot be read (then it passes as it is).
    static func rewrite(_ frame: UnsafeRawBufferPointer, version: Int16, into output: inout [UInt8]) -> Bool {
        // The response header is always v0: size, correlation id.
        var reader = KafkaReader(frame, at: 8)
        guard let errorCode = reader.readInt16() else { return false }
        // A broker refusing the request's version answers in version 0.
        let compact = errorCode == 0 && version >= 3
        guard let count = reader.readLength(compact: compact, wide: true), count > 0,
              count <= reader.remaining / 6 else { return false }
        var patches: [(offset: Int, version: Int16)] = []
        for _ in 0..<count {
            guard let key = reader.readInt16(), reader.readInt16() != nil else { return false }
            let maxOffset = reader.position
            guard let maxVersion = reader.readInt16() else { return false }
            if compact && !reader.skipTaggedFields() { return false }
            if let api = KafkaAPIs.api(key), maxVersion > api.versions.high, api.versions.high >= 0 {
                patches.append((maxOffset, api.versions.high))
            }
        }
        guard !patches.isEmpty else { return false }
        output.removeAll(keepingCapacity: true)
        output.append(contentsOf: frame)
        for patch in patches {
            output[patch.offset] = UInt8(truncatingIfNeeded: UInt16(bitPattern: patch.version) >> 8)
            output[patch.offset + 1] = UInt8(truncatingIfNeeded: UInt16(bitPattern: patch.version))
        }
        return true
    }
}
