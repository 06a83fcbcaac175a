import ProxylibCore

/// The responses a connection's client is owed, oldest first: responses the broker will send, and denials
/// the parser writes in their place. A denial leaves only when every response before it has passed, so the
/// client reads its responses in request order (Kafka clients drop a connection on a correlation mismatch).
struct KafkaPendingResponses {
    struct Entry {
        var correlationID: Int32
        var apiKey: Int16
        var apiVersion: Int16
        /// The denial's bytes in `denials`; nil while the broker's response is awaited.
        var denial: Range<Int>?
        /// Topics (in `maskedNames`) whose entries the awaited Metadata response must not show the client.
        var masked: Range<Int>?
    }

    /// More than this many responses owed: the client is not reading them; the connection closes.
    static let limit = 1 << 20

    private var entries: [Entry] = []
    private var head = 0
    private var denials: [UInt8] = []
    /// Masked topic names, each as a 2-byte length and its bytes.
    private var maskedNames: [UInt8] = []

    var isEmpty: Bool { head >= entries.count }
    var count: Int { entries.count - head }
    var first: Entry? { isEmpty ? nil : entries[head] }

    mutating func awaitResponse(correlationID: Int32, apiKey: Int16, apiVersion: Int16) -> Bool {
        guard count < Self.limit else { return false }
        entries.append(Entry(correlationID: correlationID, apiKey: apiKey, apiVersion: apiVersion, denial: nil,
                             masked: nil))
        return true
    }

    /// Awaits a Metadata response in which `names` are to be masked.
    mutating func awaitMaskedResponse(correlationID: Int32, apiKey: Int16, apiVersion: Int16,
                                      names: some Sequence<UnsafeRawBufferPointer>) -> Bool {
        guard count < Self.limit else { return false }
        let start = maskedNames.count
        for name in names {
            let length = min(name.count, Int(UInt16.max))
            maskedNames.append(UInt8(truncatingIfNeeded: length >> 8))
            maskedNames.append(UInt8(truncatingIfNeeded: length))
            maskedNames.append(contentsOf: UnsafeRawBufferPointer(rebasing: name[..<length]))
        }
        entries.append(Entry(correlationID: correlationID, apiKey: apiKey, apiVersion: apiVersion, denial: nil,
                             masked: start..<maskedNames.count))
        return true
    }

    /// Whether the first entry masks `name`.
    func firstMasks(_ name: UnsafeRawBufferPointer) -> Bool {
        guard let range = first?.masked else { return false }
        return maskedNames.withUnsafeBytes { all in
            var position = range.lowerBound
            while position + 2 <= range.upperBound {
                let length = Int(all[position]) << 8 | Int(all[position + 1])
                let start = position + 2
                guard start + length <= range.upperBound else { return false }
                if name.count == length && ByteSearch.matches(UnsafeRawBufferPointer(rebasing: all[start..<(start + length)]), in: name, at: 0) { return true }
                position = start + length
            }
            return false
        }
    }

    /// Turns the first entry (an awaited response) into bytes the parser writes in its place.
    mutating func replaceFirst(with bytes: [UInt8]) -> Bool {
        guard !isEmpty, denials.count + bytes.count <= 64 << 20 else { return false }
        let start = denials.count
        denials.append(contentsOf: bytes)
        entries[head].denial = start..<denials.count
        entries[head].masked = nil
        return true
    }

    mutating func queueDenial(_ bytes: [UInt8], correlationID: Int32, apiKey: Int16, apiVersion: Int16) -> Bool {
        guard count < Self.limit, denials.count + bytes.count <= 64 << 20 else { return false }
        let start = denials.count
        denials.append(contentsOf: bytes)
        entries.append(Entry(correlationID: correlationID, apiKey: apiKey, apiVersion: apiVersion,
                             denial: start..<denials.count, masked: nil))
        return true
    }

    mutating func removeFirst() {
        guard !isEmpty else { return }
        head += 1
        if isEmpty {
            entries.removeAll(keepingCapacity: true)
            denials.removeAll(keepingCapacity: true)
            maskedNames.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 1024 && head * 2 >= entries.count {
            entries.removeFirst(head)
            head = 0
        }
    }

    /// Writes the denials at the front into the client's inject buffer, as far as they fit, stopping at the
    /// first response still awaited. Returns the bytes written.
    mutating func writeDueDenials(_ write: (UnsafeRawBufferPointer) -> Int) -> Int {
        var written = 0
        while let entry = first, let range = entry.denial {
            let n = denials.withUnsafeBytes { write(UnsafeRawBufferPointer(rebasing: $0[range])) }
            written += n
            if n < range.count {
                entries[head].denial = (range.lowerBound + n)..<range.upperBound
                break
            }
            removeFirst()
        }
        return written
    }
}
