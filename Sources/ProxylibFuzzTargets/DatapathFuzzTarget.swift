#if canImport(Glibc)
import Glibc
#endif
import CDatapath
import CProxylib
import CiliumProxylib
import ProxylibCore
import Synchronization

/// The datapath fuzz targets, one per parser: the fuzzer's bytes are a script of client and server writes
/// that run through cilium-envoy's datapath (`Sources/CDatapath`: onIo and the network filter around it) into
/// the library's five real entry points, in this process.
///
/// Script (every byte string is a valid script; reads past the end yield zeros):
///
///     byte 0     connection set-up: bits 0-1 remote identity (1, 7, 9, 2), bit 2 egress,
///                bits 3-5 ops per OnData call (16, 1, 2, 3, 4, 8, 16, 16),
///                bits 6-7 inject buffer size (1024, 1024, 64, 16)
///     then steps, each a byte `s`:
///       s & 3 == 0   client writes the next s >> 2 bytes (0-63)
///       s & 3 == 1   server writes the next s >> 2 bytes
///       s & 3 == 2   client writes the next s >> 2 bytes with end of stream
///       s & 3 == 3   by (s >> 2) & 7: 0 client writes a byte-counted string, 1 server writes one,
///                    2 server writes one with end of stream, 3 close mid-frame (the next write opens a new
///                    connection), 4 flush the reply inject buffer, 5 client writes a 16-bit-counted string,
///                    6 both sides end the stream, 7 the connection is closed and reopened at once
///
/// A write on a connection that the datapath closed (parser error) opens a new one first. Checked on every
/// OnData call: the op contract (`OpsContract`); when each connection ends: the parser's oracle on the bytes
/// that reached the server (a request the policy denies is never forwarded). Crashes, leaks and memory
/// errors are the fuzzing engine's and the sanitizers' to catch.
public enum DatapathFuzzTarget {
    struct Profile: Sendable {
        let parser: String
        let oracle: (any RequestOracle)?
        /// Whether the parser has a rule parser (policies for it can be installed).
        let hasPolicy: Bool
        /// Scripts run once when the instance is opened, before the first input: they make the parser build
        /// what it builds once per process or instance (kafka: its compiled message descriptions, the instance's
        /// topic-id map), which LeakSanitizer would otherwise report against the first input (the descriptions
        /// sit in indirect enums whose payload pointers it does not recognise; see Tests/Fuzz/lsan.supp).
        var warmUp: [[UInt8]] = []
    }

    static let profiles: [Profile] = [
        Profile(parser: "test.passer", oracle: PassEverythingOracle(), hasPolicy: false),
        Profile(parser: "test.lineparser", oracle: nil, hasPolicy: false),
        Profile(parser: "test.headerparser", oracle: HeaderLineOracle(), hasPolicy: true),
        Profile(parser: "test.blockparser", oracle: nil, hasPolicy: false),
        Profile(parser: "r2d2", oracle: R2D2Oracle(), hasPolicy: true),
        Profile(parser: "memcache", oracle: MemcacheOracle(), hasPolicy: true),
        Profile(parser: "cassandra", oracle: CassandraOracle(), hasPolicy: true),
        Profile(parser: "kafka", oracle: KafkaOracle(), hasPolicy: true, warmUp: KafkaSeeds.warmUp),
        Profile(parser: "redis", oracle: RedisOracle(), hasPolicy: true, warmUp: RedisSeeds.warmUp),
        // make new-parser: profiles go above this line.
    ]

    public static let targets: [FuzzTarget] = profiles.map { profile in
        let shortName = profile.parser.hasPrefix("test.") ? String(profile.parser.dropFirst(5)) : profile.parser
        return FuzzTarget(name: "datapath-\(shortName)",
                          summary: "\(profile.parser) through the C datapath and the five entry points",
                          prepare: { _ = try? DatapathDriver.shared.instanceID(for: profile) },
                          run: { bytes in try DatapathDriver.shared.run(profile, bytes) })
    }
}

