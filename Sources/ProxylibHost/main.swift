// proxylib-host: runs a libcilium.so parser in front of a real server, without Envoy or Cilium.
//
// It loads the library, serves it a policy from a file over NPDS (Policy/), collects its access log
// (AccessLog/), and proxies TCP from --listen to --upstream through cilium-envoy's datapath (Proxy/, CDatapath).
// Access-log lines go to stdout; status, policy reports, connection errors and debug lines go to stderr.
import ArgumentParser
import CDatapath
import Glibc
import NIOCore
import Synchronization

enum TrafficDirection: String, EnumerableFlag {
    case ingress, egress

    static func help(for value: TrafficDirection) -> ArgumentHelp? {
        switch value {
        case .ingress: return "Connections are ingress to the upstream endpoint."
        case .egress: return "Connections are egress from the endpoint."
        }
    }
}

struct ProxylibHostCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proxylib-host",
        abstract: "Run a proxylib parser (libcilium.so) as a TCP proxy, without Envoy or Cilium.",
        discussion: """
            Every connection accepted on --listen is connected to --upstream and both directions run through the \
            library with cilium-envoy's datapath semantics. The policy file is served to the library over NPDS \
            for the upstream's IP (the policy name of every connection) and reloaded when it changes. Access-log \
            entries are printed on stdout, one line each; everything else goes to stderr.
            """)

    @Option(help: "The parser (l7proto) name, e.g. r2d2 or test.lineparser.")
    var parser: String

    @Option(help: ArgumentHelp("Address to accept connections on.", valueName: "addr:port"))
    var listen: String

    @Option(help: ArgumentHelp("Server to connect each connection to.", valueName: "addr:port"))
    var upstream: String

    @Option(help: ArgumentHelp("YAML policy file served to the library over NPDS.", valueName: "file"))
    var policy: String

    @Option(help: ArgumentHelp(
        "The library to load (default: build/libcilium.so, else the one installed or built next to this executable).",
        valueName: "path"))
    var library: String?

    @Flag var direction: TrafficDirection = .ingress

    @Option(name: .customLong("src-id"), help: "Security identity of the source (the client side).")
    var srcID: UInt32 = 1

    @Option(name: .customLong("dst-id"), help: "Security identity of the destination (the upstream side).")
    var dstID: UInt32 = 2

    @Flag(name: .customLong("log-json"), help: "Print access-log entries as JSON objects, one per line.")
    var logJSON = false

    @Flag(name: .customLong("no-access-log"),
          help: "Open the library without an access log (it then logs nothing): for throughput measurements.")
    var noAccessLog = false

    @Flag(help: "Open the library in debug mode and print connection and datapath events on stderr.")
    var debug = false

    func validate() throws {
        if HostAddress(parsing: listen) == nil {
            throw ValidationError("--listen: expected ADDR:PORT (e.g. 127.0.0.1:8000 or [::1]:8000), got '\(listen)'")
        }
        if HostAddress(parsing: upstream) == nil {
            throw ValidationError("--upstream: expected ADDR:PORT (e.g. 127.0.0.1:9000 or [::1]:9000), got '\(upstream)'")
        }
        if parser.isEmpty { throw ValidationError("--parser must not be empty") }
    }

    func run() throws {
        do {
            try Host(command: self).run()
        } catch let error as HostError {
            Console.err("proxylib-host: error: \(error.description)")
            throw ExitCode(1)
        }
    }
}

/// Start-up, the wait for a signal, and shutdown.
struct Host {
    let command: ProxylibHostCommand

