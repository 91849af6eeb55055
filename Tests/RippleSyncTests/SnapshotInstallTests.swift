import ChatExample
import Logging
import RippleAuth
import RippleEngine
import RippleLog
import RippleProtocol
@testable import RippleSync
import RippleTestSupport
import RippleValues
import Synchronization
import Testing

private struct NoWriter: MutationForwarder {
    func forward(_ call: ForwardedCall) async -> ForwardedOutcome { .failed(FunctionError(.unavailable, "no writer in this test")) }
}

/// The Transitions one socket was sent, in order.
private final class TransitionLog: Sendable {
    let transitions = Mutex<[Transition]>([])
}

/// A replica holding `commits`, its hub fed by its commit feed, and the Transitions of one
/// socket subscribed (unless `subscribed` is false) to `diagnostics:runStats` for the prefix "fork".
private final class SubscribedReplica: Sendable {
    let directory = TemporaryDirectory()
    let engine: Engine
    let hub: SubscriptionHub
    let session: SessionID
    let received = TransitionLog()
    let ingest: Task<Void, Never>

    static let subscription = QuerySetModification.add(
        queryId: 0, udfPath: "diagnostics:runStats", args: ["prefix": "fork"], journal: nil, componentPath: nil)

    init(holding commits: [Commit], subscribed: Bool = true) async throws {
        var options = EngineOptions()
        options.role = .replica(forwarder: NoWriter())
        engine = try Engine.open(path: directory.database, app: ChatApp.appWithDiagnostics, options: options)
        try await engine.apply(commits)
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        let hub = SubscriptionHub(engine: engine, startTimestamp: try await engine.latestTimestamp(), logger: logger)
        self.hub = hub
        let (groups, feed) = AsyncStream<CommitGroup>.makeStream()
        engine.commitFeed.subscribe { feed.yield($0) }
        ingest = Task { for await group in groups { await hub.ingest(group) } }
        let received = received
        session = await hub.openSession { message in
            if case .transition(let transition) = message { received.transitions.withLock { $0.append(transition) } }
        }
        if subscribed { await hub.modifyQuerySet(session, newVersion: 1, modifications: [Self.subscription]) }
    }

    /// The socket's protocol session, as the sync server runs it.
    func syncSession() throws -> SyncSession {
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        return SyncSession(
            id: session, hub: hub, engine: engine,
            authenticator: try Authenticator(config: AuthConfig(providers: [], adminKey: "key")), logger: logger
        ) { _ in }
    }

    var endTimestamps: [UInt64] { received.transitions.withLock { $0.map(\.endVersion.ts) } }

    /// The last Transition's (end ts, counter, runs) once `count` Transitions have arrived.
    func shown(after count: Int) async throws -> (ts: UInt64, counter: Double?, runs: Double?) {
        try await eventually("Transition \(count)", timeout: .seconds(20)) { self.received.transitions.withLock { $0.count } >= count }
        let last = received.transitions.withLock { $0[count - 1] }
        for case .queryUpdated(_, let value, _, _) in last.modifications {
            return (last.endVersion.ts, value["counter"]?.doubleValue, value["runs"]?.doubleValue)
        }
        return (last.endVersion.ts, nil, nil)
    }

    deinit {
        ingest.cancel()
        engine.close()
    }
}

/// A replica re-seeded by a snapshot (an old writer's divergent tail discarded after a failover)
/// shows its subscribers the installed state, even when the snapshot is at the timestamp they
/// were already shown, and waits for the new writer's commits when it is below it.
@Suite struct SnapshotInstallTests {
    /// A writer elected in `term` whose clock stands still, so two writers issue the same timestamps.
    static func writer(term: UInt64, directory: TemporaryDirectory) throws -> Engine {
        var options = EngineOptions()
        options.clock = { 1_000 }
        options.term = term
        return try Engine.open(path: directory.database, app: ChatApp.appWithDiagnostics, options: options)
    }

    /// An old writer (term 1) whose two-commit tail ends at `tail`, and a new writer (term 2)
    /// whose one commit sits below it at `base`: a snapshot of the new writer is below the tail.
    struct ForkBelow {
        let directories = (old: TemporaryDirectory(), new: TemporaryDirectory())
        let oldWriter: Engine
        let newWriter: Engine
        let tail: CommitTimestamp
        let base: CommitTimestamp

        init() async throws {
            oldWriter = try SnapshotInstallTests.writer(term: 1, directory: directories.old)
            _ = try await SnapshotInstallTests.record(oldWriter, tag: "fork-old-1")
            tail = try await SnapshotInstallTests.record(oldWriter, tag: "fork-old-2")
            newWriter = try SnapshotInstallTests.writer(term: 2, directory: directories.new)
            base = try await newWriter.mutation("diagnostics:recordRun", ["tag": "other-new", "counter": "other"], caller: .server).ts
        }

        func close() {
            oldWriter.close()
            newWriter.close()
        }
    }

    static func record(_ engine: Engine, tag: String) async throws -> CommitTimestamp {
        try await engine.mutation("diagnostics:recordRun", ["tag": .string(tag), "counter": "fork"], caller: .server).ts
    }

