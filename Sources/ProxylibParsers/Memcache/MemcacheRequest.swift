import ProxylibCore

/// The request a memcache rule sees: the command (text) or opcode (binary) and the keys, as views valid
/// during the policy check only.
struct MemcacheRequest {
    let isBinary: Bool
    /// Text and meta requests: the command, and for meta commands the classic command of the same meaning.
    let command: MemcacheTextCommand
    let equivalent: MemcacheTextCommand?
    /// Binary requests: the opcode.
    let opcode: UInt8
    let keys: MemcacheKeys

    static func text(_ command: MemcacheTextCommand, equivalent: MemcacheTextCommand? = nil,
                     keys: MemcacheKeys) -> MemcacheRequest {
        MemcacheRequest(isBinary: false, command: command, equivalent: equivalent, opcode: 0, keys: keys)
    }

    static func binary(opcode: UInt8, key: UnsafeRawBufferPointer) -> MemcacheRequest {
        MemcacheRequest(isBinary: true, command: .get, equivalent: nil, opcode: opcode, keys: .single(key))
    }
}

/// The keys of a request without copying them out: a single key, or the space-separated keys at the end of
/// a text command line (`get a b c`).
struct MemcacheKeys {
    private let bytes: UnsafeRawBufferPointer
    private let isTokenList: Bool

    static func single(_ key: UnsafeRawBufferPointer) -> MemcacheKeys {
        MemcacheKeys(bytes: key, isTokenList: false)
    }

    static func tokens(_ list: UnsafeRawBufferPointer) -> MemcacheKeys {
        MemcacheKeys(bytes: list, isTokenList: true)
    }

    /// Whether `predicate` holds for every key (true for a request without keys, as upstream).
    func allSatisfy(_ predicate: (UnsafeRawBufferPointer) -> Bool) -> Bool {
        guard isTokenList else { return predicate(bytes) }
        var tokens = TextTokens(bytes)
        while let key = tokens.next() {
            if !predicate(key) { return false }
        }
        return true
    }

    /// Calls `body` with each key in order.
    func forEach(_ body: (UnsafeRawBufferPointer) -> Void) {
        _ = allSatisfy { key in
            body(key)
            return true
        }
    }
}
