extension Array {
    /// Empties the array and keeps its buffer, cheaply for the short arrays a request leaves behind:
    /// `removeAll(keepingCapacity:)` and `removeLast(_:)` take Array's generic `replaceSubrange` path (about 70
    /// instructions and a uniqueness check, even for an empty array or nothing to remove), so a few elements are
    /// removed one by one instead.
    @inline(__always)
    mutating func clearKeepingCapacity() {
        if count > 4 {
            removeAll(keepingCapacity: true)
        } else {
            while !isEmpty { removeLast() }
        }
    }

    /// Removes the elements from `index` on (same reasoning).
    @inline(__always)
    mutating func truncate(to index: Int) {
        if count - index > 4 {
            removeLast(count - index)
        } else {
            while count > index { removeLast() }
        }
    }
}