/// Runs datapath scripts; one per process, used by one script at a time (the C callbacks reach it through a
/// global, as C function pointers carry no context).
final class DatapathDriver: Sendable {
    static let shared = DatapathDriver()

    private let lock = Mutex<Void>(())
    /// Library instances by parser, each opened once with its policy installed.
    private let instances = Mutex<[String: UInt64]>([:])

    func run(_ profile: DatapathFuzzTarget.Profile, _ bytes: UnsafeRawBufferPointer) throws(FuzzViolation) {
        let instance = try instanceID(for: profile)
        try lock.withLock { _ throws(FuzzViolation) in
            var script = FuzzInput(bytes)
            let session = DatapathSession(profile: profile, instance: instance, setup: script.byte())
            defer { session.finish() }
            try session.play(&script)
        }
    }

    func instanceID(for profile: DatapathFuzzTarget.Profile) throws(FuzzViolation) -> UInt64 {
        let id: UInt64? = instances.withLock { opened in
            if let id = opened[profile.parser] { return id }
            // Entries go to a socket that is never there: they are encoded and queued (then dropped), which is
            // the part of logging that runs on the datapath.
            let id = runtime.openModule([("access-log-path", "/nonexistent/proxylib-fuzz-\(profile.parser).sock")],
                                        debug: false)
            guard id != 0, let instance = runtime.instances.find(id) else { return nil }
            if profile.hasPolicy, let oracle = profile.oracle {
                do {
                    try instance.updatePolicy(oracle.policy(for: profile.parser), version: "fuzz")
                } catch {
                    return nil
                }
            }
            opened[profile.parser] = id
            for script in profile.warmUp {
                script.withUnsafeBytes { bytes in
                    var input = FuzzInput(bytes)
                    let session = DatapathSession(profile: profile, instance: id, setup: input.byte())
                    try? session.play(&input)
                    session.finish()
                }
            }
            return id
        }
        guard let id else { throw FuzzViolation("cannot open an instance with the fuzz policy for \(profile.parser)") }
        return id
    }
}

/// The connection state of one script.
final class DatapathSession {
    let profile: DatapathFuzzTarget.Profile
    let instance: UInt64
    let remote: UInt32
    let ingress: Bool
    let options: dp_conn_options

    private var connection: OpaquePointer?
    private var toServer = dp_buf()
    private var toClient = dp_buf()
    /// What reached the server and what the client wrote, on the current connection.
    private var forwarded: [UInt8] = []
    private var written: [UInt8] = []
    /// Every write of the current connection and what came out of it (for oracles that follow a conversation).
    private var events: [DatapathEvent] = []
    /// Bytes the library put into the reply / orig inject buffer during the current write's OnData calls.
    var injectedToClient: [UInt8] = []
    var injectedToServer: [UInt8] = []
    /// The first op-contract violation seen by the checking OnData.
    var violation: FuzzViolation?

    nonisolated(unsafe) private static var nextConnectionID: UInt64 = 1
    /// `PROXYLIB_FUZZ_TRACE=1`: print every connection's writes when it ends (for reading a failing input).
    static let trace = getenv("PROXYLIB_FUZZ_TRACE") != nil
    /// The session whose connection the checking OnData is serving.
    nonisolated(unsafe) static var current: DatapathSession?

    init(profile: DatapathFuzzTarget.Profile, instance: UInt64, setup: UInt8) {
        self.profile = profile
        self.instance = instance
        remote = [1, 7, 9, 2][Int(setup & 3)]
        ingress = setup & 4 == 0
        var options = dp_conn_options()
        options.max_ops = [16, 1, 2, 3, 4, 8, 16, 16][Int(setup >> 3 & 7)]
        options.inject_size = [1024, 1024, 64, 16][Int(setup >> 6 & 3)]
        self.options = options
        dp_buf_init(&toServer)
        dp_buf_init(&toClient)
        Self.current = self
    }

    func finish() {
        closeConnection()
        dp_buf_free(&toServer)
        dp_buf_free(&toClient)
        Self.current = nil
    }

