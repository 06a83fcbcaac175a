/// A hash table from caller-chosen 64-bit ids to objects, for the per-`OnData` connection lookup: open
/// addressing with linear probing and a multiplicative hash. Swift's `Dictionary` hashes every key with
/// seeded SipHash, several times the cost of the whole lookup here. Not thread-safe: `ConnectionTable`
/// holds it under a lock.
struct IDTable<Value: AnyObject> {
    private var keys: [UInt64]
    /// nil marks a free slot (a key is never stored without its value).
    private var values: [Value?]
    private(set) var count = 0
    /// Slot count minus one; the slot count is a power of two.
    private var mask: Int
    /// 64 minus log2 of the slot count: the hash keeps the product's high bits, the best mixed ones.
    private var shift: UInt64

    private static var minimumSlots: Int { 16 }

    init() {
        keys = Array(repeating: 0, count: Self.minimumSlots)
        values = Array(repeating: nil, count: Self.minimumSlots)
        mask = Self.minimumSlots - 1
        shift = UInt64(64 - Self.minimumSlots.trailingZeroBitCount)
    }

    private func home(of key: UInt64) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    /// The slot holding `key`, or the free slot where it would go.
    private func slot(of key: UInt64) -> (index: Int, found: Bool) {
        var index = home(of: key)
        while values[index] != nil {
            if keys[index] == key { return (index, true) }
            index = (index + 1) & mask
        }
        return (index, false)
    }

    subscript(key: UInt64) -> Value? {
        let (index, found) = slot(of: key)
        return found ? values[index] : nil
    }

    /// Stores `value` under `key`; returns the value it replaces.
    @discardableResult
    mutating func insert(_ value: Value, for key: UInt64) -> Value? {
        let (index, found) = slot(of: key)
        let replaced = found ? values[index] : nil
        keys[index] = key
        values[index] = value
        if found { return replaced }
        count += 1
        // At most half full, so probe runs stay short.
        if count * 2 > values.count { resize(to: values.count * 2) }
        return nil
    }

    /// Removes and returns the value under `key`.
    @discardableResult
    mutating func remove(_ key: UInt64) -> Value? {
        let (index, found) = slot(of: key)
        guard found else { return nil }
        let removed = values[index]
        values[index] = nil
        count -= 1
        closeGap(at: index)
        if values.count > Self.minimumSlots && count * 8 < values.count { resize(to: values.count / 2) }
        return removed
    }

    /// Backward-shift deletion: moves later entries of the probe run into the freed slot when their home is
    /// not between the gap and their current slot, so lookups never need tombstones.
    private mutating func closeGap(at freed: Int) {
        var gap = freed
        var index = (freed + 1) & mask
        while values[index] != nil {
            let home = home(of: keys[index])
            // Distance from home to the current slot, and from home to the gap, along the probe direction.
            if (index - home) & mask >= (gap - home) & mask {
                keys[gap] = keys[index]
                values[gap] = values[index]
                values[index] = nil
                gap = index
            }
            index = (index + 1) & mask
        }
    }

    private mutating func resize(to slots: Int) {
        let oldKeys = keys, oldValues = values
        keys = Array(repeating: 0, count: slots)
        values = Array(repeating: nil, count: slots)
        mask = slots - 1
        shift = UInt64(64 - slots.trailingZeroBitCount)
        for index in oldValues.indices {
            guard let value = oldValues[index] else { continue }
            let (slot, _) = slot(of: oldKeys[index])
            keys[slot] = oldKeys[index]
            values[slot] = value
        }
    }
}
