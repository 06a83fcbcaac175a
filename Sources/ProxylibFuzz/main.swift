// proxylib-fuzz: the fuzz targets of Sources/ProxylibFuzzTargets behind one command.
//
//   proxylib-fuzz list
//   proxylib-fuzz seeds OUTPUT-FOLDER NPDS-FIXTURE-FOLDER      (writes the seed corpora)
//   proxylib-fuzz TARGET [libFuzzer flags] [corpus folders]    (a `make fuzz` build: runs libFuzzer)
//   proxylib-fuzz TARGET FILE|FOLDER...                        (any build: replays the inputs, reports violations)
//
// A broken invariant aborts with its description, so libFuzzer keeps the input as a crash.
#if canImport(Glibc)
import Glibc
#endif
import CFuzzerDriver
import ProxylibCore
import ProxylibFuzzTargets

nonisolated(unsafe) var selected: FuzzTarget?

func runOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let target = selected else { return 0 }
    do {
        try target.run(UnsafeRawBufferPointer(start: data, count: size))
    } catch {
        printError("proxylib-fuzz \(target.name): invariant broken: \(error)\n")
        abort()
    }
    return 0
}

func printError(_ text: String) {
    _ = text.withCString { write(STDERR_FILENO, $0, strlen($0)) }
}

func usage() -> Never {
    var text = "usage: proxylib-fuzz list | TARGET [libFuzzer flags] [corpus folders or files]\ntargets:\n"
    for target in FuzzTargets.all { text += "  \(target.name)\t\(target.summary)\n" }
    printError(text)
    exit(2)
}

var arguments = CommandLine.arguments
// libFuzzer's -jobs/-fork run this executable again with the flags it was given, which no longer name the
// target: the parent leaves the name in the environment for them.
let targetVariable = "PROXYLIB_FUZZ_TARGET"
if let inherited = getenv(targetVariable).map({ String(cString: $0) }),
   arguments.count < 2 || FuzzTargets.named(arguments[1]) == nil, FuzzTargets.named(inherited) != nil {
    arguments.insert(inherited, at: 1)
}
guard arguments.count >= 2 else { usage() }
if arguments[1] == "seeds" {
    // proxylib-fuzz seeds OUTPUT-FOLDER NPDS-FIXTURE-FOLDER
    guard arguments.count == 4 else { usage() }
    exit(FuzzSeeds.write(to: arguments[2], fixtures: arguments[3]) ? 0 : 1)
}
if arguments[1] == "list" {
    for target in FuzzTargets.all { print(target.name) }
    exit(0)
}
guard let target = FuzzTargets.named(arguments[1]) else { usage() }
selected = target
setenv(targetVariable, target.name, 1)
Diagnostics.setErrorsSilenced(true)
target.prepare()

if proxylib_fuzzer_available() != 0 {
    // libFuzzer sees the command line without the target name.
    var argv: [UnsafeMutablePointer<CChar>?] = [strdup(arguments[0])] + arguments.dropFirst(2).map { strdup($0) } + [nil]
    var argc = Int32(argv.count - 1)
    let status = argv.withUnsafeMutableBufferPointer { buffer -> Int32 in
        var base: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = buffer.baseAddress
        return proxylib_fuzzer_run(&argc, &base) { data, size in runOne(data, size) }
    }
    exit(status)
}

// Replay: every file named, and every file in every folder named.
var files: [String] = []
for path in arguments.dropFirst(2) where !path.hasPrefix("-") {
    if let directory = opendir(path) {
        closedir(directory)
        files += FuzzSeeds.fixtureNames(in: path, suffix: "").map { path + "/" + $0 }
    } else {
        files.append(path)
    }
}
files.sort()
for file in files {
    guard let bytes = FuzzSeeds.read(file) else {
        printError("proxylib-fuzz: cannot open \(file)\n")
        exit(1)
    }
    _ = bytes.withUnsafeBufferPointer { runOne($0.baseAddress, $0.count) }
}
print("proxylib-fuzz \(target.name): \(files.count) inputs replayed, no invariant broken")
