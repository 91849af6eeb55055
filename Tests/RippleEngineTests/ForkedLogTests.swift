import RippleEngine
import RippleLog
import RippleTestSupport
import RippleValues
import Testing

private struct NoWriter: MutationForwarder {
    func forward(_ call: ForwardedCall) async -> ForwardedOutcome { .failed(FunctionError(.unavailable, "no writer in this test")) }
}

/// A new writer's commits and an old writer's unacknowledged tail can carry the same timestamps:
/// a writer whose clock is behind its log issues last + 1, last + 2, … So a commit is told apart
/// by its term too, and the old writer, rejoining, is found to have forked and is re-seeded.
@Suite struct ForkedLogTests {
    let app = App(schema: itemsSchema, functions: itemsFunctions())

    /// A writer elected in `term` whose clock stands still behind its log.
    func writerOptions(term: UInt64) -> EngineOptions {
        var options = EngineOptions()
        options.clock = { 1_000 }
        options.term = term
        return options
    }

    var replicaOptions: EngineOptions {
        var options = EngineOptions()
        options.role = .replica(forwarder: NoWriter())
        return options
    }

    @Test func anOldWritersTailAtTheNewWritersTimestampIsNotHeldAndTheSnapshotReplacingItCarriesTheTerm() async throws {
        let oldDirectory = TemporaryDirectory()
        let newDirectory = TemporaryDirectory()
        let oldWriter = try Engine.open(path: oldDirectory.database, app: app, options: writerOptions(term: 1))
        _ = try await oldWriter.mutation("items:insert", ["group": "base", "n": 1])
        // The next writer was the old one's replica and holds everything so far.
        let replica = try Engine.open(path: newDirectory.database, app: app, options: replicaOptions)
        try await replica.apply(try await oldWriter.commits(after: 0, limit: 1_000))
        replica.close()
        // Then the old writer commits a tail no replica received, and is replaced.
        let tail = try await oldWriter.mutation("items:insert", ["group": "tail", "n": 2])
        oldWriter.close()
        let newWriter = try Engine.open(path: newDirectory.database, app: app, options: writerOptions(term: 2))
        defer { newWriter.close() }
        let next = try await newWriter.mutation("items:insert", ["group": "next", "n": 3])
        #expect(next.ts == tail.ts)

        // The old writer rejoins as a replica: its position is the tail, of term 1.
        let rejoined = try Engine.open(path: oldDirectory.database, app: app, options: replicaOptions)
        defer { rejoined.close() }
        #expect(try await rejoined.appliedTimestamp() == tail.ts)
        #expect(try await rejoined.appliedTerm() == 1)
        // The new writer's log has a commit at that timestamp (all the old rule looked at), but
        // of another term: not the same commit.
        #expect(try await newWriter.commits(after: tail.ts.subtracting(.nanoseconds(1)), limit: 1).map(\.ts) == [tail.ts])
        #expect(try await !newWriter.holdsCommit(at: tail.ts, term: 1))
        #expect(try await newWriter.holdsCommit(at: tail.ts, term: 2))

        // The snapshot that re-seeds it names the term of its commit, so the next hello matches.
        let (ts, bytes) = try await newWriter.snapshot()
        #expect(try await rejoined.install(snapshot: bytes) == ts)
        #expect(try await rejoined.appliedTerm() == 2)
        #expect(try await newWriter.holdsCommit(at: ts, term: try await rejoined.appliedTerm()))
        #expect(try await rejoined.query("items:byGroup", ["group": "tail"]).value.documents.isEmpty)
        #expect(try await rejoined.query("items:byGroup", ["group": "next"]).value.documents.count == 1)
    }
}
