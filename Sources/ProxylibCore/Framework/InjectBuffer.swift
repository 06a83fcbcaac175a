import CProxylib

/// The caller-owned inject buffer of one direction: a `GoSlice` header whose `len` the library raises as it
/// appends, never beyond `cap`, never reallocating. A missing or malformed header reads as a full buffer.
struct InjectBuffer {
    let header: UnsafeMutablePointer<GoSlice>?

    /// (base, used, capacity) when the header is usable.
    private var layout: (base: UnsafeMutableRawPointer, used: Int, capacity: Int)? {
        guard let header, let base = header.pointee.data else { return nil }
        let used = Int(header.pointee.len), capacity = Int(header.pointee.cap)
        guard used >= 0, capacity >= used else { return nil }
        return (base, used, capacity)
    }

    /// Bytes currently in the buffer (the datapath sends them on INJECT or flushes them later).
    var count: Int { layout?.used ?? 0 }

    var freeSpace: Int {
        guard let layout else { return 0 }
        return layout.capacity - layout.used
    }

    var isFull: Bool { freeSpace == 0 }

    /// Copies as much of `bytes` as fits; returns the count copied.
    func append(_ bytes: UnsafeRawBufferPointer) -> Int {
        guard let layout, let header, let source = bytes.baseAddress else { return 0 }
        let n = min(bytes.count, layout.capacity - layout.used)
        guard n > 0 else { return 0 }
        (layout.base + layout.used).copyMemory(from: source, byteCount: n)
        header.pointee.len = GoInt(layout.used + n)
        return n
    }
}
