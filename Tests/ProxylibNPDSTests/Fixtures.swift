import CCiliumProto
import Glibc
import ProxylibNPDS

/// The encoded fixtures beside this file (Fixtures/*.bin, written by Fixtures/encode.sh with protoc).
enum Fixture {
    struct Missing: Error, CustomStringConvertible {
        let path: String
        var description: String { "cannot read fixture \(path) (run Tests/ProxylibNPDSTests/Fixtures/encode.sh)" }
    }

    static let directory: String = {
        let file = "\(#filePath)"
        guard let slash = file.lastIndex(of: "/") else { return "Fixtures" }
        return "\(file[..<slash])/Fixtures"
    }()

    /// The bytes of `Fixtures/<name>.bin`.
    static func bytes(_ name: String) throws -> [UInt8] {
        let path = "\(directory)/\(name).bin"
        guard let file = fopen(path, "rb") else { throw Missing(path: path) }
        defer { fclose(file) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
            if count == 0 { break }
            result += chunk[0..<count]
        }
        if ferror(file) != 0 { throw Missing(path: path) }
        return result
    }
}

/// A `DiscoveryResponse` serialized by protobuf-c directly (not by the code under test).
func encodedResponse(version: String, nonce: String, typeURL: String = NPDSCodec.networkPolicyTypeURL,
                     resources: [(typeURL: String, value: [UInt8])]) -> [UInt8] {
    var owned: [UnsafeMutableRawPointer] = []
    defer { owned.forEach { free($0) } }
    func cString(_ string: String) -> UnsafeMutablePointer<CChar> {
        let copy = strdup(string)!
        owned.append(UnsafeMutableRawPointer(copy))
        return copy
    }

    let anys = UnsafeMutablePointer<Google__Protobuf__Any>.allocate(capacity: max(resources.count, 1))
    let anyPointers = UnsafeMutablePointer<UnsafeMutablePointer<Google__Protobuf__Any>?>.allocate(capacity: max(resources.count, 1))
    defer {
        anys.deallocate()
        anyPointers.deallocate()
    }
    for (index, resource) in resources.enumerated() {
        (anys + index).initialize(to: Google__Protobuf__Any())
        google__protobuf__any__init(anys + index)
        anys[index].type_url = cString(resource.typeURL)
        let data = malloc(max(resource.value.count, 1))!
        owned.append(data)
        resource.value.withUnsafeBytes { data.copyMemory(from: $0.baseAddress ?? UnsafeRawPointer(data), byteCount: $0.count) }
        anys[index].value = ProtobufCBinaryData(len: resource.value.count, data: data.assumingMemoryBound(to: UInt8.self))
        anyPointers[index] = anys + index
    }

    var response = Envoy__Service__Discovery__V3__DiscoveryResponse()
    envoy__service__discovery__v3__discovery_response__init(&response)
    response.version_info = cString(version)
    response.nonce = cString(nonce)
    response.type_url = cString(typeURL)
    response.n_resources = resources.count
    response.resources = anyPointers
    return withUnsafePointer(to: &response) { message in
        let size = envoy__service__discovery__v3__discovery_response__get_packed_size(message)
        return [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            count = size == 0 ? 0 : envoy__service__discovery__v3__discovery_response__pack(message, buffer.baseAddress!)
        }
    }
}

/// A `DiscoveryRequest` as protobuf-c's own decoder reads it.
struct DecodedRequest: Equatable {
    var versionInfo: String
    var nodeID: String?
    var resourceNames: [String]
    var typeURL: String
    var responseNonce: String
    /// nil: no error_detail.
    var errorCode: Int32?
    var errorMessage: String?
}

func decodeRequestWithProtobufC(_ bytes: [UInt8]) -> DecodedRequest? {
    bytes.withUnsafeBufferPointer { buffer -> DecodedRequest? in
        var empty: UInt8 = 0
        let message = buffer.count == 0
            ? envoy__service__discovery__v3__discovery_request__unpack(nil, 0, &empty)
            : envoy__service__discovery__v3__discovery_request__unpack(nil, buffer.count, buffer.baseAddress)
        guard let message else { return nil }
        defer { envoy__service__discovery__v3__discovery_request__free_unpacked(message, nil) }
        let request = message.pointee
        return DecodedRequest(
            versionInfo: String(cString: request.version_info),
            nodeID: request.node.map { String(cString: $0.pointee.id) },
            resourceNames: (0..<request.n_resource_names).map { String(cString: request.resource_names[$0]!) },
            typeURL: String(cString: request.type_url),
            responseNonce: String(cString: request.response_nonce),
            errorCode: request.error_detail?.pointee.code,
            errorMessage: request.error_detail.map { String(cString: $0.pointee.message) })
    }
}
