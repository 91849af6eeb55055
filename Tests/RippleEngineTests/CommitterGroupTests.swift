import Foundation
@testable import RippleEngine
import RippleLog
import RippleTestSupport
import RippleValues
import Synchronization
import Testing

/// Mutations committed together in one group are still isolated from each other: each runs in
/// its own SAVEPOINT, so one that throws takes back only its own writes, and the others of its
/// group commit (with one COMMIT, published as one group).
@Suite struct CommitterGroupTests {
    @Test func aMutationThatThrowsInsideAGroupTakesBackOnlyItsOwnWrites() async throws {
        let dir = TemporaryDirectory()
        // The committer thread is held inside a mutation while three more queue up behind it;
        // released, it takes all three into its next group.
        let committerHold = CommitterHold()
        let engine = try Engine.open(path: dir.database, app: App(schema: itemsSchema, functions: committerHold.functions))
        defer { engine.close() }
        let committer = try #require(engine.committer)
        let groups = Mutex<[[CommitTimestamp]]>([])
        let subscription = engine.commitFeed.subscribe { group in groups.withLock { $0.append(group.mutations.map(\.ts)) } }
        defer { withExtendedLifetime(subscription) {} }

        let hold = try await committerHold.hold(engine)
        let first = Task { try await engine.mutation("items:insert", ["group": "g", "n": 1]) }
        try await eventually("the first insert is queued") { committer.queuedCount == 1 }
        let failing = Task { try await engine.mutation("items:insertThenFail", ["group": "g"]) }
        try await eventually("the failing insert is queued") { committer.queuedCount == 2 }
        let third = Task { try await engine.mutation("items:insert", ["group": "g", "n": 3]) }
        try await eventually("the third insert is queued") { committer.queuedCount == 3 }
        committerHold.release()

        _ = try await boundedValue(of: hold, "task `hold` ends")
        let firstResult = try await boundedValue(of: first, "task `first` ends")
        let thirdResult = try await boundedValue(of: third, "task `third` ends")
        await #expect {
            try await boundedValue(of: failing, "task `failing` ends")
        } throws: { error in
            let error = error as! FunctionError
            return error.kind == .thrown && error.data == ["code": "boom", "count": .int64(7)]
        }
        let items = try await engine.query("items:byGroup", ["group": "g"]).value.documents
        #expect(items.map { $0["n"] } == [1, 3])
        #expect(groups.withLock { $0 }.contains([firstResult.ts, thirdResult.ts]), "\(groups.withLock { $0 })")
    }
}
