import Synchronization
import ProxylibCore

/// An access-log sink that keeps every entry, for assertions.
public final class RecordingAccessLog: AccessLogSink {
    private let entries = Mutex<[AccessLogEntry]>([])

    public init() {}

    public func log(_ entry: AccessLogEntry) {
        entries.withLock { $0.append(entry) }
    }

    public var all: [AccessLogEntry] { entries.withLock { $0 } }

    public func count(_ type: AccessLogEntryType) -> Int {
        all.filter { $0.entryType == type }.count
    }

    public func clear() {
        entries.withLock { $0.removeAll() }
    }
}
