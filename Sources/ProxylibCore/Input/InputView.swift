#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CProxylib

/// A read-only, zero-copy view of the scatter-gather input that the datapath hands to `OnData`:
/// a run of byte segments (one `GoSlice` each) read as one logical byte string.
///
/// Every accessor is bounds-checked and answers `nil`/`false` when the bytes are not there, so a parser
/// built on it cannot trap on short or hostile input. The view borrows the caller's memory: it is valid only
/// during the `onData` call that received it and must not be stored.
public struct InputView {
    /// The caller's segment headers; segments `firstSegment..<segmentCount` are in view.
    private let segmentHeaders: UnsafePointer<GoSlice>?
    private let segmentCount: Int
    private let firstSegment: Int
    /// Bytes of `firstSegment` already consumed.
    private let firstOffset: Int
    /// Number of bytes in view.
    public let count: Int

    /// A view over `count` segment headers. Returns nil when a header is malformed (negative length, or a
    /// null pointer with a non-zero length) or the total overflows.
    public init?(segments: UnsafePointer<GoSlice>?, count segmentCount: Int) {
        guard segmentCount >= 0 else { return nil }
        var total = 0
        if segmentCount > 0 {
            guard let segments else { return nil }
            for i in 0..<segmentCount {
                let header = segments[i]
                guard header.len >= 0, header.len == 0 || header.data != nil else { return nil }
                let (sum, overflow) = total.addingReportingOverflow(Int(header.len))
                guard !overflow else { return nil }
                total = sum
            }
        }
        self.segmentHeaders = segments
        self.segmentCount = segmentCount
        self.firstSegment = 0
        self.firstOffset = 0
        self.count = total
    }

    private init(headers: UnsafePointer<GoSlice>?, segmentCount: Int, firstSegment: Int, firstOffset: Int, count: Int) {
        self.segmentHeaders = headers
        self.segmentCount = segmentCount
        self.firstSegment = firstSegment
        self.firstOffset = firstOffset
        self.count = count
    }

    /// An empty view.
    public static var empty: InputView {
        InputView(headers: nil, segmentCount: 0, firstSegment: 0, firstOffset: 0, count: 0)
    }

    public var isEmpty: Bool { count == 0 }

    // MARK: Segments

    /// Calls `body` with each non-empty segment in order, clipped to the view; `body` returns false to stop.
    public func forEachSegment(_ body: (UnsafeRawBufferPointer) throws -> Bool) rethrows {
        guard let headers = segmentHeaders else { return }
        var index = firstSegment
        var offset = firstOffset
        var remaining = count
        while index < segmentCount && remaining > 0 {
            let header = headers[index]
            let length = min(Int(header.len) - offset, remaining)
            if length > 0, let base = header.data {
                remaining -= length
                if try !body(UnsafeRawBufferPointer(start: base + offset, count: length)) { return }
            }
            index += 1
            offset = 0
        }
    }

    /// The bytes in view when they all lie in one segment (the common case: the datapath usually hands over
    /// one buffer slice), for the accessors' fast paths; nil when the view spans segments or is empty.
    @inline(__always)
    public var contiguousBytes: UnsafeRawBufferPointer? {
        guard count > 0, firstSegment < segmentCount, let headers = segmentHeaders else { return nil }
        let header = headers[firstSegment]
        guard Int(header.len) - firstOffset >= count, let base = header.data else { return nil }
        return UnsafeRawBufferPointer(start: base + firstOffset, count: count)
    }

    /// The view without its first `n` bytes (all of it gone when `n >= count`).
    public func dropFirst(_ n: Int) -> InputView {
        guard n > 0 else { return self }
        guard n < count, let headers = segmentHeaders else { return .empty }
        var remaining = n
        var index = firstSegment
        var offset = firstOffset
        while index < segmentCount {
            let available = Int(headers[index].len) - offset
            if remaining < available {
                return InputView(headers: headers, segmentCount: segmentCount, firstSegment: index,
                                 firstOffset: offset + remaining, count: count - n)
            }
            remaining -= max(available, 0)
            index += 1
            offset = 0
        }
        return .empty
    }

    /// The view of the first `n` bytes (all of it when `n >= count`).
    public func prefix(_ n: Int) -> InputView {
        guard n < count else { return self }
        return InputView(headers: segmentHeaders, segmentCount: segmentCount, firstSegment: firstSegment,
                         firstOffset: firstOffset, count: max(n, 0))
    }

