import RippleLog
import RippleReactivity
import RippleTestSupport
import RippleValues
import Testing

/// The subscription index must answer exactly what checking every read set one by one answers
/// (`ReadSet.isInvalidated`), whatever the history of inserts, removals and re-inserts: a seeded
/// random walk over both, compared after every step. Keys are one byte from a small range, so
/// intervals overlap, share bounds and repeat, which is where an interval tree goes wrong.
@Suite struct SubscriptionIndexPropertyTests {
    private static let indexes: [Int64] = [1, 2, 3]
    private static let keySpace: UInt64 = 24

    private func key(_ random: inout SeededRandom) -> IndexKey {
        IndexKey(bytes: [UInt8(random.next() % Self.keySpace)])
    }

    private func readSet(_ random: inout SeededRandom) -> ReadSet {
        var readSet = ReadSet()
        for _ in 0..<(random.next() % 4) {
            let a = key(&random)
            let b = key(&random)
            let (lower, upper) = a < b ? (a, b) : (b, a)
            readSet.record(index: Self.indexes[Int(random.next() % 3)], KeyInterval(lower: lower, upper: upper))
        }
        if random.next() % 3 == 0 { readSet.record(documentID: "doc\(random.next() % 8)") }
        return readSet
    }

    private func writeSet(_ random: inout SeededRandom) -> WriteSet {
        var changes: [DocumentChange] = []
        for number in 0..<Int64(1 + random.next() % 3) {
            let indexChanges = (0..<(random.next() % 3)).map { _ in
                IndexChange(
                    index: Self.indexes[Int(random.next() % 3)],
                    old: random.next() % 3 == 0 ? nil : key(&random),
                    new: random.next() % 3 == 0 ? nil : key(&random))
            }
            changes.append(DocumentChange(tableNumber: 10, number: number, id: "doc\(random.next() % 8)", indexChanges: indexChanges))
        }
        return WriteSet(changes)
    }

    @Test(arguments: [1, 2, 3, 42, 2026] as [UInt64])
    func matchesABruteForceFilterThroughInsertsRemovalsAndReinserts(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        var index = SubscriptionIndex<Int>()
        var registered: [Int: ReadSet] = [:]
        for step in 0..<600 {
            let subscriber = Int(random.next() % 40)
            switch random.next() % 3 {
            case 0, 1:
                // Inserting a registered subscriber again replaces its read set (a re-run).
                let readSet = readSet(&random)
                index.insert(subscriber, readSet: readSet)
                registered[subscriber] = readSet
            default:
                index.remove(subscriber)
                registered[subscriber] = nil
            }
            let writes = writeSet(&random)
            let expected = Set(registered.filter { $0.value.isInvalidated(by: writes) }.keys)
            #expect(index.invalidated(by: writes) == expected, "seed \(seed), step \(step)")
            #expect(index.count == registered.count)
        }
    }
}
