import Atomics
import Synchronization

/// A library instance: what one `OpenModule` parameter set shares — the policy map (fed by NPDS) and the
/// access logger. Connections consult it from any worker thread.
public final class Instance: Sendable {
    public let id: UInt64
    public let params: ModuleParams
    /// The xDS node id this instance announces.
    public let nodeID: String
    public let registry: ParserRegistry
    public let accessLog: (any AccessLogSink)?

    private let currentPolicy = ManagedAtomic<PolicyMap>(PolicyMap.empty)
    /// Bumped after each publication, so a connection can tell with one plain load whether the snapshot it
    /// holds is still current (loading the snapshot itself costs several atomic read-modify-writes).
    private let policyGeneration = Atomic<UInt64>(0)
    /// Serializes policy updates (each compiles against the map it replaces); readers never take it.
    private let updateLock = Mutex<Void>(())
    /// State a parser shares between the connections of this instance (`sharedState(_:make:)`).
    private let parserStates = Mutex<[String: any Sendable & AnyObject]>([:])

    public init(id: UInt64, params: ModuleParams, registry: ParserRegistry, accessLog: (any AccessLogSink)? = nil) {
        self.id = id
        self.params = params
        self.nodeID = params.nodeID.isEmpty ? "host~127.0.0.2~libcilium-\(id)~localdomain" : params.nodeID
        self.registry = registry
        self.accessLog = accessLog
    }

    /// The policy snapshot in force. Lock-free: a reader never waits for an update.
    public var policyMap: PolicyMap { currentPolicy.load(ordering: .acquiring) }

    /// Replaces the whole policy with `configs` (a full state of the world), or throws and keeps the old one.
    public func updatePolicy(_ configs: [NetworkPolicyConfig], version: String) throws {
        try updateLock.withLock { _ in
            let compiler = PolicyCompiler(registry: registry)
            let next = try compiler.compile(configs, version: version, previous: policyMap)
            currentPolicy.store(next, ordering: .releasing)
            policyGeneration.add(1, ordering: .releasing)
        }
        Diagnostics.debug("instance \(id): policy version \(version) installed")
    }

    /// The generation of the policy in force; changes whenever a new snapshot is published.
    public var policyGenerationNow: UInt64 { policyGeneration.load(ordering: .acquiring) }

    /// The object a parser shares between all connections of this instance under `key`, made on first use.
    /// Meant for a connection's setup (it takes a lock), not for every request: keep the returned reference.
    public func sharedState<State: AnyObject & Sendable>(_ key: String, make: () -> State) -> State {
        parserStates.withLock { states in
            if let existing = states[key] as? State { return existing }
            let made = make()
            states[key] = made
            return made
        }
    }

    /// Whether the policy allows `request` (an L7 parser's request value).
    public func policyMatches<Request>(policyName: String, ingress: Bool, port: UInt32, remoteID: UInt32,
                                       request: Request) -> Bool {
        policyMap.matches(policyName: policyName, ingress: ingress, port: port, remoteID: remoteID, request: request)
    }
}
