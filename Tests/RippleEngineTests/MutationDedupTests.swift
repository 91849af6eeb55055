import Foundation
import RippleEngine
import RippleStorage
import RippleTestSupport
import RippleValues
import Synchronization
import Testing

/// Remembered client mutations (`_mutation_requests`): a resend by the same identity in the same
/// session gets the first result without running again, across restarts, for the retention.
@Suite struct MutationDedupTests {
    let alice = Identity.user(UserIdentity(subject: "alice", issuer: "https://issuer.test"))
    let bob = Identity.user(UserIdentity(subject: "bob", issuer: "https://issuer.test"))

    func items(_ engine: Engine, _ group: String) async throws -> Int {
        try await engine.query("items:byGroup", ["group": .string(group)]).value.documents.count
    }

    @Test func resendRunsOnceAndGetsTheFirstResult() async throws {
        let dir = TemporaryDirectory()
        let engine = try openItemsEngine(dir)
        defer { engine.close() }
        let request = ClientRequest(session: "s1", id: 7)
        let first = try await engine.mutation("items:insert", ["group": "g", "n": 1], identity: alice, request: request)
        let resent = try await engine.mutation("items:insert", ["group": "g", "n": 1], identity: alice, request: request)
        #expect(resent.value == first.value)
        #expect(resent.ts >= first.ts)
        #expect(try await items(engine, "g") == 1)
    }

    @Test func concurrentResendsRunOnce() async throws {
        let dir = TemporaryDirectory()
        let engine = try openItemsEngine(dir)
        defer { engine.close() }
        let alice = self.alice
        let request = ClientRequest(session: "s1", id: 1)
        let results = try await withThrowingTaskGroup(of: Value.self) { group in
            for _ in 0..<8 {
                group.addTask { try await engine.mutation("items:insert", ["group": "c", "n": 1], identity: alice, request: request).value }
            }
            return try await group.reduce(into: Set<Value>()) { $0.insert($1) }
        }
        #expect(results.count == 1)
        #expect(try await items(engine, "c") == 1)
    }

    @Test func anotherIdentityOrSessionRunsAgain() async throws {
        let dir = TemporaryDirectory()
        let engine = try openItemsEngine(dir)
        defer { engine.close() }
        let args: [String: Value] = ["group": "k", "n": 1]
        _ = try await engine.mutation("items:insert", args, identity: alice, request: ClientRequest(session: "s1", id: 1))
        _ = try await engine.mutation("items:insert", args, identity: bob, request: ClientRequest(session: "s1", id: 1))
        _ = try await engine.mutation("items:insert", args, identity: .anonymous, request: ClientRequest(session: "s1", id: 1))
        _ = try await engine.mutation("items:insert", args, identity: alice, request: ClientRequest(session: "s2", id: 1))
        _ = try await engine.mutation("items:insert", args, identity: alice, request: ClientRequest(session: "s1", id: 2))
        #expect(try await items(engine, "k") == 5)
    }

    @Test func emptySessionIsNeverDeduplicated() {
        #expect(ClientRequest(session: "", id: 0) == nil)
    }

    @Test func failedMutationLeavesNoRecordAndItsResendRuns() async throws {
        let dir = TemporaryDirectory()
        let engine = try openItemsEngine(dir)
        defer { engine.close() }
        let request = ClientRequest(session: "s1", id: 1)
        for _ in 0..<2 {
            await #expect(throws: FunctionError.self) {
                try await engine.mutation("items:insertThenFail", ["group": "f"], identity: alice, request: request)
            }
        }
        #expect(try await items(engine, "f") == 0)
    }

    @Test func rememberedAcrossRestart() async throws {
        let dir = TemporaryDirectory()
        let request = ClientRequest(session: "s1", id: 1)
        let engine = try openItemsEngine(dir)
        let first = try await engine.mutation("items:insert", ["group": "r", "n": 1], identity: alice, request: request)
        engine.close()
        let reopened = try openItemsEngine(dir)
        defer { reopened.close() }
        let resent = try await reopened.mutation("items:insert", ["group": "r", "n": 1], identity: alice, request: request)
        #expect(resent.value == first.value)
        #expect(try await items(reopened, "r") == 1)
    }

    @Test func resultsOlderThanTheRetentionAreRemoved() async throws {
        let dir = TemporaryDirectory()
        let clock = Mutex<UInt64>(1_800_000_000_000_000_000)
        var options = EngineOptions()
        options.clock = { clock.withLock { .init(nanoseconds: $0) } }
        options.dedup.retention = .seconds(300)
        let engine = try openItemsEngine(dir, options: options)
        defer { engine.close() }
        let old = ClientRequest(session: "s1", id: 1)
        _ = try await engine.mutation("items:insert", ["group": "e", "n": 1], identity: alice, request: old)
        // Within the retention the old result is kept, even as new ones are written.
        clock.withLock { $0 += 299 * 1_000_000_000 }
        _ = try await engine.mutation("items:insert", ["group": "e", "n": 2], identity: alice, request: ClientRequest(session: "s1", id: 2))
        _ = try await engine.mutation("items:insert", ["group": "e", "n": 1], identity: alice, request: old)
        #expect(try await items(engine, "e") == 2)
        // Past it, the next remembered mutation removes it: a resend then runs again.
        clock.withLock { $0 += 2 * 1_000_000_000 }
        _ = try await engine.mutation("items:insert", ["group": "e", "n": 3], identity: alice, request: ClientRequest(session: "s1", id: 3))
        _ = try await engine.mutation("items:insert", ["group": "e", "n": 1], identity: alice, request: old)
        #expect(try await items(engine, "e") == 4)
    }

    @Test func functionsCannotReadRememberedResults() async throws {
        let dir = TemporaryDirectory()
        var functions = itemsFunctions()
        functions.query("spy:results") { ctx, _ in try ctx.db.system.query("_mutation_requests").collect() }
        let engine = try Engine.open(path: dir.database, app: App(schema: itemsSchema, functions: functions))
        defer { engine.close() }
        _ = try await engine.mutation("items:insert", ["group": "s", "n": 1], identity: alice, request: ClientRequest(session: "s1", id: 1))
        await #expect {
            try await engine.query("spy:results")
        } throws: { error in
            (error as? FunctionError)?.message
                == "Uncaught Error: Table \"_mutation_requests\" is internal to the engine; functions cannot read it"
        }
    }

    @Test func functionsCannotGetARememberedResultByItsID() async throws {
        let dir = TemporaryDirectory()
        var functions = itemsFunctions()
        functions.query("spy:get", args: ["id": v.string()]) { ctx, args in try ctx.db.get(try args.string("id"))?.convexValue ?? .null }
        functions.query("spy:systemGet", args: ["id": v.string()]) { ctx, args in try ctx.db.system.get(try args.string("id"))?.convexValue ?? .null }
        let engine = try Engine.open(path: dir.database, app: App(schema: itemsSchema, functions: functions))
        defer { engine.close() }
        _ = try await engine.mutation("items:insert", ["group": "s", "n": 1], identity: alice, request: ClientRequest(session: "s1", id: 1))
        let database = try Database(path: dir.database, readOnly: true)
        let lookup = try database.statement(
            "SELECT d.id FROM documents d JOIN tables_catalog t ON t.number = d.table_number WHERE t.name = '_mutation_requests'")
        #expect(try lookup.step())
        let recordID = lookup.string(0)
        for path in ["spy:get", "spy:systemGet"] {
            #expect(try await engine.query(path, ["id": .string(recordID)]).value == .null, "\(path) read a remembered result")
        }
    }
}