    func play(_ script: inout FuzzInput) throws(FuzzViolation) {
        while !script.isAtEnd {
            let step = script.byte()
            let short = Int(step >> 2)
            switch step & 3 {
            case 0: try write(client: true, script.take(short), endStream: false)
            case 1: try write(client: false, script.take(short), endStream: false)
            case 2: try write(client: true, script.take(short), endStream: true)
            default:
                switch short & 7 {
                case 0: try write(client: true, script.take(Int(script.byte())), endStream: false)
                case 1: try write(client: false, script.take(Int(script.byte())), endStream: false)
                case 2: try write(client: false, script.take(Int(script.byte())), endStream: true)
                case 3: try endConnection()
                case 4:
                    if let connection {
                        dp_buf_truncate(&toClient, 0)
                        let result = dp_flush_reply_inject(connection, &toClient)
                        record(.flush, input: UnsafeRawBufferPointer(start: nil, count: 0), endStream: false, result: result)
                        try check(result)
                    }
                case 5: try write(client: true, script.take(Int(script.uint16())), endStream: false)
                case 6:
                    try write(client: true, UnsafeRawBufferPointer(start: nil, count: 0), endStream: true)
                    try write(client: false, UnsafeRawBufferPointer(start: nil, count: 0), endStream: true)
                default:
                    try endConnection()
                    try open()
                }
            }
            if let violation { throw violation }
        }
        try endConnection()
        if let violation { throw violation }
    }

    private func write(client: Bool, _ data: UnsafeRawBufferPointer, endStream: Bool) throws(FuzzViolation) {
        if connection == nil { try open() }
        guard let connection else { return }
        let base = data.baseAddress?.assumingMemoryBound(to: UInt8.self)
        let result: FilterResult
        if client {
            written.append(contentsOf: data)
            result = dp_filter_on_data(connection, base, data.count, endStream ? 1 : 0, &toServer, &toClient)
        } else {
            result = dp_filter_on_write(connection, base, data.count, endStream ? 1 : 0, &toClient)
        }
        if toServer.len > 0, let bytes = toServer.data {
            forwarded.append(contentsOf: UnsafeBufferPointer(start: bytes, count: toServer.len))
        }
        record(client ? .client : .server, input: data, endStream: endStream, result: result)
        dp_buf_truncate(&toServer, 0)
        dp_buf_truncate(&toClient, 0)
        try check(result)
    }

    /// Records one write (or reply-inject flush) of the current connection with what it produced.
    private func record(_ source: DatapathEvent.Source, input: UnsafeRawBufferPointer, endStream: Bool,
                        result: FilterResult) {
        func bytes(_ buffer: dp_buf) -> [UInt8] {
            guard buffer.len > 0, let data = buffer.data else { return [] }
            return Array(UnsafeBufferPointer(start: data, count: buffer.len))
        }
        events.append(DatapathEvent(source: source, input: Array(input), endStream: endStream,
                                    toServer: source == .client ? bytes(toServer) : [], toClient: bytes(toClient),
                                    injectedToClient: injectedToClient, injectedToServer: injectedToServer,
                                    failed: result != FILTER_OK))
        injectedToClient = []
        injectedToServer = []
    }

    /// A non-OK result has closed the connection; only a parser error may be the reason.
    private func check(_ result: FilterResult) throws(FuzzViolation) {
        switch result {
        case FILTER_OK:
            return
        case FILTER_PARSER_ERROR:
            // The parser failed (or broke the op contract, which the checking OnData reports itself); the
            // datapath closed the connection, and what reached the server so far is still checked.
            try endConnection()
        default:
            throw FuzzViolation("datapath result \(String(cString: dp_result_name(result))) on an open connection")
        }
    }