    func run() throws {
        // Block the stop signals before any thread exists, so that every thread inherits the mask and the main
        // thread can take them with sigwait().
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        signal(SIGPIPE, SIG_IGN)

        let listenAddress = HostAddress(parsing: command.listen)!
        let upstreamAddress = HostAddress(parsing: command.upstream)!
        let upstream: SocketAddress
        let listen: SocketAddress
        do {
            upstream = try upstreamAddress.resolve()
        } catch {
            throw HostError("cannot resolve --upstream \(upstreamAddress): \(error)")
        }
        do {
            listen = try listenAddress.resolve(listening: true)
        } catch {
            throw HostError("cannot resolve --listen \(listenAddress): \(error)")
        }
        guard access(command.policy, R_OK) == 0 else {
            throw HostError("cannot read the policy file \(command.policy): \(String(cString: strerror(errno)))")
        }

        let module = try ProxylibModule(path: try libraryPath())
        let policyName = upstream.ipAddress ?? upstreamAddress.host

        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let xdsPath = directory.path + "/xds.sock"
        let accessLogPath = directory.path + "/access_log.sock"

        if command.debug { Console.err("debug: NPDS socket \(xdsPath), access-log socket \(accessLogPath)") }

        let collector = command.noAccessLog ? nil : try AccessLogCollector(path: accessLogPath, json: command.logJSON)
        try collector?.start()
        defer { collector?.stop() }

        let reported = Atomic<Bool>(false)
        let policyServer: PolicyServer
        do {
            policyServer = try PolicyServer(
                file: command.policy, socketPath: xdsPath, endpointIP: policyName,
                ingress: command.direction == .ingress,
                report: { line in
                    Console.err("policy: \(line)")
                    reported.store(true, ordering: .releasing)
                })
            try policyServer.start()
        } catch let error as HostError {
            throw error
        } catch {
            let text = "\(error)"
            throw HostError(text.contains(command.policy) ? text : "policy \(command.policy): \(text)")
        }
        defer { policyServer.stop() }

        var params = [("xds-path", xdsPath)]
        if collector != nil { params.append(("access-log-path", accessLogPath)) }
        try module.open(params: params, debug: command.debug)
        defer { module.close() }

        // Give the first policy a moment to arrive (its ACK or NACK is reported), so that the first connections
        // are not denied merely for being early.
        for _ in 0..<300 where !reported.load(ordering: .acquiring) {
            usleep(10_000)
        }

        let config = ProxyConfig(
            module: module, parser: command.parser, ingress: command.direction == .ingress,
            srcID: command.srcID, dstID: command.dstID, upstream: upstream, upstreamText: upstream.proxylibString,
            policyName: policyName, debug: command.debug)
        let server = ProxyServer(config: config)
        defer { server.stop() }
        try server.probeParser()
        let bound = try server.start(listen: listen, listenText: listenAddress.description)

        Console.err("proxylib-host: listening on \(bound?.proxylibString ?? listenAddress.description), "
            + "upstream \(config.upstreamText), parser \(command.parser), policy \(policyName) "
            + "\(command.direction.rawValue), library \(module.path)")

        var received: Int32 = 0
        while sigwait(&signals, &received) != 0 {}
        Console.err("proxylib-host: \(received == SIGINT ? "SIGINT" : "SIGTERM"), shutting down")
    }

    /// --library, else build/libcilium.so in the current directory, else a libcilium.so next to this executable,
    /// installed beside it (../lib) or in its package's build directories.
    private func libraryPath() throws -> String {
        if let library = command.library { return library }
        var candidates = ["build/libcilium.so"]
        var exe = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &exe, exe.count - 1)
        if n > 0 {
            let path = exe.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            let directory = String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)])
            // <package>/.build[-x]/<triple>/<configuration>/proxylib-host
            let package = directory + "/../../.."
            candidates += [
                directory + "/libcilium.so",
                // Installed: $(PREFIX)/bin/proxylib-host beside $(PREFIX)/lib/libcilium.so.
                directory + "/../lib/libcilium.so",
                directory + "/../release/libcilium.so",
                package + "/build/libcilium.so",
                package + "/.build/release/libcilium.so",
            ]
        }
        if let found = candidates.first(where: { access($0, R_OK) == 0 }) {
            var resolved = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            if realpath(found, &resolved) != nil {
                return resolved.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            }
            return found
        }
        throw HostError("no libcilium.so found (tried \(candidates.joined(separator: ", "))); use --library PATH")
    }
}

/// A private directory (mkdtemp, mode 0700) for the NPDS and access-log sockets, removed at exit.
struct TemporaryDirectory {
    let path: String

    init() throws {
        let base = String(cString: getenv("TMPDIR") ?? strdup("/tmp"))
        var template = Array((base + "/proxylib-host.XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else {
            throw HostError("cannot create a temporary directory in \(base): \(String(cString: strerror(errno)))")
        }
        path = String(cString: made)
    }

    /// Removes the directory and whatever sockets are left in it.
    func remove() {
        if let dir = opendir(path) {
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
                }
                if name != "." && name != ".." { unlink(path + "/" + name) }
            }
            closedir(dir)
        }
        rmdir(path)
    }
}

ProxylibHostCommand.main()
