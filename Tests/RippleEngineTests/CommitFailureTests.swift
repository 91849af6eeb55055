import Foundation
@testable import RippleEngine
import RippleStorage
import RippleTestSupport
import RippleValues
import Synchronization
import Testing

/// A COMMIT that fails (an I/O error, a failed fsync) may have written the group to the WAL
/// first, and recovery brings it back at the next start: its callers cannot be told it failed,
/// and the committer commits nothing more until the node restarts.
@Suite struct CommitFailureTests {
    @Test func aFailedCommitLeavesEveryCallerOfTheGroupAnUnknownOutcomeAndStopsTheCommitter() async throws {
        let dir = TemporaryDirectory()
        // The committer is held inside a mutation while three inserts queue up behind it; they
        // make the next group, whose COMMIT (the second since the engine started) fails.
        let committerHold = CommitterHold()
        let commits = Mutex(0)
        var options = EngineOptions()
        options.commitFault = {
            commits.withLock { count in
                count += 1
                return count == 2
            }
        }
        let engine = try Engine.open(path: dir.database, app: App(schema: itemsSchema, functions: committerHold.functions), options: options)
        defer { engine.close() }
        let committer = try #require(engine.committer)

        #expect(engine.writesStoppedReason == nil)
        let stopped = Task { try await engine.untilWritesStop() }

        let hold = try await committerHold.hold(engine)
        let inserts = (1...3).map { n in Task { try await engine.mutation("items:insert", ["group": "g", "n": .float64(Double(n))]) } }
        try await eventually("the three inserts are queued") { committer.queuedCount == 3 }
        committerHold.release()
        let held = try await boundedValue(of: hold, "task `hold` ends")

        for insert in inserts {
            await #expect {
                try await boundedValue(of: insert, "task `insert` ends")
            } throws: { error in
                let error = error as! FunctionError
                return error.kind == .unavailable && error.unknownOutcome == .commitFailed
                    && error.message
                        == "The writer's COMMIT failed, and the group may still be in its write-ahead log, recovered when the node "
                        + "restarts: the mutation may or may not have been applied. Resending the same request (same session and "
                        + "request id) is deduplicated."
            }
        }
        await #expect {
            try await engine.mutation("items:insert", ["group": "g", "n": 4])
        } throws: { error in
            let error = error as! FunctionError
            return error.kind == .unavailable
                && error.message == "This node stopped accepting writes after a failed COMMIT whose group may be recovered when it restarts; retry the mutation once it has restarted"
        }
        // A failover writer waits for this to step down; `/health` reports it.
        let stoppedMessage = "This node stopped accepting writes after a failed COMMIT whose group may be recovered when it restarts; retry the mutation once it has restarted"
        #expect(try await boundedValue(of: stopped, "task `stopped` ends").message == stoppedMessage)
        #expect(engine.writesStoppedReason?.message == stoppedMessage)
        // The refused group never reached a COMMIT, and nothing after the held one was published.
        #expect(commits.withLock { $0 } == 2)
        #expect(try await engine.appliedTimestamp() == held.ts)
    }

    @Test func waitingForTheWritesToStopEndsWhenTheWaiterIsCancelled() async throws {
        let dir = TemporaryDirectory()
        let engine = try Engine.open(path: dir.database, app: App(schema: itemsSchema, functions: CommitterHold().functions))
        defer { engine.close() }
        let waiter = Task { try await engine.untilWritesStop() }
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await boundedValue(of: waiter, "task `waiter` ends") }
        #expect(engine.writesStoppedReason == nil)
    }

    /// SQLite rolls a whole transaction back on a full disk or an I/O error. The rest of the group
    /// must not run outside it (a SAVEPOINT would open a transaction of its own, committed by its
    /// RELEASE), nor its log row be written in autocommit (replicas would get writes the writer
    /// lacks): nothing of the group lands, the callers whose mutation ran hear an unknown outcome,
    /// and the committer stops.
    @Test func aTransactionRolledBackMidGroupLeavesNothingDurableAndStopsTheCommitter() async throws {
        let dir = TemporaryDirectory()
        // The three inserts make one group; the second one's document write fails with the
        // transaction rolled back.
        let committerHold = CommitterHold()
        let documentWrites = Mutex(0)
        var options = EngineOptions()
        options.statementFault = { sql in
            guard sql.hasPrefix("INSERT INTO documents") else { return false }
            return documentWrites.withLock { count in
                count += 1
                return count == 2
            }
        }
        let engine = try Engine.open(path: dir.database, app: App(schema: itemsSchema, functions: committerHold.functions), options: options)
        defer { engine.close() }
        let committer = try #require(engine.committer)
        let stopped = Task { try await engine.untilWritesStop() }
        let store = try Store(database: Database(path: dir.database))
        let documentsBefore = try countDocuments(in: store)

        let hold = try await committerHold.hold(engine)
        let inserts = (1...3).map { n in Task { try await engine.mutation("items:insert", ["group": "g", "n": .float64(Double(n))]) } }
        try await eventually("the three inserts are queued") { committer.queuedCount == 3 }
        committerHold.release()
        let held = try await boundedValue(of: hold, "task `hold` ends")

        // The two that ran are of unknown outcome; the third never ran, and is refused.
        for insert in inserts[..<2] {
            await #expect {
                try await boundedValue(of: insert, "task `insert` ends")
            } throws: { error in
                (error as! FunctionError).unknownOutcome == .commitFailed
            }
        }
        let stoppedMessage = "This node stopped accepting writes after SQLite rolled back a group's transaction on an error; retry the mutation once it has restarted"
        await #expect {
            try await boundedValue(of: inserts[2], "task `inserts2` ends")
        } throws: { error in
            (error as! FunctionError).message == stoppedMessage
        }
        #expect(try await boundedValue(of: stopped, "task `stopped` ends").message == stoppedMessage)
        await #expect {
            try await engine.mutation("items:insert", ["group": "g", "n": 4])
        } throws: { error in
            (error as! FunctionError).message == stoppedMessage
        }
        // What is durable: no insert of the group, and no log row or applied position for it.
        #expect(try store.appliedTimestamp() == held.ts)
        #expect(try countDocuments(in: store) == documentsBefore)
    }

    /// A mutation that catches the error of a write SQLite rolled the transaction back for, and
    /// writes again: that write must fail too, not run in autocommit (durable at once, in no
    /// log row, never shipped).
    @Test func aWriteAfterTheGroupsTransactionWasRolledBackFailsInsteadOfRunningInAutocommit() async throws {
        let dir = TemporaryDirectory()
        let failNextDocumentWrite = Mutex(false)
        var options = EngineOptions()
        options.statementFault = { sql in
            sql.hasPrefix("INSERT INTO documents") && failNextDocumentWrite.withLock { armed in
                defer { armed = false }
                return armed
            }
        }
        var functions = itemsFunctions()
        functions.mutation("items:insertAgainOnFailure") { ctx, _ in
            do {
                _ = try ctx.db.insert("items", ["group": "first", "n": 1])
            } catch {
                _ = try ctx.db.insert("items", ["group": "second", "n": 2])
            }
            return Value.null
        }
        let engine = try Engine.open(path: dir.database, app: App(schema: itemsSchema, functions: functions), options: options)
        defer { engine.close() }
        let stopped = Task { try await engine.untilWritesStop() }
        let store = try Store(database: Database(path: dir.database))
        let before = try await engine.mutation("items:insert", ["group": "g", "n": 0])
        let documentsBefore = try countDocuments(in: store)

        failNextDocumentWrite.withLock { $0 = true }
        await #expect {
            try await engine.mutation("items:insertAgainOnFailure")
        } throws: { error in
            (error as! FunctionError).unknownOutcome == .commitFailed
        }
        let stoppedMessage = "This node stopped accepting writes after SQLite rolled back a group's transaction on an error; retry the mutation once it has restarted"
        #expect(try await boundedValue(of: stopped, "task `stopped` ends").message == stoppedMessage)
        #expect(try store.appliedTimestamp() == before.ts)
        #expect(try countDocuments(in: store) == documentsBefore)
    }
}

/// The documents `store` holds, read on the test's own connection.
private func countDocuments(in store: Store) throws -> Int64 {
    let count = try store.database.statement("SELECT count(*) FROM documents")
    _ = try count.step()
    return count.int64(0)
}
