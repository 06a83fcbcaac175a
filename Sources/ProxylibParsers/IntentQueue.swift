/// The requests whose replies are still due, oldest first: a FIFO over one array whose capacity is reused,
/// so a steady pipeline does not allocate.
struct IntentQueue<Element> {
    private var storage: [Element] = []
    private var head = 0

    init() {
        storage.reserveCapacity(16)
    }

    var isEmpty: Bool { head >= storage.count }
    var count: Int { storage.count - head }
    var first: Element? { isEmpty ? nil : storage[head] }

    mutating func append(_ element: Element) {
        if head > 0 && head == storage.count {
            storage.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 64 && head * 2 >= storage.count {
            storage.removeSubrange(0..<head)
            head = 0
        }
        storage.append(element)
    }

    @discardableResult
    mutating func removeFirst() -> Element? {
        guard !isEmpty else { return nil }
        let element = storage[head]
        head += 1
        if head == storage.count {
            storage.removeAll(keepingCapacity: true)
            head = 0
        }
        return element
    }

    /// Replaces the oldest element.
    mutating func updateFirst(_ body: (inout Element) -> Void) {
        guard !isEmpty else { return }
        body(&storage[head])
    }

    func contains(where predicate: (Element) -> Bool) -> Bool {
        var index = head
        while index < storage.count {
            if predicate(storage[index]) { return true }
            index += 1
        }
        return false
    }
}
