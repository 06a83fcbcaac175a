#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CProxylib

/// One proxied connection: its metadata (for policy and access logs), its parser and the caller's two
/// inject buffers.
///
/// `@unchecked Sendable`: Envoy drives each connection from a single worker thread at a time (upstream's
/// contract), so the parser state is never touched concurrently; the metadata is immutable.
public final class Connection: @unchecked Sendable {
    public let instance: Instance
    public let id: UInt64
    /// The original destination port.
    public let port: UInt32
    public let parserName: String
    /// Direction, identities, addresses and policy name: kept once, shared with every access-log entry.
    public let facts: ConnectionFacts

    public var isIngress: Bool { facts.isIngress }
    public var sourceSecurityID: UInt32 { facts.sourceSecurityID }
    public var destinationSecurityID: UInt32 { facts.destinationSecurityID }
    /// `a.b.c.d:port` or `[ipv6]:port`.
    public var sourceAddress: String { facts.sourceAddress }
    public var destinationAddress: String { facts.destinationAddress }
    /// Selects the endpoint policy (an endpoint IP).
    public var policyName: String { facts.policyName }

    private(set) var parser: (any Parser)?
    /// The policy of this connection resolved from the snapshot of `cachedGeneration` for the request type
    /// `cachedRequestType` (a `ConnectionPolicy` of that type). Only the connection's own thread touches
    /// these, so a request costs one atomic load while the policy is unchanged.
    private var cachedGeneration: UInt64 = .max
    private var cachedRequestType: ObjectIdentifier?
    private var cachedPolicy: AnyObject?
    /// The instance's access-log sink (nil: the instance does not log).
    private let accessLog: (any AccessLogSink)?
    let originalInjectBuffer: InjectBuffer
    let replyInjectBuffer: InjectBuffer

    init(instance: Instance, id: UInt64, parserName: String, ingress: Bool, sourceSecurityID: UInt32,
         destinationSecurityID: UInt32, sourceAddress: String, destinationAddress: String, policyName: String,
         port: UInt32, originalInjectBuffer: InjectBuffer, replyInjectBuffer: InjectBuffer) {
        self.instance = instance
        self.id = id
        self.parserName = parserName
        self.port = port
        self.originalInjectBuffer = originalInjectBuffer
        self.replyInjectBuffer = replyInjectBuffer
        self.accessLog = instance.accessLog
        self.facts = ConnectionFacts(
            isIngress: ingress, policyName: policyName, sourceSecurityID: sourceSecurityID,
            destinationSecurityID: destinationSecurityID, sourceAddress: sourceAddress,
            destinationAddress: destinationAddress)
    }

    func attach(_ parser: any Parser) {
        self.parser = parser
    }

    /// Drops the parser when the connection closes. Parsers keep their connection as a strong `let` (no
    /// reference counting per access, unlike `unowned`); this breaks that cycle.
    func detachParser() {
        parser = nil
    }

    /// The security id of the peer: the source on ingress, the destination on egress.
    public var remoteSecurityID: UInt32 { isIngress ? sourceSecurityID : destinationSecurityID }

    // MARK: Services for parsers

    /// Whether the endpoint policy allows `request` on this connection. Rules compiled by the rule parser of
    /// this connection's protocol receive `request` and decide; without a policy for `policyName` the answer
    /// is no.
    public func matches<Request>(_ request: Request) -> Bool {
        policy(for: Request.self).allows(request)
    }

    /// The connection's policy for requests of type `Request`, resolved again only when a new snapshot has
    /// been published (or the parser switches request types).
    public func policy<Request>(for type: Request.Type) -> ConnectionPolicy<Request> {
        let generation = instance.policyGenerationNow
        if generation == cachedGeneration, cachedRequestType == ObjectIdentifier(type), let cachedPolicy {
            // Same request type, so the cached object is a ConnectionPolicy<Request>.
            return unsafeDowncast(cachedPolicy, to: ConnectionPolicy<Request>.self)
        }
        let resolved: ConnectionPolicy<Request>
        if let endpoint = instance.policyMap.policy(named: policyName) {
            resolved = endpoint.resolve(ingress: isIngress, port: port, remoteID: remoteSecurityID, for: type)
        } else {
            Diagnostics.debug("policy for \(policyName) not found")
            resolved = .denyingAll
        }
        cachedPolicy = resolved
        cachedRequestType = ObjectIdentifier(type)
        cachedGeneration = generation
        return resolved
    }

    /// Appends `bytes` to the inject buffer of one direction (`reply: true` injects towards the client) and
    /// returns how many fit. The buffer is the caller's: it is never reallocated.
    @discardableResult
    public func inject(reply: Bool, _ bytes: UnsafeRawBufferPointer) -> Int {
        injectBuffer(reply: reply).append(bytes)
    }

    @discardableResult
    public func inject(reply: Bool, _ bytes: [UInt8]) -> Int {
        bytes.withUnsafeBytes { inject(reply: reply, $0) }
    }

    @discardableResult
    public func inject(reply: Bool, _ text: StaticString) -> Int {
        inject(reply: reply, UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// Appends the bytes of `input` (e.g. a frame being echoed or re-inserted) without an intermediate copy.
    @discardableResult
    public func inject(reply: Bool, _ input: InputView) -> Int {
        var total = 0
        input.forEachSegment { segment in
            let n = inject(reply: reply, segment)
            total += n
            return n == segment.count
        }
        return total
    }

    /// Whether the inject buffer of one direction has no room left.
    public func isInjectBufferFull(reply: Bool) -> Bool {
        injectBuffer(reply: reply).isFull
    }

    /// Free bytes in the inject buffer of one direction.
    public func injectSpace(reply: Bool) -> Int {
        injectBuffer(reply: reply).freeSpace
    }

    func injectBuffer(reply: Bool) -> InjectBuffer {
        reply ? replyInjectBuffer : originalInjectBuffer
    }

    /// Whether entries are sent anywhere (a parser may skip building what it would log).
    public var logsAccess: Bool { accessLog != nil }

    /// Sends an access-log entry for this connection. `l7` is only evaluated when the instance logs.
    public func log(_ type: AccessLogEntryType, _ l7: @autoclosure () -> L7LogRecord) {
        accessLog?.log(AccessLogEntry(timestampNanoseconds: Self.now(), entryType: type, connection: facts, l7: l7()))
    }

    private static func now() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return UInt64(truncatingIfNeeded: spec.tv_sec) &* 1_000_000_000 &+ UInt64(truncatingIfNeeded: spec.tv_nsec)
    }
}
