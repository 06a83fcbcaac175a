// swift-tools-version: 6.0
//
// swift-proxylib: builds `libcilium.so`, a drop-in replacement for the Go-built proxylib that cilium-envoy
// dlopen()s. The product links the Swift runtime statically and exports only the five C entry points.
import PackageDescription

let packageDirectory = Context.packageDirectory

/// Link settings that make the shared object self-contained and keep its dynamic symbol table to the ABI.
let sharedObjectLinkerFlags: [String] = [
    "-static-stdlib",
    "-use-ld=lld",
    "-Xlinker", "--version-script=\(packageDirectory)/proxylib.map",
    "-Xlinker", "-soname=libcilium.so",
    // dlclose() while a library thread is alive would unmap running code; Go's c-shared libraries are never
    // unloaded either.
    "-Xlinker", "-z", "-Xlinker", "nodelete",
    // Fail at link time, not at dlopen() time, on anything left undefined.
    "-Xlinker", "-z", "-Xlinker", "defs",
]

/// The datapath modules, in the release build: the optimizer specializes and inlines generic framework code
/// (`Connection.matches`, `InputView`) into the parsers across module boundaries, and per-connection state is
/// not checked for exclusive access at run time (a check is a thread-local lookup per access). Debug builds,
/// which run the unit tests, keep the dynamic exclusivity checks.
let hotPathSettings: [SwiftSetting] = [
    .unsafeFlags(["-cross-module-optimization", "-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "swift-proxylib",
    products: [
        .library(name: "cilium", type: .dynamic, targets: ["LibCilium"]),
        .executable(name: "proxylib-host", targets: ["ProxylibHost"]),
        .executable(name: "proxylib-fuzz", targets: ["ProxylibFuzz"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-atomics", from: "1.3.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-http2", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // The public C headers (Include/): the ABI types and the five entry points.
        .systemLibrary(name: "CProxylib", path: "Include"),

        // PCRE2 (static) behind a tiny C shim: policy regular expressions, read the way Go's regexp reads them.
        .target(
            name: "CPCRE2Shim",
            cSettings: [.define("PCRE2_CODE_UNIT_WIDTH", to: "8")],
            linkerSettings: [.unsafeFlags(["-Xlinker", "-l:libpcre2-8.a"])]
        ),

        // LZ4 and snappy (static) behind a tiny C shim: Cassandra's compressed frames and v5 segments. libsnappy.a is
        // C++: the C++ runtime is named right after it, since a debug executable's link does not otherwise ask for
        // it (in libcilium.so it is the static one, through the Makefile's static-cxx folder).
        .target(
            name: "CCompressionShim",
            linkerSettings: [.unsafeFlags(["-Xlinker", "-l:liblz4.a", "-Xlinker", "-l:libsnappy.a", "-Xlinker", "-lstdc++"])]
        ),

        // Framework: instances, connections, the op loop, the input view, policy and access-log models.
        .target(
            name: "ProxylibCore",
            dependencies: [
                "CProxylib",
                "CPCRE2Shim",
                .product(name: "Atomics", package: "swift-atomics"),
            ],
            swiftSettings: hotPathSettings
        ),

        // The L7 parsers, one folder per protocol.
        .target(name: "ProxylibParsers", dependencies: ["ProxylibCore", "CCompressionShim"], swiftSettings: hotPathSettings),

        // protobuf-c code generated from Proto/ (`make proto`), with libprotobuf-c linked statically.
        .target(
            name: "CCiliumProto",
            linkerSettings: [.unsafeFlags(["-Xlinker", "-l:libprotobuf-c.a"])]
        ),

        // The policy plane: NPDS (xDS over gRPC on a unix socket) into the instance's policy map.
        .target(
            name: "ProxylibNPDS",
            dependencies: [
                "ProxylibCore",
                "CCiliumProto",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
            ]
        ),

        // Access logging: cilium.LogEntry packets on the agent's SOCK_SEQPACKET socket, never blocking the datapath.
        .target(name: "ProxylibAccessLog", dependencies: ["ProxylibCore"], swiftSettings: hotPathSettings),

        // The C ABI boundary: thin @_cdecl glue.
        .target(
            name: "CiliumProxylib",
            dependencies: ["CProxylib", "ProxylibCore", "ProxylibParsers", "ProxylibNPDS", "ProxylibAccessLog"]
        ),

        // libcilium.so: the ABI boundary linked as a self-contained shared object. The link settings sit on this
        // thin target so that executables (the fuzzers) can link CiliumProxylib without them.
        .target(
            name: "LibCilium",
            dependencies: ["CiliumProxylib"],
            linkerSettings: [.unsafeFlags(sharedObjectLinkerFlags)]
        ),

        // cilium-envoy's datapath (onIo) in C: shared by the C test harness and the standalone host.
        .target(name: "CDatapath", dependencies: ["CProxylib"], cSettings: [.headerSearchPath("../../Include")]),

        // proxylib-host: runs libcilium.so in front of a real server without Envoy or Cilium — a TCP proxy with
        // cilium-envoy's datapath, an NPDS server fed from a policy file, and an access-log printer.
        .executableTarget(
            name: "ProxylibHost",
            dependencies: [
                "CDatapath", "CCiliumProto", "ProxylibNPDS",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
            ],
            // CDatapath's header includes "libcilium.h" (Include/): Swift's importer must find it too.
            swiftSettings: [.unsafeFlags(["-Xcc", "-I\(packageDirectory)/Include"])]
        ),

        // Fuzzing (Tests/Fuzz/README.md): the targets and their invariants, and `proxylib-fuzz`, which runs them
        // under libFuzzer in a `make fuzz` build (CFuzzerDriver bridges to it) or replays inputs in any build.
        .target(
            name: "ProxylibFuzzTargets",
            dependencies: ["CiliumProxylib", "CDatapath", "CProxylib", "ProxylibCore", "ProxylibNPDS",
                           "ProxylibAccessLog", "CCiliumProto"],
            swiftSettings: [.unsafeFlags(["-Xcc", "-I\(packageDirectory)/Include"])]
        ),
        .target(name: "CFuzzerDriver"),
        .executableTarget(name: "ProxylibFuzz", dependencies: ["ProxylibFuzzTargets", "CFuzzerDriver", "ProxylibCore"]),

        // Test tooling: replays parser vectors whole, byte by byte and randomly split.
        .target(name: "ProxylibTestSupport", dependencies: ["CProxylib", "ProxylibCore"], path: "Tests/ProxylibTestSupport"),

        .testTarget(name: "ProxylibCoreTests", dependencies: ["CProxylib", "ProxylibCore", "ProxylibTestSupport"]),
        .testTarget(
            name: "ProxylibNPDSTests",
            dependencies: [
                "ProxylibCore", "ProxylibParsers", "ProxylibNPDS", "CCiliumProto",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
            ],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "ProxylibAccessLogTests",
            dependencies: ["ProxylibCore", "ProxylibAccessLog", "CCiliumProto", "ProxylibParsers", "ProxylibTestSupport"]
        ),
        .testTarget(name: "ProxylibFuzzTests", dependencies: ["ProxylibFuzzTargets"]),
        .testTarget(name: "ProxylibHostTests", dependencies: ["ProxylibHost", "ProxylibNPDS", "CCiliumProto"]),
        .testTarget(
            name: "ProxylibParsersTests",
            dependencies: ["CProxylib", "ProxylibCore", "ProxylibParsers", "ProxylibTestSupport", "CiliumProxylib",
                           "CDatapath"],
            // Generated by Tests/kafka/vectors/generate.py; read by KafkaRequestVectorTests from the source tree.
            exclude: ["Kafka/Vectors"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
