import Foundation
import RippleEngine
import RippleLog
import RippleStorage
import RippleTestSupport
import RippleValues
import Synchronization
import Testing

/// A replica engine that never reaches a writer: these tests feed it the writer's log and
/// snapshots by hand.
private struct NoWriter: MutationForwarder {
    func forward(_ call: ForwardedCall) async -> ForwardedOutcome { .failed(FunctionError(.unavailable, "no writer in this test")) }
}

@Suite struct SnapshotTests {
    let app = App(schema: itemsSchema, functions: itemsFunctions())

    func openReplica(_ directory: TemporaryDirectory) throws -> Engine {
        var options = EngineOptions()
        options.role = .replica(forwarder: NoWriter())
        return try Engine.open(path: directory.database, app: app, options: options)
    }

    /// Prunes the writer's whole log in small batches, as the writer's pruner does.
    func pruneAll(_ directory: TemporaryDirectory, through ts: CommitTimestamp) throws -> Int {
        let store = try Store(database: Database(path: directory.database))
        var total = 0
        while true {
            let deleted = try store.pruneLog(through: ts, batch: 3)
            total += deleted
            if deleted < 3 { return total }
        }
    }

    @Test func replicaInstallsASnapshotOverStaleStateThenFollowsTheLog() async throws {
        let writerDirectory = TemporaryDirectory()
        let replicaDirectory = TemporaryDirectory()
        let writer = try Engine.open(path: writerDirectory.database, app: app)
        defer { writer.close() }
        let replica = try openReplica(replicaDirectory)
        let groups = Mutex<[CommitTimestamp]>([])
        replica.commitFeed.subscribe { group in groups.withLock { $0.append(group.appliedTimestamp) } }

        // The replica follows the log for a while...
        _ = try await writer.mutation("items:insertMany", ["group": "a", "from": 0, "count": 30])
        try await replica.apply(try await writer.commits(after: 0, limit: 10_000))
        let early = try await writer.appliedTimestamp()
        #expect(try await replica.appliedTimestamp() == early)
        #expect(try await replica.stateHash(at: early) == writer.stateHash(at: early))

        // ...then falls behind while the writer moves on and prunes its log.
        _ = try await writer.mutation("items:insertMany", ["group": "b", "from": 0, "count": 40])
        let doomed = try await writer.query("items:byGroup", ["group": "a"]).value.arrayValue!
        _ = try await writer.mutation("items:delete", ["id": doomed[0].objectValue!["_id"]!])
        _ = try await writer.mutation("items:patch", ["id": doomed[1].objectValue!["_id"]!, "fields": ["tag": "patched"]])
        let latest = try await writer.appliedTimestamp()
        #expect(try pruneAll(writerDirectory, through: latest) > 0)
        #expect(try await writer.logPrunedThrough() == latest)
        await #expect(throws: CommitLogPruned(through: latest)) { try await writer.commits(after: early, limit: 10) }
        #expect(try await writer.commits(after: latest, limit: 10).isEmpty)

        // Bootstrap from a snapshot.
        let snapshot = try await writer.snapshot()
        #expect(snapshot.ts == latest)
        #expect(try await replica.install(snapshot: snapshot.bytes) == latest)
        #expect(try await replica.appliedTimestamp() == latest)
        #expect(groups.withLock { $0.last } == latest)
        let writerHash = try await writer.stateHash(at: latest)
        #expect(writerHash != nil)
        #expect(try await replica.stateHash(at: latest) == writerHash)
        #expect(try await replica.query("items:byGroup", ["group": "a"]).value == writer.query("items:byGroup", ["group": "a"]).value)
        #expect(try await replica.query("items:byGroup", ["group": "b"]).value.arrayValue?.count == 40)

        // The log continues after the snapshot's timestamp.
        _ = try await writer.mutation("items:insertMany", ["group": "c", "from": 0, "count": 5])
        try await replica.apply(try await writer.commits(after: latest, limit: 10_000))
        let after = try await writer.appliedTimestamp()
        let afterHash = try await writer.stateHash(at: after)
        #expect(afterHash != writerHash)
        #expect(try await replica.stateHash(at: after) == afterHash)

        // Durable: a restarted replica resumes after the snapshot and the log.
        let reopened = try openReplica(replicaDirectory)
        #expect(try await reopened.appliedTimestamp() == after)
        #expect(try await reopened.stateHash(at: after) == afterHash)
    }

    @Test func freshReplicaInstallsASnapshot() async throws {
        let writerDirectory = TemporaryDirectory()
        let replicaDirectory = TemporaryDirectory()
        let writer = try Engine.open(path: writerDirectory.database, app: app)
        defer { writer.close() }
        for group in ["x", "y", "z"] {
            _ = try await writer.mutation("items:insertMany", ["group": .string(group), "from": 0, "count": 100])
        }
        let latest = try await writer.appliedTimestamp()
        _ = try pruneAll(writerDirectory, through: latest)
        await #expect(throws: CommitLogPruned.self) { try await writer.commits(after: 0, limit: 10) }

        let replica = try openReplica(replicaDirectory)
        let snapshot = try await writer.snapshot()
        try await replica.install(snapshot: snapshot.bytes)
        #expect(try await replica.stateHash(at: latest) == writer.stateHash(at: latest))
        #expect(try await replica.query("items:takeByN", ["count": 1_000]).value == writer.query("items:takeByN", ["count": 1_000]).value)
    }
}
