import CCiliumProto
import Glibc
import ProxylibCore

/// What an NPDS client puts in a `DiscoveryRequest` (`resource_names` is always empty: every policy).
public struct DiscoveryRequestFields: Equatable, Sendable {
    /// The version last applied; empty before the first ACK.
    public var versionInfo: String
    /// `node.id`.
    public var nodeID: String
    public var typeURL: String
    /// The nonce of the response being answered; empty in the first request.
    public var responseNonce: String
    /// nil: no `error_detail` (an ACK); otherwise `error_detail = google.rpc.Status{message}` (a NACK).
    public var errorMessage: String?

    public init(versionInfo: String = "", nodeID: String, typeURL: String = NPDSCodec.networkPolicyTypeURL,
                responseNonce: String = "", errorMessage: String? = nil) {
        self.versionInfo = versionInfo
        self.nodeID = nodeID
        self.typeURL = typeURL
        self.responseNonce = responseNonce
        self.errorMessage = errorMessage
    }
}

/// One `google.protobuf.Any` of a `DiscoveryResponse`.
public struct DiscoveryResource: Equatable, Sendable {
    public var typeURL: String
    public var value: [UInt8]

    public init(typeURL: String, value: [UInt8]) {
        self.typeURL = typeURL
        self.value = value
    }
}

/// What an NPDS client reads from a `DiscoveryResponse`.
public struct DiscoveryResponseFields: Equatable, Sendable {
    public var versionInfo: String
    public var typeURL: String
    public var nonce: String
    public var resources: [DiscoveryResource]

    public init(versionInfo: String, typeURL: String, nonce: String, resources: [DiscoveryResource]) {
        self.versionInfo = versionInfo
        self.typeURL = typeURL
        self.nonce = nonce
        self.resources = resources
    }
}

/// The NPDS messages, encoded and decoded with protobuf-c (Sources/CCiliumProto, generated from Proto/).
/// Decoding rejects what Go's `proto.Unmarshal` rejects (malformed wire data, strings that are not UTF-8)
/// and, for policies, what upstream's protoc-gen-validate rules reject.
public enum NPDSCodec {
    /// The resource type of NPDS (`npds.NPDSTypeURL` upstream).
    public static let networkPolicyTypeURL = "type.googleapis.com/cilium.NetworkPolicy"

    /// Serializes a `DiscoveryRequest`.
    public static func encodeRequest(_ fields: DiscoveryRequestFields) -> [UInt8] {
        var strings = CStrings()
        defer { strings.release() }

        let node = UnsafeMutablePointer<Envoy__Config__Core__V3__Node>.allocate(capacity: 1)
        node.initialize(to: Envoy__Config__Core__V3__Node())
        defer { node.deallocate() }
        envoy__config__core__v3__node__init(node)
        node.pointee.id = strings.duplicate(fields.nodeID)

        let status = UnsafeMutablePointer<Google__Rpc__Status>.allocate(capacity: 1)
        status.initialize(to: Google__Rpc__Status())
        defer { status.deallocate() }
        google__rpc__status__init(status)

        var request = Envoy__Service__Discovery__V3__DiscoveryRequest()
        envoy__service__discovery__v3__discovery_request__init(&request)
        request.version_info = strings.duplicate(fields.versionInfo)
        request.node = node
        request.type_url = strings.duplicate(fields.typeURL)
        request.response_nonce = strings.duplicate(fields.responseNonce)
        if let message = fields.errorMessage {
            status.pointee.message = strings.duplicate(message)
            request.error_detail = status
        }

        return withUnsafePointer(to: &request) { message in
            let size = envoy__service__discovery__v3__discovery_request__get_packed_size(message)
            return [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
                count = size == 0 ? 0 : envoy__service__discovery__v3__discovery_request__pack(message, buffer.baseAddress!)
            }
        }
    }

    /// Parses a `DiscoveryResponse`; throws `PolicyError` for bytes that are not one.
    public static func decodeResponse(_ bytes: [UInt8]) throws -> DiscoveryResponseFields {
        try bytes.withUnsafeBytes { try decodeResponse($0) }
    }

    /// Parses a `DiscoveryResponse`; throws `PolicyError` for bytes that are not one.
    public static func decodeResponse(_ bytes: UnsafeRawBufferPointer) throws -> DiscoveryResponseFields {
        guard let response = unpack(bytes, envoy__service__discovery__v3__discovery_response__unpack) else {
            throw PolicyError("malformed DiscoveryResponse (\(bytes.count) bytes)")
        }
        defer { envoy__service__discovery__v3__discovery_response__free_unpacked(response, nil) }
        let message = response.pointee
        var resources: [DiscoveryResource] = []
        resources.reserveCapacity(message.n_resources)
        for index in 0..<message.n_resources {
            guard let any = message.resources[index] else { continue }
            let value = any.pointee.value
            resources.append(DiscoveryResource(
                typeURL: try utf8(any.pointee.type_url, "DiscoveryResponse.resources[\(index)].type_url"),
                value: value.len == 0 ? [] : Array(UnsafeBufferPointer(start: value.data, count: value.len))))
        }
        return DiscoveryResponseFields(
            versionInfo: try utf8(message.version_info, "DiscoveryResponse.version_info"),
            typeURL: try utf8(message.type_url, "DiscoveryResponse.type_url"),
            nonce: try utf8(message.nonce, "DiscoveryResponse.nonce"),
            resources: resources)
    }

    /// Calls a generated `*__unpack` on `bytes`; nil when protobuf-c rejects them.
    static func unpack<Message>(
        _ bytes: UnsafeRawBufferPointer,
        _ unpacker: (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<Message>?
    ) -> UnsafeMutablePointer<Message>? {
        // protobuf-c never reads through the pointer when the length is 0, but wants a non-null one.
        var empty: UInt8 = 0
        guard let base = bytes.baseAddress, bytes.count > 0 else {
            return unpacker(nil, 0, &empty)
        }
        return unpacker(nil, bytes.count, base.assumingMemoryBound(to: UInt8.self))
    }

    /// A protobuf-c string field as a Swift string. proto3 strings must be UTF-8; Go's unmarshal rejects
    /// anything else, and so do we.
    static func utf8(_ pointer: UnsafeMutablePointer<CChar>?, _ field: @autoclosure () -> String) throws -> String {
        guard let pointer else { return "" }
        guard let string = String(validatingCString: pointer) else {
            throw PolicyError("\(field()): string field contains invalid UTF-8")
        }
        return string
    }
}

/// C copies of Swift strings that live until `release()`.
private struct CStrings {
    private var pointers: [UnsafeMutablePointer<CChar>] = []

    mutating func duplicate(_ string: String) -> UnsafeMutablePointer<CChar> {
        // strdup only fails when out of memory, where the Swift runtime would fail too.
        let copy = strdup(string)!
        pointers.append(copy)
        return copy
    }

    func release() {
        for pointer in pointers { free(pointer) }
    }
}
