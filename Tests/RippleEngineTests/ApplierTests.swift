import Foundation
import RippleEngine
import RippleLog
import RippleStorage
import RippleTestSupport
import RippleValues
import Synchronization
import Testing

private struct NoWriter: MutationForwarder {
    func forward(_ call: ForwardedCall) async -> ForwardedOutcome { .failed(FunctionError(.unavailable, "no writer in this test")) }
}

/// The replica's applier queue: batches handed over without waiting are applied in order, each
/// only if it follows the one before, and their completions come back in queue order.
@Suite struct ApplierTests {
    let app = App(schema: itemsSchema, functions: itemsFunctions())

    func openReplica(_ directory: TemporaryDirectory) throws -> Engine {
        var options = EngineOptions()
        options.role = .replica(forwarder: NoWriter())
        return try Engine.open(path: directory.database, app: app, options: options)
    }

    /// Queues `batches` back to back and waits for all completions, in the order they came.
    func applyQueued(_ replica: Engine, _ batches: [(previous: CommitTimestamp, commits: [Commit])]) async -> [Result<CommitTimestamp, any Error>] {
        let results = Mutex<[Result<CommitTimestamp, any Error>]>([])
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            for batch in batches {
                replica.apply(batch.commits, following: batch.previous) { result in
                    let count = results.withLock { $0.append(result); return $0.count }
                    if count == batches.count { done.resume() }
                }
            }
        }
        return results.withLock { $0 }
    }

    @Test func queuedBatchesApplyInOrderAndTheStateMatchesTheWriter() async throws {
        let writerDirectory = TemporaryDirectory()
        let writer = try Engine.open(path: writerDirectory.database, app: app)
        defer { writer.close() }
        for n in 0..<20 { _ = try await writer.mutation("items:insertMany", ["group": "g", "from": .float64(Double(n * 5)), "count": 5]) }
        let commits = try await writer.commits(after: 0, limit: 10_000)
        let latest = try await writer.appliedTimestamp()

        let replicaDirectory = TemporaryDirectory()
        let replica = try openReplica(replicaDirectory)
        defer { replica.close() }
        var batches: [(previous: CommitTimestamp, commits: [Commit])] = []
        var previous = CommitTimestamp.zero
        for start in stride(from: 0, to: commits.count, by: 3) {
            let batch = Array(commits[start..<min(commits.count, start + 3)])
            batches.append((previous, batch))
            previous = batch.last!.ts
        }
        let results = await applyQueued(replica, batches)
        let positions = try results.map { try $0.get() }
        #expect(positions == positions.sorted())
        #expect(positions.last == latest)
        // Every completion names a position at least as new as its own batch.
        for (position, batch) in zip(positions, batches) { #expect(position >= batch.commits.last!.ts) }
        #expect(try await replica.appliedTimestamp() == latest)
        #expect(try await replica.stateHash(at: latest) == writer.stateHash(at: latest))
    }

    @Test func aBatchThatDoesNotFollowFailsAndSoDoesEverythingAfterIt() async throws {
        let writerDirectory = TemporaryDirectory()
        let writer = try Engine.open(path: writerDirectory.database, app: app)
        defer { writer.close() }
        for n in 0..<4 { _ = try await writer.mutation("items:insertMany", ["group": "g", "from": .float64(Double(n)), "count": 1]) }
        let commits = try await writer.commits(after: 0, limit: 10)
        #expect(commits.count >= 4)

        let replicaDirectory = TemporaryDirectory()
        let replica = try openReplica(replicaDirectory)
        defer { replica.close() }
        let first = Array(commits[0..<1])
        let skipped = commits[1].ts
        let results = await applyQueued(replica, [
            (0, first),
            (skipped, Array(commits[2..<3])),  // commits[1] never came: a gap
            (commits[2].ts, Array(commits[3...])),
        ])
        #expect((try? results[0].get()) == first[0].ts)
        #expect((try? results[1].get()) == nil)
        #expect((try? results[2].get()) == nil)
        #expect(try await replica.appliedTimestamp() == first[0].ts)

        // The link resumes from the durable position: the rest follows it and applies.
        let rest = await applyQueued(replica, [(first[0].ts, Array(commits[1...]))])
        #expect((try? rest[0].get()) == commits.last!.ts)
        #expect(try await replica.stateHash(at: commits.last!.ts) == writer.stateHash(at: commits.last!.ts))
    }
}
