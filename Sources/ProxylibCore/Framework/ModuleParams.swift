/// The parameters of `OpenModule` (cilium-envoy passes `proxylib_params` from its NetworkFilter config).
public struct ModuleParams: Equatable, Sendable {
    /// The SOCK_SEQPACKET socket of the agent's access-log server; empty: no access logging.
    public var accessLogPath = ""
    /// The unix socket of the agent's NPDS (xDS) server; empty: no policy source.
    public var xdsPath = ""
    /// The xDS node id; empty: `host~127.0.0.2~libcilium-<instance>~localdomain`.
    public var nodeID = ""

    public init(accessLogPath: String = "", xdsPath: String = "", nodeID: String = "") {
        self.accessLogPath = accessLogPath
        self.xdsPath = xdsPath
        self.nodeID = nodeID
    }

    /// Reads key/value pairs; nil when a key is not one of the three known keys (OpenModule then fails).
    /// A repeated key keeps its last value.
    public init?(pairs: [(key: String, value: String)]) {
        for (key, value) in pairs {
            switch key {
            case "access-log-path": accessLogPath = value
            case "xds-path": xdsPath = value
            case "node-id": nodeID = value
            default:
                Diagnostics.error("OpenModule: unknown parameter \"\(key)\" (known: access-log-path, xds-path, node-id)")
                return nil
            }
        }
    }

    /// Whether an open instance with `existing` parameters serves these (upstream: an empty node id matches
    /// any node id).
    func canShare(_ existing: ModuleParams) -> Bool {
        (nodeID.isEmpty || nodeID == existing.nodeID)
            && xdsPath == existing.xdsPath && accessLogPath == existing.accessLogPath
    }
}
