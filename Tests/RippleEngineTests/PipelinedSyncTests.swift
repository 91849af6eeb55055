import Foundation
@testable import RippleEngine
import RippleTestSupport
import RippleValues
import Synchronization
import Testing

/// Holds the writer's WAL sync until the test opens it, and tells when a sync is being held.
private final class SyncGate: Sendable {
    private struct State {
        var open = true
        var held = 0
    }

    private let state = Mutex(State())
    private let condition = NSCondition()

    /// The hook: blocks the syncer thread while the gate is closed.
    func pass() {
        condition.lock()
        state.withLock { $0.held += 1 }
        condition.broadcast()
        while !state.withLock({ $0.open }) { condition.wait() }
        state.withLock { $0.held -= 1 }
        condition.unlock()
    }

    func close() { state.withLock { $0.open = false } }

    func open() {
        condition.lock()
        state.withLock { $0.open = true }
        condition.broadcast()
        condition.unlock()
    }

    var holding: Bool { state.withLock { $0.held > 0 } }
}

/// Waits for `condition` for at most 10 s (a failure, not a hang, if it never holds).
private func eventually(_ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(10)
    while !condition() {
        guard ContinuousClock.now < deadline else { throw TestFailure("condition not reached in 10 s") }
        try await Task.sleep(for: .milliseconds(1))
    }
}

private struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The writer's COMMIT returns before the WAL is synced; nothing of a group may leave the node
/// before its sync: not the reply, not the commit listeners, not a read that sees it.
@Suite struct PipelinedSyncTests {
    @Test func aCommittedGroupIsInvisibleOutsideUntilItsSync() async throws {
        let dir = TemporaryDirectory()
        let gate = SyncGate()
        var options = EngineOptions()
        options.beforeWALSync = { gate.pass() }
        let engine = try openItemsEngine(dir, options: options)
        defer {
            gate.open()
            engine.close()
        }
        _ = try await engine.mutation("items:insert", ["group": "g", "n": 0])

        let seen = Observations()
        engine.onCommit { _ in seen.listened.add(1, ordering: .sequentiallyConsistent) }
        gate.close()
        let mutation = Task {
            let result = try await engine.mutation("items:insert", ["group": "g", "n": 1])
            seen.replied.store(true, ordering: .sequentiallyConsistent)
            return result
        }
        // The group is committed (COMMIT returned) once the syncer holds its sync.
        try await eventually { gate.holding }
        let committer = try #require(engine.committer)
        let read = Task { try await engine.query("items:byGroup", ["group": "g"]) }
        try await eventually { committer.durable.waiting == 1 }
        // The read's snapshot holds the new document, and it is waiting; nothing else got out.
        let repliedEarly = seen.replied.load(ordering: .sequentiallyConsistent)
        let listenedEarly = seen.listened.load(ordering: .sequentiallyConsistent)
        #expect(!repliedEarly)
        #expect(listenedEarly == 0)

        gate.open()
        let result = try await mutation.value
        let answer = try await read.value
        #expect(answer.value.documents.count == 2)
        #expect(answer.ts == result.ts)
        let listened = seen.listened.load(ordering: .sequentiallyConsistent)
        #expect(listened == 1)
        #expect(committer.durable.durable >= result.ts)
    }

    @Test func aFailingMutationIsAnsweredOnlyAfterTheSyncOfWhatItRead() async throws {
        let dir = TemporaryDirectory()
        let gate = SyncGate()
        var options = EngineOptions()
        options.beforeWALSync = { gate.pass() }
        let executed = Executions()
        var functions = itemsFunctions()
        functions.mutation("items:failIfAny", args: ["group": v.string()]) { ctx, args -> Value in
            executed.count.add(1, ordering: .sequentiallyConsistent)
            let found = try ctx.db.query("items").withIndex("by_group_n") { $0.eq("group", args["group"]!) }.collect()
            throw ConvexError(["found": .float64(Double(found.count))])
        }
        let engine = try Engine.open(path: dir.database, app: App(schema: itemsSchema, functions: functions), options: options)
        defer {
            gate.open()
            engine.close()
        }
        gate.close()
        let insert = Task { try await engine.mutation("items:insert", ["group": "f", "n": 1]) }
        try await eventually { gate.holding }
        // This mutation reads the insert, which is committed but not yet synced, and fails
        // saying so: its answer must wait for that sync like a success would.
        let seen = Observations()
        let failing = Task {
            do {
                _ = try await engine.mutation("items:failIfAny", ["group": "f"])
            } catch {
                seen.replied.store(true, ordering: .sequentiallyConsistent)
                throw error
            }
        }
        try await eventually { executed.count.load(ordering: .sequentiallyConsistent) == 1 }
        let answeredEarly = seen.replied.load(ordering: .sequentiallyConsistent)
        #expect(!answeredEarly)
        gate.open()
        _ = try await insert.value
        await #expect(throws: FunctionError.self) { try await failing.value }
    }

    @Test func groupsGrowWhileASyncRuns() async throws {
        let dir = TemporaryDirectory()
        let gate = SyncGate()
        var options = EngineOptions()
        options.beforeWALSync = { gate.pass() }
        let executed = Executions()
        var functions = itemsFunctions()
        functions.mutation("items:countedInsert", args: ["n": v.number()]) { ctx, args in
            executed.count.add(1, ordering: .sequentiallyConsistent)
            return try ctx.db.insert("items", ["group": "a", "n": args["n"]!])
        }
        let engine = try Engine.open(path: dir.database, app: App(schema: itemsSchema, functions: functions), options: options)
        defer {
            gate.open()
            engine.close()
        }
        let groups = Mutex<[Int]>([])
        engine.onCommit { group in groups.withLock { $0.append(group.mutations.count) } }
        gate.close()
        let first = Task { try await engine.mutation("items:countedInsert", ["n": 0]) }
        try await eventually { gate.holding }
        // While the first group's sync is held, 20 more mutations run: all in the next group.
        let rest = (1...20).map { n in Task { try await engine.mutation("items:countedInsert", ["n": .float64(Double(n))]) } }
        try await eventually { executed.count.load(ordering: .sequentiallyConsistent) == 21 }
        gate.open()
        _ = try await first.value
        for task in rest { _ = try await task.value }
        #expect(groups.withLock { $0 } == [1, 20])
    }
}

private final class Executions: Sendable {
    let count = Atomic<Int>(0)
}

private final class Observations: Sendable {
    let replied = Atomic<Bool>(false)
    let listened = Atomic<Int>(0)
}