    @Test(.timeLimit(.minutes(1))) func aSnapshotAtTheTimestampAlreadyShownReplacesTheResults() async throws {
        let oldDirectory = TemporaryDirectory()
        let newDirectory = TemporaryDirectory()
        let oldWriter = try Self.writer(term: 1, directory: oldDirectory)
        defer { oldWriter.close() }
        let tail = try await Self.record(oldWriter, tag: "fork-old")
        let newWriter = try Self.writer(term: 2, directory: newDirectory)
        defer { newWriter.close() }
        let other = try await newWriter.mutation("diagnostics:recordRun", ["tag": "other-new", "counter": "other"], caller: .server)
        #expect(other.ts == tail)

        let replica = try await SubscribedReplica(holding: try await oldWriter.commits(after: 0, limit: 1_000))
        let forked = try await replica.shown(after: 1)
        #expect(forked.ts == tail.nanoseconds && forked.counter == 1 && forked.runs == 1)

        #expect(try await replica.engine.install(snapshot: try await newWriter.snapshot().bytes) == tail)
        let installed = try await replica.shown(after: 2)
        #expect(installed.ts == tail.nanoseconds && installed.counter == 0 && installed.runs == 0)
    }

    @Test(.timeLimit(.minutes(1))) func aSnapshotBelowTheTimestampAlreadyShownWaitsForTheNewWritersCommits() async throws {
        let fork = try await ForkBelow()
        defer { fork.close() }
        let (oldWriter, newWriter, tail, base) = (fork.oldWriter, fork.newWriter, fork.tail, fork.base)
        #expect(base < tail)

        let replica = try await SubscribedReplica(holding: try await oldWriter.commits(after: 0, limit: 1_000))
        let forked = try await replica.shown(after: 1)
        #expect(forked.ts == tail.nanoseconds && forked.counter == 2 && forked.runs == 2)

        #expect(try await replica.engine.install(snapshot: try await newWriter.snapshot().bytes) == base)
        // A mutation answered at the forked position is not "applied here" until the new writer's commit arrives.
        try await eventually("the hub went back to the snapshot") { await !replica.hub.hasProcessed(tail) }
        #expect(await replica.hub.hasProcessed(base))

        // The new writer's next commit, at the forked position: the client is shown its state.
        #expect(try await Self.record(newWriter, tag: "fork-new") == tail)
        try await replica.engine.apply(try await newWriter.commits(after: base, limit: 1_000))
        let caughtUp = try await replica.shown(after: 2)
        #expect(caughtUp.ts == tail.nanoseconds && caughtUp.counter == 1 && caughtUp.runs == 1)
    }

    /// A client reconnecting with a ts this node has processed (an old writer's tail it holds
    /// before its snapshot arrives) is shown nothing older, even before its first Transition.
    @Test(.timeLimit(.minutes(1))) func aClientsConnectTimestampStaysItsFloorThroughASnapshotInstall() async throws {
        let fork = try await ForkBelow()
        defer { fork.close() }
        let (oldWriter, newWriter, tail, base) = (fork.oldWriter, fork.newWriter, fork.tail, fork.base)
        #expect(base < tail)

        let replica = try await SubscribedReplica(holding: try await oldWriter.commits(after: 0, limit: 1_000), subscribed: false)
        #expect(await replica.hub.hasProcessed(tail))
        let socket = try replica.syncSession()
        try await socket.handle(.connect(Connect(sessionId: "s", connectionCount: 1, maxObservedTimestamp: tail.nanoseconds)))

        #expect(try await replica.engine.install(snapshot: try await newWriter.snapshot().bytes) == base)
        try await eventually("the hub went back to the snapshot") { await !replica.hub.hasProcessed(tail) }
        try await socket.handle(.modifyQuerySet(baseVersion: 0, newVersion: 1, modifications: [SubscribedReplica.subscription]))
        try await eventually("the session waits for the client's ts") { await replica.hub.catchingUpSessionCount == 1 }
        #expect(replica.endTimestamps.isEmpty)

        #expect(try await Self.record(newWriter, tag: "fork-new") == tail)
        try await replica.engine.apply(try await newWriter.commits(after: base, limit: 1_000))
        let caughtUp = try await replica.shown(after: 1)
        #expect(caughtUp.ts == tail.nanoseconds && caughtUp.counter == 1 && caughtUp.runs == 1)
        #expect(replica.endTimestamps.allSatisfy { $0 >= tail.nanoseconds })
    }

    /// Queries hit by the discarded tail are not left stale by it: after the install each is
    /// re-run once, and the hub rests until the new writer commits.
    @Test(.timeLimit(.minutes(1))) func queriesHitByTheDiscardedTailAreReRunOnce() async throws {
        let fork = try await ForkBelow()
        defer { fork.close() }
        let (oldWriter, newWriter, tail, base) = (fork.oldWriter, fork.newWriter, fork.tail, fork.base)

        let replica = try await SubscribedReplica(holding: [])
        try await replica.engine.apply(try await oldWriter.commits(after: 0, limit: 1_000))
        try await eventually("the hub took in the tail and rests") {
            let updating = await replica.hub.isUpdating
            return await replica.hub.hasProcessed(tail) && !updating
        }
        let reruns = await replica.hub.rerunCount

        #expect(try await replica.engine.install(snapshot: try await newWriter.snapshot().bytes) == base)
        try await eventually("the hub went back to the snapshot") { await !replica.hub.hasProcessed(tail) }
        try await eventually("the hub rests after the install") { await !replica.hub.isUpdating }
        #expect(await replica.hub.rerunCount == reruns + 1)
    }
}
