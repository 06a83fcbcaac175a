import Testing
@testable import ProxylibCore

/// The connection id table against a Dictionary model: every operation, then every key, compared.
@Suite struct IDTableTests {
    final class Box {
        let value: UInt64
        init(_ value: UInt64) { self.value = value }
    }

    /// Replays `operations` (key, insert or remove) on both tables and checks they agree throughout.
    func replay(_ operations: [(key: UInt64, insert: Bool)]) {
        var table = IDTable<Box>()
        var model: [UInt64: UInt64] = [:]
        for (step, operation) in operations.enumerated() {
            if operation.insert {
                table.insert(Box(UInt64(step)), for: operation.key)
                model[operation.key] = UInt64(step)
            } else {
                #expect(table.remove(operation.key)?.value == model.removeValue(forKey: operation.key))
            }
            #expect(table.count == model.count)
        }
        for key in Set(operations.map(\.key)) {
            #expect(table[key]?.value == model[key], "key \(key)")
        }
    }

    @Test func sequentialIDsLikeEnvoys() {
        let ids = (1...5000).map { UInt64($0) }
        replay(ids.map { ($0, true) } + ids.filter { $0 % 3 != 0 }.map { ($0, false) })
    }

    @Test func idsThatShareLowBitsAndHighBits() {
        let spread = (0..<2000).map { UInt64($0) << 32 } + (0..<2000).map { UInt64($0) | (1 << 63) }
        replay(spread.map { ($0, true) } + spread.shuffled().prefix(3000).map { ($0, false) })
    }

    @Test func randomInsertsAndRemovesOverASmallKeySpace() {
        var generator = SystemRandomNumberGenerator()
        let operations = (0..<20000).map { _ in
            (key: UInt64.random(in: 0..<300, using: &generator) &* 0x1_0000_0001, insert: Bool.random(using: &generator))
        }
        replay(operations)
    }

    @Test func extremeKeysAndReplacement() {
        replay([(0, true), (.max, true), (0, true), (.max, false), (0, false), (0, false), (.max, true)])
    }

    @Test func shrinksAfterMostEntriesLeave() {
        var table = IDTable<Box>()
        for id in 0..<10000 as Range<UInt64> { table.insert(Box(id), for: id) }
        for id in 0..<9990 as Range<UInt64> { table.remove(id) }
        #expect(table.count == 10)
        for id in 9990..<10000 as Range<UInt64> { #expect(table[id]?.value == id) }
        #expect(table[5] == nil)
    }
}