    // MARK: Bytes

    /// The byte at `offset`, or nil past the end.
    public subscript(offset: Int) -> UInt8? {
        guard offset >= 0, offset < count else { return nil }
        if let bytes = contiguousBytes { return bytes[offset] }
        var skip = offset
        var found: UInt8?
        forEachSegment { segment in
            if skip < segment.count {
                found = segment[skip]
                return false
            }
            skip -= segment.count
            return true
        }
        return found
    }

    /// The offset of the first `byte` at or after `start`, searching across segments with memchr.
    public func firstIndex(of byte: UInt8, from start: Int = 0) -> Int? {
        guard start >= 0, start < count else { return nil }
        if let bytes = contiguousBytes, let base = bytes.baseAddress {
            guard let hit = memchr(base + start, Int32(byte), count - start) else { return nil }
            return UnsafeRawPointer(hit) - base
        }
        var base = 0
        var result: Int?
        let limit = count
        forEachSegment { segment in
            let segmentEnd = min(base + segment.count, limit)
            if segmentEnd > start, let address = segment.baseAddress {
                let from = max(start - base, 0)
                let length = segmentEnd - base - from
                if let hit = memchr(address + from, Int32(byte), length) {
                    result = base + (UnsafeRawPointer(hit) - address)
                    return false
                }
            }
            base += segment.count
            return base < limit
        }
        return result
    }

    // Byte-string arguments are taken as `UnsafeRawBufferPointer`, `StaticString` or `[UInt8]` rather than
    // any generic `Collection`: an unspecialized generic collection read allocates a coroutine frame per
    // access, and these run per request.

    /// Whether `pattern` occurs at `offset`.
    public func matches(_ pattern: UnsafeRawBufferPointer, at offset: Int) -> Bool {
        guard offset >= 0, pattern.count <= count - offset else { return false }
        if pattern.isEmpty { return true }
        if let bytes = contiguousBytes {
            return ByteSearch.matches(pattern, in: bytes, at: offset)
        }
        var matched = true
        var skip = offset
        var index = 0
        forEachSegment { segment in
            if skip >= segment.count {
                skip -= segment.count
                return true
            }
            var position = skip
            skip = 0
            while position < segment.count && index < pattern.count {
                if segment[position] != pattern[index] {
                    matched = false
                    return false
                }
                position += 1
                index += 1
            }
            return index < pattern.count
        }
        return matched && index == pattern.count
    }

    public func matches(_ pattern: StaticString, at offset: Int) -> Bool {
        matches(pattern.rawBytes, at: offset)
    }

    public func matches(_ pattern: [UInt8], at offset: Int) -> Bool {
        pattern.withUnsafeBytes { matches($0, at: offset) }
    }

    /// Whether the view starts with `prefix`.
    public func starts(with prefix: UnsafeRawBufferPointer) -> Bool { matches(prefix, at: 0) }
    public func starts(with prefix: StaticString) -> Bool { matches(prefix.rawBytes, at: 0) }
    public func starts(with prefix: [UInt8]) -> Bool { prefix.withUnsafeBytes { matches($0, at: 0) } }

    /// The offset of the first occurrence of `delimiter` (non-empty) at or after `start`, across segments.
    public func firstIndex(of delimiter: UnsafeRawBufferPointer, from start: Int = 0) -> Int? {
        guard let first = delimiter.first else { return nil }
        if let bytes = contiguousBytes {
            return ByteSearch.firstIndex(of: delimiter, in: bytes, from: start)
        }
        var candidate = start
        while let hit = firstIndex(of: first, from: candidate) {
            if delimiter.count > count - hit { return nil }
            if matches(delimiter, at: hit) { return hit }
            candidate = hit + 1
        }
        return nil
    }

    public func firstIndex(of delimiter: StaticString, from start: Int = 0) -> Int? {
        firstIndex(of: delimiter.rawBytes, from: start)
    }

    public func firstIndex(of delimiter: [UInt8], from start: Int = 0) -> Int? {
        delimiter.withUnsafeBytes { firstIndex(of: $0, from: start) }
    }

    /// Whether `needle` (non-empty) occurs anywhere in the view.
    public func contains(_ needle: UnsafeRawBufferPointer) -> Bool { firstIndex(of: needle) != nil }
    public func contains(_ needle: StaticString) -> Bool { firstIndex(of: needle.rawBytes) != nil }
    public func contains(_ needle: [UInt8]) -> Bool { firstIndex(of: needle) != nil }

