/// Size bounds of one encoded `cilium.LogEntry`.
///
/// An upstream user crashed Envoy with a 17 KB access-log record (cilium/cilium#9591), and a parser may log
/// anything it reads off the wire. So every string is capped, and so is the whole entry: long values are cut
/// on a UTF-8 boundary and end in a visible marker (`…[truncated 98304 bytes]`); L7 fields or Kafka topics
/// that no longer fit are left out and replaced by one marker (`…` = `[3 more fields omitted]`,
/// `…[3 more topics omitted]`). An entry never exceeds `maxEntryBytes` when serialized.
public struct AccessLogLimits: Equatable, Sendable {
    /// The largest serialized entry, in bytes; also the size of one queue slot.
    public var maxEntryBytes: Int
    /// The largest string value (an L7 field key or value, a topic, an address…), in UTF-8 bytes, marker
    /// included.
    public var maxValueBytes: Int
    /// The most L7 fields or Kafka topics kept in one entry (the rest are counted in the omission marker).
    public var maxItems: Int

    /// 4 KiB entries, 1 KiB values, 256 fields or topics.
    public static let `default` = AccessLogLimits(maxEntryBytes: 4096, maxValueBytes: 1024, maxItems: 256)

    /// Values are clamped to workable ranges: entries of 512 bytes to 64 KiB, values of at least 64 bytes
    /// (room for a marker) and at most a quarter of an entry, 1 to 4096 items.
    public init(maxEntryBytes: Int, maxValueBytes: Int, maxItems: Int) {
        self.maxEntryBytes = min(max(maxEntryBytes, 512), 65_536)
        self.maxValueBytes = min(max(maxValueBytes, 64), self.maxEntryBytes / 4)
        self.maxItems = min(max(maxItems, 1), 4096)
    }
}
