/// A list refilled for every request: emptying it keeps its storage and costs one store (Array's
/// `removeAll(keepingCapacity:)` goes through the generic range replacement), so steady traffic neither
/// allocates nor pays for clearing.
struct ReusedList<Element> {
    private var storage: [Element] = []
    private(set) var count = 0

    init(capacity: Int) {
        storage.reserveCapacity(capacity)
    }

    var isEmpty: Bool { count == 0 }

    mutating func removeAll() {
        count = 0
    }

    mutating func append(_ element: Element) {
        if count < storage.count {
            storage[count] = element
        } else {
            storage.append(element)
        }
        count += 1
    }

    /// The elements as an array (a copy: for tests and diagnostics).
    var elements: [Element] { Array(storage[..<count]) }

    /// The element at `index`, or nil past the end.
    func element(at index: Int) -> Element? {
        index >= 0 && index < count ? storage[index] : nil
    }

    /// Calls `body` with each element until it returns false; returns whether every call returned true.
    func allSatisfy(_ body: (Element) -> Bool) -> Bool {
        var index = 0
        while index < count {
            if !body(storage[index]) { return false }
            index += 1
        }
        return true
    }
}

extension ReusedList where Element: Equatable {
    func contains(_ element: Element) -> Bool {
        !allSatisfy { $0 != element }
    }
}
