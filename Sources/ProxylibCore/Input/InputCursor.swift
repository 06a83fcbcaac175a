/// A Reader-style cursor over an `InputView` (upstream's `proxylib.Reader`): reads move forward and count
/// the bytes consumed; a read that lacks bytes returns nil and does not move, so a parser can ask for
/// MORE and retry from the same frame boundary later.
public struct InputCursor {
    public private(set) var remaining: InputView
    /// Bytes consumed since the cursor was made (or since `resetConsumed()`).
    public private(set) var consumed: Int = 0

    public init(_ input: InputView) {
        self.remaining = input
    }

    public var remainingCount: Int { remaining.count }

    /// Skips `n` bytes; false (and no move) if fewer remain.
    public mutating func skip(_ n: Int) -> Bool {
        guard n >= 0, n <= remaining.count else { return false }
        remaining = remaining.dropFirst(n)
        consumed += n
        return true
    }

    /// Reads a big-endian integer.
    public mutating func readInteger<T: FixedWidthInteger>(as type: T.Type = T.self) -> T? {
        guard let value = remaining.readInteger(at: 0, as: T.self) else { return nil }
        remaining = remaining.dropFirst(MemoryLayout<T>.size)
        consumed += MemoryLayout<T>.size
        return value
    }

    /// Peeks a big-endian integer `offset` bytes ahead without moving.
    public func peekInteger<T: FixedWidthInteger>(at offset: Int = 0, as type: T.Type = T.self) -> T? {
        remaining.readInteger(at: offset, as: T.self)
    }

    /// Reads exactly `destination.count` bytes into `destination`.
    public mutating func read(into destination: UnsafeMutableRawBufferPointer) -> Bool {
        guard remaining.copyBytes(from: 0, count: destination.count, into: destination) else { return false }
        remaining = remaining.dropFirst(destination.count)
        consumed += destination.count
        return true
    }

    /// Reads `n` bytes into `buffer` (replacing its contents, reusing its capacity).
    public mutating func read(_ n: Int, into buffer: inout [UInt8]) -> Bool {
        guard remaining.copyBytes(from: 0, count: n, into: &buffer) else { return false }
        remaining = remaining.dropFirst(n)
        consumed += n
        return true
    }

    /// Returns the count consumed so far and starts counting from zero.
    public mutating func resetConsumed() -> Int {
        defer { consumed = 0 }
        return consumed
    }
}
