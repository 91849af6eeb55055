import Foundation
import RippleEngine
import RippleTestSupport
import RippleValues
import Synchronization
import Testing

/// `EngineOptions.commitGate`: the check failover's writer makes right before each COMMIT, so a
/// writer whose lease may have expired commits nothing more.
@Suite struct CommitGateTests {
    @Test func aClosedGateFailsTheGroupAndCommitsNothing() async throws {
        let dir = TemporaryDirectory()
        let open = Mutex(true)
        var options = EngineOptions()
        options.commitGate = { open.withLock { $0 } ? nil : FunctionError(.unavailable, "fenced: no longer the writer") }
        let engine = try openItemsEngine(dir, options: options)
        defer { engine.close() }
        let before = try await engine.mutation("items:insert", ["group": "gate", "n": 1])
        open.withLock { $0 = false }
        await #expect {
            try await engine.mutation("items:insert", ["group": "gate", "n": 2])
        } throws: { error in
            let error = error as! FunctionError
            return error.kind == .unavailable && error.message == "fenced: no longer the writer"
        }
        #expect(try await engine.appliedTimestamp() == before.ts)
        #expect(try await engine.query("items:byGroup", ["group": "gate"]).value.documents.count == 1)
        // Reopened, the gate lets the next group through: nothing of the refused one remains.
        open.withLock { $0 = true }
        _ = try await engine.mutation("items:insert", ["group": "gate", "n": 3])
        #expect(try await engine.query("items:byGroup", ["group": "gate"]).value.documents.count == 2)
    }

    /// The lease may run out while a group is being made durable (a SIGSTOP between the check
    /// and the end of COMMIT): the second check, after COMMIT, leaves the group unacknowledged.
    @Test func aGateThatClosesDuringTheCommitLeavesTheGroupUnacknowledged() async throws {
        let dir = TemporaryDirectory()
        let checks = GateChecks()
        let engine = try openEngineWhoseGateClosesAfterTheFirstCommit(dir, checks: checks)
        defer { engine.close() }
        await #expect {
            try await engine.mutation("items:insert", ["group": "gate", "n": 1])
        } throws: { error in
            let error = error as! FunctionError
            return error.kind == .unavailable && error.unknownOutcome == .leadershipLapsed(reason: "fenced: no longer the writer")
                && error.message == "fenced: no longer the writer while the mutation was being committed: the mutation may or may not have been applied"
        }
        #expect(checks.count.withLock { $0 } == 2)
    }

    /// The chaos suite's failover mode found a writer that went on after such a group: a late
    /// renewal reopened the gate, the next groups were shipped without the unpublished one, and
    /// replicas applied a log with a hole (half of a transfer). The committer stops for good.
    @Test func aGroupLeftUnpublishedStopsTheCommitterEvenIfTheGateReopens() async throws {
        let dir = TemporaryDirectory()
        let checks = GateChecks()
        let engine = try openEngineWhoseGateClosesAfterTheFirstCommit(dir, checks: checks)
        defer { engine.close() }
        await #expect {
            try await engine.mutation("items:insert", ["group": "gate", "n": 1])
        } throws: { error in
            (error as! FunctionError).unknownOutcome == .leadershipLapsed(reason: "fenced: no longer the writer")
        }
        let durable = try await engine.appliedTimestamp()
        await #expect {
            try await engine.mutation("items:insert", ["group": "gate", "n": 2])
        } throws: { error in
            let error = error as! FunctionError
            return error.kind == .unavailable
                && error.message == "This node stopped accepting writes: it left a commit unpublished when its leadership lapsed; retry the mutation on the new writer"
        }
        #expect(checks.count.withLock { $0 } == 2)
        #expect(try await engine.appliedTimestamp() == durable)
    }

    /// An engine whose gate refuses only its second check: the one right after the first COMMIT.
    private func openEngineWhoseGateClosesAfterTheFirstCommit(_ dir: TemporaryDirectory, checks: GateChecks) throws -> Engine {
        var options = EngineOptions()
        options.commitGate = {
            checks.count.withLock { count in
                count += 1
                return count == 2 ? FunctionError(.unavailable, "fenced: no longer the writer") : nil
            }
        }
        return try openItemsEngine(dir, options: options)
    }
}

/// How often a test's commit gate was asked.
private final class GateChecks: Sendable {
    let count = Mutex(0)
}
