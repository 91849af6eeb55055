import Foundation
@testable import RippleEngine
import RippleLog
import RippleTestSupport
import RippleValues
import Synchronization
import Testing

/// A linger clock the test drives: every COMMIT takes `commitTakes`, and every linger ends at
/// `lingerEnds`; the lingers the committer asked for are kept.
final class ManualLingerClock: LingerClock {
    private struct State {
        var reading: UInt64 = 0
        var lingerEnds = Date(timeIntervalSinceNow: 3600)
        var lingers: [UInt64] = []
    }
    private let state = Mutex(State())
    private let commitTakes: UInt64

    init(commitTakes: UInt64) { self.commitTakes = commitTakes }

    /// Advances by `commitTakes` on every reading: the committer reads once before COMMIT and once after.
    func uptimeNanoseconds() -> UInt64 {
        state.withLock { state in
            defer { state.reading += commitTakes }
            return state.reading
        }
    }

    func lingerDeadline(after nanoseconds: UInt64) -> Date {
        state.withLock {
            $0.lingers.append(nanoseconds)
            return $0.lingerEnds
        }
    }

    /// Every linger asked for so far, in nanoseconds, one per group.
    var lingers: [UInt64] { state.withLock { $0.lingers } }

    func endLingers(at date: Date) { state.withLock { $0.lingerEnds = date } }
}

/// When the queue runs dry before a group has as many mutations as the last one answered, the
/// group waits (up to half a recent COMMIT's duration) for those callers to come back, then
/// commits: once it is as big as the last group, or when the linger ends.
@Suite(.timeLimit(.minutes(1))) struct CommitterLingerTests {
    /// An engine whose last group answered three mutations, timed by `clock`, with the mutation
    /// `items:insertNoting` that counts its runs.
    struct Harness {
        let engine: Engine
        let committer: Committer
        let notes: Notes

        init(_ dir: TemporaryDirectory, clock: ManualLingerClock) async throws {
            let hold = CommitterHold()
            var functions = hold.functions
            var options = EngineOptions()
            options.lingerClock = clock
            let noted = Notes()
            functions.mutation("items:insertNoting", args: ["n": v.number()]) { ctx, args in
                noted.ran()
                return try ctx.db.insert("items", ["group": "linger", "n": args["n"]!])
            }
            engine = try Engine.open(path: dir.database, app: App(schema: itemsSchema, functions: functions), options: options)
            committer = try #require(engine.committer)
            notes = noted
            engine.commitFeed.subscribe { group in noted.published(group.mutations.map(\.ts)) }

            // Held in a group of its own while three inserts queue up; released, the three make
            // the next group.
            let engine = self.engine
            let committer = self.committer
            let held = try await hold.hold(engine)
            let inserts = (0..<3).map { n in Task { try await engine.mutation("items:insert", ["group": "warm", "n": .float64(Double(n))]) } }
            try await eventually("three inserts are queued") { committer.queuedCount == 3 }
            hold.release()
            _ = try await boundedValue(of: held, "task `held` ends")
            for insert in inserts { _ = try await boundedValue(of: insert, "task `insert` ends") }
        }

        func insertNoting(_ n: Int) -> Task<MutationResult, any Error> {
            Task { [engine] in try await engine.mutation("items:insertNoting", ["n": .float64(Double(n))]) }
        }
    }

    /// What the committer's thread reports to the test: runs of `items:insertNoting`, published groups.
    final class Notes: Sendable {
        private let runs = Mutex(0)
        private let groups = Mutex<[[CommitTimestamp]]>([])

        func ran() { runs.withLock { $0 += 1 } }
        func published(_ timestamps: [CommitTimestamp]) { groups.withLock { $0.append(timestamps) } }

        var runCount: Int { runs.withLock { $0 } }
        /// The timestamps of the last published group.
        var lastGroup: [CommitTimestamp]? { groups.withLock { $0.last } }
    }

    // Every COMMIT takes 128 ms: the moving average is 16 ms after the first group and 30 ms
    // after the second, so the lingers asked for are 0, 8 and 15 ms.
    static let commitTakes: UInt64 = 128_000_000
    static let lingers: [UInt64] = [0, 8_000_000, 15_000_000]

    @Test func aGroupWaitsForAsManyMutationsAsTheLastOneThenCommitsWithoutWaitingOut() async throws {
        let dir = TemporaryDirectory()
        let clock = ManualLingerClock(commitTakes: Self.commitTakes)
        let h = try await Harness(dir, clock: clock)
        defer { h.engine.close() }
        // A linger that outlasts the test's time limit: the group commits only because it filled
        // up. (`NSCondition` traps on `Date.distantFuture`.)
        clock.endLingers(at: Date(timeIntervalSinceNow: 3600))

        let first = h.insertNoting(1)
        try await eventually("the first insert has run and its group lingers") { h.notes.runCount == 1 }
        let second = h.insertNoting(2)
        let third = h.insertNoting(3)
        let timestamps = [try await boundedValue(of: first, "task `first` ends").ts, try await boundedValue(of: second, "second ends").ts, try await boundedValue(of: third, "third ends").ts]

        #expect(h.notes.lastGroup == timestamps)
        #expect(clock.lingers == Self.lingers)
    }

    @Test func aLingerThatRunsOutCommitsTheGroupAsItIs() async throws {
        let dir = TemporaryDirectory()
        let clock = ManualLingerClock(commitTakes: Self.commitTakes)
        let h = try await Harness(dir, clock: clock)
        defer { h.engine.close() }
        // The linger is over as soon as it starts: nobody else comes in time.
        clock.endLingers(at: .distantPast)

        let alone = try await h.insertNoting(1).value

        #expect(h.notes.lastGroup == [alone.ts])
        #expect(clock.lingers == Self.lingers)
        let items = try await h.engine.query("items:byGroup", ["group": "linger"]).value.documents
        #expect(items.map { $0["n"] } == [1])
    }
}
