#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Synchronization

/// The library's own diagnostics on stderr. Quiet unless `debug` was set by OpenModule, except for real
/// errors, which callers report once per cause (not per request).
public enum Diagnostics {
    private static let debugFlag = Atomic<Bool>(false)

    public static var isDebugEnabled: Bool { debugFlag.load(ordering: .relaxed) }

    public static func setDebug(_ enabled: Bool) {
        debugFlag.store(enabled, ordering: .relaxed)
    }

    /// Writes `message` when debug logging is on; the message is not even built otherwise.
    public static func debug(_ message: @autoclosure () -> String) {
        guard isDebugEnabled else { return }
        write("debug", message())
    }

    public static func error(_ message: String) {
        guard !errorsSilenced.load(ordering: .relaxed) else { return }
        write("error", message)
    }

    private static let errorsSilenced = Atomic<Bool>(false)

    /// Drops error messages (in-process drivers such as the fuzzers, which provoke every error on purpose and
    /// would otherwise spend their time writing them).
    public static func setErrorsSilenced(_ silenced: Bool) {
        errorsSilenced.store(silenced, ordering: .relaxed)
    }

    private static func write(_ level: String, _ message: String) {
        // One write(2) per line, so lines from different threads do not interleave.
        var line = "[libcilium] \(level): \(message)\n"
        line.withUTF8 { bytes in
            _ = Glibc.write(STDERR_FILENO, bytes.baseAddress, bytes.count)
        }
    }
}