    private func open() throws(FuzzViolation) {
        let id = Self.nextConnectionID
        Self.nextConnectionID &+= 1
        var options = self.options
        var opened: OpaquePointer?
        let result = dp_conn_new_ex(&DatapathLibrary.entryPoints, instance, profile.parser, id, ingress ? 1 : 0,
                                    remote, remote, "1.2.3.4:40000", "10.0.0.2:80", FuzzPolicies.endpoint,
                                    &options, &opened)
        guard result == FILTER_OK, let opened else {
            throw FuzzViolation("OnNewConnection for \(profile.parser) returned \(String(cString: dp_result_name(result)))")
        }
        connection = opened
    }

    /// Ends the current connection (if any) and runs the oracle over what it forwarded.
    private func endConnection() throws(FuzzViolation) {
        guard connection != nil else { return }
        closeConnection()
        let record = ConnectionRecord(events: events, forwarded: forwarded, written: written)
        if Self.trace {
            record.print(remote: remote)
            fflush(nil)
        }
        forwarded = []
        written = []
        events = []
        try profile.oracle?.checkConnection(record, remote: remote)
    }

    private func closeConnection() {
        guard let connection else { return }
        dp_conn_free(connection)
        self.connection = nil
    }

    /// The inject slice headers of the current connection: orig, reply.
    var injectSlices: [UnsafeMutablePointer<GoSlice>] {
        guard let connection else { return [] }
        return [dp_conn_inject_slice(connection, 0), dp_conn_inject_slice(connection, 1)]
    }
}

/// The five entry points as the datapath calls them, OnData wrapped in the op-contract check.
enum DatapathLibrary {
    nonisolated(unsafe) static var entryPoints: dp_library = {
        var library = dp_library()
        library.open_module = { params, debug in CiliumProxylib.OpenModule(params, debug) }
        library.close_module = { id in CiliumProxylib.CloseModule(id) }
        library.on_new_connection = { instance, proto, id, ingress, source, destination, sourceAddress,
                                       destinationAddress, policy, originalBuffer, replyBuffer in
            CiliumProxylib.OnNewConnection(instance, proto, id, ingress, source, destination, sourceAddress,
                                           destinationAddress, policy, originalBuffer, replyBuffer)
        }
        library.on_data = { id, reply, endStream, data, ops in checkingOnData(id, reply, endStream, data, ops) }
        library.close = { id in CiliumProxylib.Close(id) }
        return library
    }()

    static func checkingOnData(_ id: GoUint64, _ reply: GoUint8, _ endStream: GoUint8,
                               _ data: UnsafeMutablePointer<GoSlice>?,
                               _ ops: UnsafeMutablePointer<GoSlice>?) -> FilterResult {
        guard let session = DatapathSession.current, let ops else {
            return CiliumProxylib.OnData(id, reply, endStream, data, ops)
        }
        var offered = 0
        if let data, let segments = data.pointee.data?.assumingMemoryBound(to: GoSlice.self) {
            for index in 0..<max(Int(data.pointee.len), 0) { offered += Int(segments[index].len) }
        }
        let opsBefore = ops.pointee
        let slices = session.injectSlices
        let injectBefore = slices.map { OpsContract.InjectState(data: $0.pointee.data, cap: $0.pointee.cap) }
        let injectLengths = slices.map { $0.pointee.len }
        let result = CiliumProxylib.OnData(id, reply, endStream, data, ops)
        // What the library appended to each inject buffer in this call (it only raises the lengths).
        for (index, slice) in slices.enumerated() where slice.pointee.data == injectBefore[index].data {
            let before = Int(injectLengths[index]), after = Int(slice.pointee.len)
            guard after > before, before >= 0, after <= Int(slice.pointee.cap), let base = slice.pointee.data else { continue }
            let added = UnsafeRawBufferPointer(start: base + before, count: after - before)
            if index == 1 { session.injectedToClient += added } else { session.injectedToServer += added }
        }
        do {
            try OpsContract.check(result: result, offered: offered, opsBefore: opsBefore, opsAfter: ops.pointee,
                                  reply: reply != 0, injectBefore: injectBefore, injectAfter: slices.map(\.pointee))
        } catch {
            if session.violation == nil { session.violation = error }
        }
        return result
    }
}
