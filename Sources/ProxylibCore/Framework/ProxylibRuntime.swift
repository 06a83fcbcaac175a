import CProxylib

/// Everything behind the five C entry points: the registry of parsers, the open instances and the live
/// connections. The ABI layer converts C types and calls these; tests call them directly.
public final class ProxylibRuntime: Sendable {
    public let registry: ParserRegistry
    public let instances = InstanceTable()
    public let connections = ConnectionTable()
    /// Makes the access-log sink of a new instance (nil: the instance does not log).
    private let makeAccessLog: @Sendable (ModuleParams) -> (any AccessLogSink)?
    /// Starts the policy source of a new instance (nil: none, e.g. no `xds-path`). Called while OpenModule
    /// waits, so it may block until its first connection attempt has succeeded or failed.
    private let makePolicySource: @Sendable (Instance) -> (any InstanceService)?

    public init(registry: ParserRegistry,
                makeAccessLog: @escaping @Sendable (ModuleParams) -> (any AccessLogSink)? = { _ in nil },
                makePolicySource: @escaping @Sendable (Instance) -> (any InstanceService)? = { _ in nil }) {
        self.registry = registry
        self.makeAccessLog = makeAccessLog
        self.makePolicySource = makePolicySource
    }

    /// `OpenModule`: 0 when a parameter key is unknown.
    public func openModule(_ pairs: [(key: String, value: String)], debug: Bool) -> UInt64 {
        if debug { Diagnostics.setDebug(true) }
        guard let params = ModuleParams(pairs: pairs) else { return 0 }
        return instances.open(params) { id in
            let accessLog = makeAccessLog(params)
            let instance = Instance(id: id, params: params, registry: registry, accessLog: accessLog)
            var services: [any InstanceService] = []
            if let source = makePolicySource(instance) { services.append(source) }
            if let closable = accessLog as? any InstanceService { services.append(closable) }
            return (instance, services)
        }
    }

    /// `CloseModule`.
    public func closeModule(_ id: UInt64) {
        instances.close(id)
    }

    /// `OnNewConnection`.
    public func newConnection(
        instanceID: UInt64, parserName: String, connectionID: UInt64, ingress: Bool,
        sourceSecurityID: UInt32, destinationSecurityID: UInt32, sourceAddress: String,
        destinationAddress: String, policyName: String,
        originalInjectBuffer: UnsafeMutablePointer<GoSlice>?, replyInjectBuffer: UnsafeMutablePointer<GoSlice>?
    ) -> FilterResult {
        guard let instance = instances.find(instanceID) else { return FILTER_INVALID_INSTANCE }
        guard let factory = registry.factory(named: parserName) else {
            Diagnostics.debug("OnNewConnection: unknown parser \"\(parserName)\"")
            return FILTER_UNKNOWN_PARSER
        }
        guard let port = DestinationPort.parse(destinationAddress) else {
            Diagnostics.debug("OnNewConnection: no usable port in destination address \"\(destinationAddress)\"")
            return FILTER_INVALID_ADDRESS
        }
        let connection = Connection(
            instance: instance, id: connectionID, parserName: parserName, ingress: ingress,
            sourceSecurityID: sourceSecurityID, destinationSecurityID: destinationSecurityID,
            sourceAddress: sourceAddress, destinationAddress: destinationAddress, policyName: policyName,
            port: port, originalInjectBuffer: InjectBuffer(header: originalInjectBuffer),
            replyInjectBuffer: InjectBuffer(header: replyInjectBuffer))
        guard let parser = factory.makeParser(for: connection) else {
            Diagnostics.debug("OnNewConnection: parser \(parserName) refused connection \(connectionID)")
            return FILTER_POLICY_DROP
        }
        connection.attach(parser)
        connections.insert(connection)
        return FILTER_OK
    }

    /// `OnData`.
    public func onData(connectionID: UInt64, reply: Bool, endStream: Bool,
                       data: UnsafeMutablePointer<GoSlice>?, ops: UnsafeMutablePointer<GoSlice>?) -> FilterResult {
        guard let connection = connections.find(connectionID) else { return FILTER_UNKNOWN_CONNECTION }
        let input: InputView?
        if let data {
            input = InputView(segments: data.pointee.data.map { UnsafePointer($0.assumingMemoryBound(to: GoSlice.self)) },
                              count: Int(data.pointee.len))
        } else {
            input = .empty
        }
        guard let input, let ops else {
            Diagnostics.error("OnData: connection \(connectionID): malformed data or filterOps slice")
            return FILTER_UNKNOWN_ERROR
        }
        return connection.onData(reply: reply, endStream: endStream, input: input, ops: ops)
    }

    /// `Close`.
    public func close(connectionID: UInt64) {
        connections.remove(connectionID)
    }
}
