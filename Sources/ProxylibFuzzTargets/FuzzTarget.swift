/// A broken invariant found by a fuzz target: what was expected and what happened.
public struct FuzzViolation: Error, CustomStringConvertible, Sendable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// One fuzz target: a name (`proxylib-fuzz NAME`, corpus folder `Tests/Fuzz/corpus/NAME`) and a function that
/// runs one input and throws `FuzzViolation` when an invariant breaks. Crashes and sanitizer reports are
/// caught by the fuzzing engine itself.
public struct FuzzTarget: Sendable {
    public let name: String
    public let summary: String
    /// One-time set-up (library instances, policies), run before the first input so that the allocations it
    /// keeps are not taken for leaks of that input.
    public let prepare: @Sendable () -> Void
    public let run: @Sendable (UnsafeRawBufferPointer) throws -> Void

    public init(name: String, summary: String, prepare: @escaping @Sendable () -> Void = {},
                run: @escaping @Sendable (UnsafeRawBufferPointer) throws -> Void) {
        self.name = name
        self.summary = summary
        self.prepare = prepare
        self.run = run
    }
}

public enum FuzzTargets {
    /// Every target; each production parser adds its datapath target here.
    public static let all: [FuzzTarget] = DatapathFuzzTarget.targets + [
        NPDSFuzzTargets.response,
        NPDSFuzzTargets.policy,
        RegexFuzzTarget.target,
        AccessLogFuzzTarget.target,
    ]

    public static func named(_ name: String) -> FuzzTarget? {
        all.first { $0.name == name }
    }
}
