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
}
