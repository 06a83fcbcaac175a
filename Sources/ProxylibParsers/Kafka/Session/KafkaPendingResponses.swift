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
    }

    /// More than this many responses owed: the client is not reading them; the connection closes.
    static let limit = 1 << 20

    private var entries: [Entry] = []
    private var head = 0
    private var denials: [UInt8] = []

    var isEmpty: Bool { head >= entries.count }
    var count: Int { entries.count - head }
    var first: Entry? { isEmpty ? nil : entries[head] }

    mutating func awaitResponse(correlationID: Int32, apiKey: Int16, apiVersion: Int16) -> Bool {
        guard count < Self.limit else { return false }
        entries.append(Entry(correlationID: correlationID, apiKey: apiKey, apiVersion: apiVersion, denial: nil))
        return true
    }

    mutating func queueDenial(_ bytes: [UInt8], correlationID: Int32, apiKey: Int16, apiVersion: Int16) -> Bool {
        guard count < Self.limit, denials.count + bytes.count <= 64 << 20 else { return false }
        let start = denials.count
        denials.append(contentsOf: bytes)
        entries.append(Entry(correlationID: correlationID, apiKey: apiKey, apiVersion: apiVersion,
                             denial: start..<denials.count))
        return true
    }

    mutating func removeFirst() {
        guard !isEmpty else { return }
        head += 1
        if isEmpty {
            entries.removeAll(keepingCapacity: true)
            denials.removeAll(keepingCapacity: true)
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
