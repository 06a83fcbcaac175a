import CProxylib
import ProxylibAccessLog
import ProxylibCore
import ProxylibNPDS
import ProxylibParsers

/// The process-wide library state, created on first use (Swift globals initialize once, thread-safely).
/// An instance with an `xds-path` gets an NPDS client feeding its policy map; one with an `access-log-path` an
/// access-log client.
/// Public for in-process drivers of the entry points (the fuzzers install policies into its instances).
public let runtime = ProxylibRuntime(
    registry: BuiltinParsers.registry,
    makeAccessLog: { params in
        params.accessLogPath.isEmpty ? nil : AccessLogClient(path: params.accessLogPath)
    },
    makePolicySource: { instance in
        instance.params.xdsPath.isEmpty
            ? nil : NPDSClient(path: instance.params.xdsPath, nodeID: instance.nodeID, instance: instance)
    })

// The five entry points cilium-envoy resolves with dlsym(). Their C prototypes are in Include/libcilium.h;
// this glue only converts types.

@_cdecl("OpenModule")
public func OpenModule(_ params: GoSlice, _ debug: GoUint8) -> GoUint64 {
    guard let pairs = params.stringPairs else {
        Diagnostics.error("OpenModule: malformed params slice")
        return 0
    }
    return runtime.openModule(pairs, debug: debug != 0)
}

@_cdecl("CloseModule")
public func CloseModule(_ id: GoUint64) {
    runtime.closeModule(id)
}

@_cdecl("OnNewConnection")
public func OnNewConnection(
    _ instanceId: GoUint64, _ proto: GoString, _ connectionId: GoUint64, _ ingress: GoUint8,
    _ srcId: GoUint32, _ dstId: GoUint32, _ srcAddr: GoString, _ dstAddr: GoString, _ policyName: GoString,
    _ origBuf: UnsafeMutablePointer<GoSlice>?, _ replyBuf: UnsafeMutablePointer<GoSlice>?
) -> FilterResult {
    runtime.newConnection(
        instanceID: instanceId, parserName: proto.string, connectionID: connectionId, ingress: ingress != 0,
        sourceSecurityID: srcId, destinationSecurityID: dstId, sourceAddress: srcAddr.string,
        destinationAddress: dstAddr.string, policyName: policyName.string,
        originalInjectBuffer: origBuf, replyInjectBuffer: replyBuf)
}

@_cdecl("OnData")
public func OnData(
    _ connectionId: GoUint64, _ reply: GoUint8, _ endStream: GoUint8,
    _ data: UnsafeMutablePointer<GoSlice>?, _ filterOps: UnsafeMutablePointer<GoSlice>?
) -> FilterResult {
    runtime.onData(connectionID: connectionId, reply: reply != 0, endStream: endStream != 0,
                   data: data, ops: filterOps)
}

@_cdecl("Close")
public func Close(_ connectionId: GoUint64) {
    runtime.close(connectionID: connectionId)
}