    // MARK: Copies

    /// Copies `length` bytes starting at `offset` into `destination`; false (nothing copied) when the range is
    /// not inside the view or `destination` is too small.
    @discardableResult
    public func copyBytes(from offset: Int, count length: Int, into destination: UnsafeMutableRawBufferPointer) -> Bool {
        guard offset >= 0, length >= 0, length <= count - offset, length <= destination.count else { return false }
        guard length > 0, let target = destination.baseAddress else { return true }
        var skip = offset
        var copied = 0
        forEachSegment { segment in
            if skip >= segment.count {
                skip -= segment.count
                return true
            }
            let take = min(segment.count - skip, length - copied)
            if let source = segment.baseAddress {
                (target + copied).copyMemory(from: source + skip, byteCount: take)
            }
            copied += take
            skip = 0
            return copied < length
        }
        return true
    }

    /// Replaces the contents of `buffer` with `length` bytes from `offset`, reusing its capacity.
    @discardableResult
    public func copyBytes(from offset: Int, count length: Int, into buffer: inout [UInt8]) -> Bool {
        guard offset >= 0, length >= 0, length <= count - offset else { return false }
        buffer.removeAll(keepingCapacity: true)
        var skip = offset
        var remaining = length
        forEachSegment { segment in
            if skip >= segment.count {
                skip -= segment.count
                return true
            }
            let take = min(segment.count - skip, remaining)
            buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: segment[skip..<(skip + take)]))
            remaining -= take
            skip = 0
            return remaining > 0
        }
        return true
    }

    /// Calls `body` with `length` contiguous bytes from `offset`: the caller's memory when the range lies in
    /// one segment, otherwise a copy in `scratch` (whose capacity is reused). Nil when out of range.
    public func withContiguousBytes<Result>(
        from offset: Int, count length: Int, scratch: inout [UInt8],
        _ body: (UnsafeRawBufferPointer) throws -> Result
    ) rethrows -> Result? {
        guard offset >= 0, length >= 0, length <= count - offset else { return nil }
        if let bytes = contiguousBytes, let base = bytes.baseAddress {
            return try body(UnsafeRawBufferPointer(start: base + offset, count: length))
        }
        var skip = offset
        var direct: UnsafeRawBufferPointer?
        var inOneSegment = false
        forEachSegment { segment in
            if skip >= segment.count {
                skip -= segment.count
                return true
            }
            if segment.count - skip >= length {
                direct = UnsafeRawBufferPointer(rebasing: segment[skip..<(skip + length)])
                inOneSegment = true
            }
            return false
        }
        if inOneSegment, let bytes = direct {
            return try body(bytes)
        }
        if length == 0 { return try body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        copyBytes(from: offset, count: length, into: &scratch)
        return try scratch.withUnsafeBytes { try body($0) }
    }

    /// Reads a big-endian integer at `offset`, or nil when fewer than `T`'s size bytes remain there.
    public func readInteger<T: FixedWidthInteger>(at offset: Int, as type: T.Type = T.self) -> T? {
        let size = MemoryLayout<T>.size
        guard offset >= 0, size <= count - offset else { return nil }
        var value: T = 0
        // Fast path: the integer lies in the first segment (the usual case, even when the view spans several).
        if let headers = segmentHeaders, firstSegment < segmentCount {
            let header = headers[firstSegment]
            if let base = header.data, Int(header.len) - firstOffset - offset >= size {
                let start = UnsafeRawPointer(base) + firstOffset + offset
                for index in 0..<size {
                    value = (value << 8) | T(truncatingIfNeeded: start.load(fromByteOffset: index, as: UInt8.self))
                }
                return value
            }
        }
        var byteIndex = 0
        var skip = offset
        forEachSegment { segment in
            if skip >= segment.count {
                skip -= segment.count
                return true
            }
            var position = skip
            while position < segment.count && byteIndex < size {
                value = (value << 8) | T(truncatingIfNeeded: segment[position])
                position += 1
                byteIndex += 1
            }
            skip = 0
            return byteIndex < size
        }
        return value
    }
}

extension StaticString {
    /// The literal's UTF-8 bytes.
    var rawBytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: utf8Start, count: utf8CodeUnitCount)
    }
}
