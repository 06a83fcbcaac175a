import CProxylib
@testable import ProxylibCore
import Synchronization

/// An op as the datapath sees it (`FilterOp`), readable in test tables: `.pass(5)` etc.
public typealias ExpectedOp = ParserOp

/// A connection driven through `ProxylibRuntime` exactly as through the C ABI: caller-owned inject buffers,
/// scatter-gather input and a caller-sized ops slice.
public final class TestConnection {
    public let runtime: ProxylibRuntime
    public let id: UInt64
    public let admission: FilterResult
    public let injectBufferSize: Int
    private let originalBuffer: UnsafeMutablePointer<GoSlice>
    private let replyBuffer: UnsafeMutablePointer<GoSlice>
    private let originalStorage: UnsafeMutablePointer<UInt8>
    private let replyStorage: UnsafeMutablePointer<UInt8>

    /// The last id handed out. Atomic: Swift Testing runs tests in parallel and some create connections on
    /// several threads (a plain static counter was a data race that ThreadSanitizer reported, and two
    /// connections could get the same id).
    private static let lastID = Atomic<UInt64>(1000)

    public init(runtime: ProxylibRuntime, instanceID: UInt64, parser: String, ingress: Bool = true,
                sourceID: UInt32 = 1, destinationID: UInt32 = 2, sourceAddress: String = "1.1.1.1:34567",
                destinationAddress: String = "10.0.0.2:80", policyName: String = "1.1.1.1",
                injectBufferSize: Int = 1024, id: UInt64? = nil) {
        let nextID = Self.lastID.wrappingAdd(1, ordering: .relaxed).newValue
        self.runtime = runtime
        self.id = id ?? nextID
        self.injectBufferSize = injectBufferSize
        originalStorage = .allocate(capacity: max(injectBufferSize, 1))
        replyStorage = .allocate(capacity: max(injectBufferSize, 1))
        originalBuffer = .allocate(capacity: 1)
        replyBuffer = .allocate(capacity: 1)
        originalBuffer.initialize(to: GoSlice(data: UnsafeMutableRawPointer(originalStorage), len: 0, cap: GoInt(injectBufferSize)))
        replyBuffer.initialize(to: GoSlice(data: UnsafeMutableRawPointer(replyStorage), len: 0, cap: GoInt(injectBufferSize)))
        admission = runtime.newConnection(
            instanceID: instanceID, parserName: parser, connectionID: self.id, ingress: ingress,
            sourceSecurityID: sourceID, destinationSecurityID: destinationID, sourceAddress: sourceAddress,
            destinationAddress: destinationAddress, policyName: policyName,
            originalInjectBuffer: originalBuffer, replyInjectBuffer: replyBuffer)
    }

    deinit {
        runtime.close(connectionID: id)
        originalStorage.deallocate()
        replyStorage.deallocate()
        originalBuffer.deallocate()
        replyBuffer.deallocate()
    }

    /// What one OnData call produced.
    public struct Outcome: Equatable, CustomStringConvertible {
        public var result: FilterResult
        public var ops: [ParserOp]
        /// Bytes in the inject buffer of the opposite (`reply: true` → original) direction… see `injected`.
        public var replyInjected: [UInt8]
        public var originalInjected: [UInt8]

        public var description: String {
            "result \(result.rawValue) ops \(ops) reply-inject \(String(decoding: replyInjected, as: UTF8.self).debugDescription) orig-inject \(String(decoding: originalInjected, as: UTF8.self).debugDescription)"
        }
    }

    /// Calls OnData with `segments` as the scatter-gather input and an ops slice of `opsCapacity`; then
    /// empties both inject buffers (as the datapath would after sending them) and returns what they held.
    public func onData(reply: Bool = false, endStream: Bool = false, segments: [[UInt8]], opsCapacity: Int = 16) -> Outcome {
        let storage = segments.map { segment -> UnsafeMutablePointer<UInt8> in
            let p = UnsafeMutablePointer<UInt8>.allocate(capacity: max(segment.count, 1))
            p.initialize(from: segment, count: segment.count)
            return p
        }
        defer { storage.forEach { $0.deallocate() } }
        var headers = zip(storage, segments).map { GoSlice(data: UnsafeMutableRawPointer($0.0), len: GoInt($0.1.count), cap: GoInt($0.1.count)) }
        var ops = [FilterOp](repeating: FilterOp(op: 0, n_bytes: 0), count: max(opsCapacity, 1))
        let result: FilterResult = headers.withUnsafeMutableBufferPointer { headerBuffer in
            ops.withUnsafeMutableBufferPointer { opsBuffer in
                var data = GoSlice(data: UnsafeMutableRawPointer(headerBuffer.baseAddress), len: GoInt(segments.count), cap: GoInt(segments.count))
                var opsSlice = GoSlice(data: UnsafeMutableRawPointer(opsBuffer.baseAddress), len: 0, cap: GoInt(opsCapacity))
                let result = runtime.onData(connectionID: id, reply: reply, endStream: endStream, data: &data, ops: &opsSlice)
                opsCount = Int(opsSlice.len)
                return result
            }
        }
        let decoded = ops.prefix(opsCount).map(Self.decode)
        return Outcome(result: result, ops: decoded, replyInjected: drain(replyBuffer), originalInjected: drain(originalBuffer))
    }

    public func onData(reply: Bool = false, endStream: Bool = false, _ segments: String..., opsCapacity: Int = 16) -> Outcome {
        onData(reply: reply, endStream: endStream, segments: segments.map { Array($0.utf8) }, opsCapacity: opsCapacity)
    }

    private var opsCount = 0

    /// Returns and clears the bytes in an inject buffer.
    private func drain(_ buffer: UnsafeMutablePointer<GoSlice>) -> [UInt8] {
        let count = Int(buffer.pointee.len)
        let bytes = Array(UnsafeRawBufferPointer(start: buffer.pointee.data, count: count))
        buffer.pointee.len = 0
        return bytes
    }

    /// Direct access for the datapath simulator: the inject buffer of one direction.
    func injectBuffer(reply: Bool) -> UnsafeMutablePointer<GoSlice> {
        reply ? replyBuffer : originalBuffer
    }

    static func decode(_ op: FilterOp) -> ParserOp {
        let n = Int(op.n_bytes)
        switch UInt32(truncatingIfNeeded: op.op) {
        case FILTEROP_MORE.rawValue: return .more(n)
        case FILTEROP_PASS.rawValue: return .pass(n)
        case FILTEROP_DROP.rawValue: return .drop(n)
        case FILTEROP_INJECT.rawValue: return .inject(n)
        default: return .error(ParserOpError(rawValue: op.n_bytes) ?? .invalidOpLength)
        }
    }
}

extension FilterResult: @retroactive CustomStringConvertible {
    public var description: String {
        switch self {
        case FILTER_OK: return "OK"
        case FILTER_POLICY_DROP: return "POLICY_DROP"
        case FILTER_PARSER_ERROR: return "PARSER_ERROR"
        case FILTER_UNKNOWN_PARSER: return "UNKNOWN_PARSER"
        case FILTER_UNKNOWN_CONNECTION: return "UNKNOWN_CONNECTION"
        case FILTER_INVALID_ADDRESS: return "INVALID_ADDRESS"
        case FILTER_INVALID_INSTANCE: return "INVALID_INSTANCE"
        default: return "UNKNOWN_ERROR(\(rawValue))"
        }
    }
}
