// The loaded libcilium.so and the one module instance the host opens, driven through CDatapath.
import CDatapath
import Glibc

struct HostError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// dlopen()ed library plus an OpenModule instance. The dp_library struct is written once (open) and only read
/// afterwards, from any thread: the datapath itself takes it as `const`.
final class ProxylibModule: @unchecked Sendable {
    let path: String
    let library: UnsafeMutablePointer<dp_library>
    private(set) var instanceID: UInt64 = 0

    /// Loads the library (RTLD_NOW, all five entry points); throws with dlerror()'s text.
    init(path: String) throws {
        let library = UnsafeMutablePointer<dp_library>.allocate(capacity: 1)
        library.initialize(to: dp_library())
        var errbuf = [CChar](repeating: 0, count: 1024)
        if dp_library_open(path, library, &errbuf, errbuf.count) != 0 {
            library.deinitialize(count: 1)
            library.deallocate()
            let message = errbuf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            throw HostError(message)
        }
        self.path = path
        self.library = library
    }

    deinit {
        library.deinitialize(count: 1)
        library.deallocate()
    }

    /// OpenModule with the given parameters; throws when the library refuses them (instance id 0).
    func open(params: [(String, String)], debug: Bool) throws {
        let keys = params.map { strdup($0.0) }
        let values = params.map { strdup($0.1) }
        defer {
            keys.forEach { free($0) }
            values.forEach { free($0) }
        }
        var cParams = (0..<params.count).map { dp_param(key: keys[$0], value: values[$0]) }
        let id = cParams.withUnsafeMutableBufferPointer {
            dp_open_module(library, $0.baseAddress, $0.count, debug ? 1 : 0)
        }
        if id == 0 {
            let shown = params.map { "\($0.0)=\($0.1)" }.joined(separator: " ")
            throw HostError("OpenModule refused the parameters (\(shown))")
        }
        instanceID = id
    }

    /// CloseModule, once.
    func close() {
        if instanceID != 0 {
            dp_close_module(library, instanceID)
            instanceID = 0
        }
    }
}

/// The name of a FilterResult ("OK", "POLICY_DROP", …).
func resultName(_ result: FilterResult) -> String { String(cString: dp_result_name(result)) }
