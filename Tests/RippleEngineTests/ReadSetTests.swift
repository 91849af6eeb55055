import Foundation
import RippleEngine
import RippleReactivity
import RippleStorage
import RippleTestSupport
import RippleValues
import Synchronization
import Testing

/// Collects the write sets of every commit.
final class CommitRecorder: Sendable {
    let commits = Mutex<[CommittedMutation]>([])
}

/// `readSet.isInvalidated(by:)` with read sets from real query executions and write sets from
/// real commits.
@Suite struct ReadSetTests {
    /// Opens an engine that records every commit's write set.
    final class Harness: Sendable {
        let dir = TemporaryDirectory()
        let engine: Engine
        let recorder = CommitRecorder()

        init() throws {
            engine = try openItemsEngine(dir)
            engine.commitFeed.subscribe { [recorder] group in recorder.commits.withLock { $0.append(contentsOf: group.mutations) } }
        }

        deinit { engine.close() }

        /// Runs a mutation and returns the write set of its commit.
        func write(_ path: String, _ args: [String: Value]) async throws -> WriteSet {
            let result = try await engine.mutation(path, args)
            return recorder.commits.withLock { list in list.first { $0.ts == result.ts }?.writes ?? WriteSet() }
        }

        func insert(_ group: String, _ n: Double) async throws -> String {
            try await engine.mutation("items:insert", ["group": .string(group), "n": .float64(n)]).value.stringValue!
        }
    }

    @Test func rangeIsInvalidatedOnlyByWritesInsideIt() async throws {
        let h = try Harness()
        _ = try await h.insert("a", 1)
        let read = try await h.engine.query("items:byGroup", ["group": "a"]).readSet
        #expect(read.isInvalidated(by: try await h.write("items:insert", ["group": "a", "n": 2])))
        #expect(!read.isInvalidated(by: try await h.write("items:insert", ["group": "b", "n": 2])))
        #expect(!read.isInvalidated(by: try await h.write("items:insert", ["group": "aa", "n": 2])))
    }

    @Test func takeCoversOnlyTheKeysItRead() async throws {
        let h = try Harness()
        for n in 0..<10 { _ = try await h.insert("x", Double(n)) }
        let read = try await h.engine.query("items:takeByN", ["count": 3]).readSet  // n = 0, 1, 2
        #expect(read.isInvalidated(by: try await h.write("items:insert", ["group": "y", "n": 1.5])))
        #expect(!read.isInvalidated(by: try await h.write("items:insert", ["group": "y", "n": 5])))
        #expect(!read.isInvalidated(by: try await h.write("items:insert", ["group": "y", "n": 100])))
    }

    @Test func firstCoversOnlyTheFirstKey() async throws {
        let h = try Harness()
        _ = try await h.insert("f", 10)
        _ = try await h.insert("f", 20)
        let read = try await h.engine.query("items:firstInGroup", ["group": "f"]).readSet
        #expect(!read.isInvalidated(by: try await h.write("items:insert", ["group": "f", "n": 30])))
        #expect(read.isInvalidated(by: try await h.write("items:insert", ["group": "f", "n": 5])))
    }

    @Test func getIsInvalidatedByWritesToThatDocumentOnly() async throws {
        let h = try Harness()
        let id = try await h.insert("g", 1)
        let other = try await h.insert("g", 2)
        let read = try await h.engine.query("items:get", ["id": .string(id)]).readSet
        #expect(!read.isInvalidated(by: try await h.write("items:patch", ["id": .string(other), "fields": ["n": 3]])))
        #expect(read.isInvalidated(by: try await h.write("items:patch", ["id": .string(id), "fields": ["tag": "t"]])))
    }

    @Test func deletesInvalidateRangesAndGets() async throws {
        let h = try Harness()
        let id = try await h.insert("d", 1)
        let range = try await h.engine.query("items:byGroup", ["group": "d"]).readSet
        let get = try await h.engine.query("items:get", ["id": .string(id)]).readSet
        let deletion = try await h.write("items:delete", ["id": .string(id)])
        #expect(range.isInvalidated(by: deletion))
        #expect(get.isInvalidated(by: deletion))
    }

    @Test func patchMovingAnIndexKeyInvalidatesOldAndNewRanges() async throws {
        let h = try Harness()
        let id = try await h.insert("from", 1)
        let fromRange = try await h.engine.query("items:byGroup", ["group": "from"]).readSet
        let toRange = try await h.engine.query("items:byGroup", ["group": "to"]).readSet
        let elsewhere = try await h.engine.query("items:byGroup", ["group": "zzz"]).readSet
        let move = try await h.write("items:patch", ["id": .string(id), "fields": ["group": "to"]])
        #expect(fromRange.isInvalidated(by: move))
        #expect(toRange.isInvalidated(by: move))
        #expect(!elsewhere.isInvalidated(by: move))
        // The write set says which indexes moved: by_group_n changed, by_n did not.
        let change = try #require(move.documents.first)
        #expect(change.indexChanges.contains { $0.old != $0.new })
        #expect(change.indexChanges.contains { $0.old == $0.new })
    }

    @Test func emptyRangeStillWatchesForInserts() async throws {
        let h = try Harness()
        let read = try await h.engine.query("items:byGroup", ["group": "empty"]).readSet
        #expect(read.intervalCount == 1)
        #expect(read.isInvalidated(by: try await h.write("items:insert", ["group": "empty", "n": 1])))
    }
}
