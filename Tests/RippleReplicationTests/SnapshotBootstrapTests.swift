import Crypto
import RippleLog
import Synchronization
import Testing

@testable import RippleReplication
@testable import RippleStorage
import RippleTestSupport

/// What a `PrunableLog` heard about a replica's link, in order.
enum LinkEvent: Equatable {
    case connected(String, at: CommitTimestamp)
    case acknowledged(String, CommitTimestamp)
}

/// A writer's log, in memory, whose head can be pruned; its snapshot is a byte pattern naming
/// the newest commit.
actor PrunableLog: CommitSource {
    private(set) var log: [Commit]
    private(set) var prunedThrough: CommitTimestamp = 0
    private(set) var snapshotsTaken = 0
    private(set) var connected: [String: Int] = [:]
    private(set) var forwardsHandled = 0
    /// When set, `snapshot()` waits for the first forward, so that forwards a test keeps sending
    /// are answered while the snapshot is on its way.
    private let snapshotAwaitsAForward: Bool
    private var firstForward: CheckedContinuation<Void, Never>?

    init(commits: [Commit], snapshotAwaitsAForward: Bool = false) {
        log = commits
        self.snapshotAwaitsAForward = snapshotAwaitsAForward
    }

    func append(_ commits: [Commit]) { log += commits }

    /// Forgets every commit with `ts <= through`.
    func prune(through: CommitTimestamp) {
        log.removeAll { $0.ts <= through }
        prunedThrough = max(prunedThrough, through)
    }

    func latestTimestamp() -> CommitTimestamp { log.last?.ts ?? prunedThrough }

    func holdsCommit(at ts: CommitTimestamp, term: UInt64) -> Bool { log.contains { $0.ts == ts && $0.term == term } }

    func commits(after: CommitTimestamp, limit: Int) throws -> [Commit] {
        guard after >= prunedThrough else { throw CommitLogPruned(through: prunedThrough) }
        return Array(log.filter { $0.ts > after }.prefix(limit))
    }

    func waitForCommit(after: CommitTimestamp) async { try? await Task.sleep(for: .milliseconds(20)) }

    nonisolated func handleForward(_ payload: [UInt8]) async -> [UInt8] {
        await forwardHandled()
        return payload
    }

    private func forwardHandled() {
        forwardsHandled += 1
        firstForward?.resume()
        firstForward = nil
    }

    /// Every link's connection and acknowledgements, recorded as the server reports them.
    nonisolated let events = Mutex<[LinkEvent]>([])

    nonisolated func replicaAcknowledged(nodeID: String, appliedTimestamp: CommitTimestamp) {
        events.withLock { $0.append(.acknowledged(nodeID, appliedTimestamp)) }
    }

    nonisolated func replicaConnected(nodeID: String, at position: CommitTimestamp) {
        events.withLock { $0.append(.connected(nodeID, at: position)) }
        Task { await self.link(nodeID, +1) }
    }
    nonisolated func replicaDisconnected(nodeID: String) { Task { await self.link(nodeID, -1) } }
    private func link(_ nodeID: String, _ delta: Int) { connected[nodeID, default: 0] += delta }

    func snapshot() async -> (ts: CommitTimestamp, bytes: [UInt8]) {
        if snapshotAwaitsAForward, forwardsHandled == 0 { await withCheckedContinuation { firstForward = $0 } }
        snapshotsTaken += 1
        let ts = latestTimestamp()
        return (ts, PrunableLog.snapshotBytes(ts))
    }

    /// 2.5 MB that depend on `ts`, so a snapshot spans several chunks.
    static func snapshotBytes(_ ts: CommitTimestamp) -> [UInt8] {
        (0..<2_500_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(ts.nanoseconds)) }
    }
}

/// A replica that records installed snapshots and the commits applied after them.
actor SnapshotReplica: CommitSink {
    private(set) var installed: [(ts: CommitTimestamp, bytes: [UInt8])] = []
    private var log: AppliedCommits
    private let jobs = SerialJobs()
    /// The term of the commit at the position it starts from, named in its hello.
    private let startTerm: UInt64

    init(applied: CommitTimestamp = 0, term: UInt64 = 0) {
        log = AppliedCommits(at: applied)
        startTerm = term
    }

    var current: CommitTimestamp { log.current }
    var applied: [Commit] { log.applied }
    var violations: [String] { log.violations }

    func appliedTimestamp() -> CommitTimestamp { current }

    func appliedTerm() -> UInt64 { startTerm }

    nonisolated func apply(
        _ commits: [Commit], following previous: CommitTimestamp, completion: @escaping @Sendable (Result<CommitTimestamp, any Error>) -> Void
    ) {
        jobs.enqueue { await self.applyQueued(commits, following: previous, completion: completion) }
    }

    private func applyQueued(
        _ commits: [Commit], following previous: CommitTimestamp, completion: @Sendable (Result<CommitTimestamp, any Error>) -> Void
    ) {
        completion(log.apply(commits, following: previous))
    }

    func apply(_ commits: [Commit]) { log.apply(commits) }

    func install(snapshot: [UInt8], at ts: CommitTimestamp) {
        installed.append((ts, snapshot))
        log.reset(at: ts)
    }

    func waitUntilApplied(_ ts: CommitTimestamp) async throws {
        try await eventually("the replica applied through \(ts)", timeout: .seconds(30)) { current >= ts }
    }
}

@Suite(.timeLimit(.minutes(1))) struct SnapshotBootstrapTests {
    let secret = Array("cluster secret".utf8)

    func follow(
        _ source: PrunableLog, _ replica: SnapshotReplica, nodeID: String = "replica-1", snapshotChunkBytes: Int = 256 << 10,
        term: UInt64 = 0, _ body: @Sendable (ReplicationClient) async throws -> Void
    ) async throws {
        var configuration = ReplicationServer.Configuration()
        configuration.snapshotChunkBytes = snapshotChunkBytes
        configuration.term = term
        let server = ReplicationServer(
            host: "127.0.0.1", port: 0, clusterID: "test", secret: secret, source: source, logger: testLogger, configuration: configuration)
        let serverTask = Task { try await server.run() }
        let port = try await server.waitUntilBound()
        var clientConfiguration = ReplicationClient.Configuration(initialBackoff: .milliseconds(20), maxBackoff: .milliseconds(200))
        clientConfiguration.term = term
        let client = ReplicationClient(
            writerHost: "127.0.0.1", writerPort: port, clusterID: "test", nodeID: nodeID, secret: secret, sink: replica, logger: testLogger,
            configuration: clientConfiguration)
        let clientTask = Task { try await client.run() }
        try await body(client)
        clientTask.cancel()
        try await boundedValue(of: clientTask, "the replica client's run returns")
        serverTask.cancel()
        try await boundedValue(of: serverTask, "the replication server's run returns")
    }

    @Test func newReplicaGetsASnapshotThenTheLogAfterIt() async throws {
        let source = PrunableLog(commits: makeCommits(count: 300, after: 1_000))
        await source.prune(through: CommitTimestamp(nanoseconds: 1_000 + 200 * 7))
        let snapshotTs = await source.latestTimestamp()
        let replica = SnapshotReplica()
        try await follow(source, replica) { client in
            try await withTimeout { try await replica.waitUntilApplied(snapshotTs) }
            // Live tail after the snapshot.
            await source.append(makeCommits(count: 50, after: snapshotTs))
            let live = await source.latestTimestamp()
            try await withTimeout { try await replica.waitUntilApplied(live) }
            #expect(try await client.forward([7]) == [7])
        }
        let installed = await replica.installed
        #expect(installed.count == 1)
        #expect(installed.first?.ts == snapshotTs)
        #expect(installed.first?.bytes == PrunableLog.snapshotBytes(snapshotTs))
        #expect(await replica.applied.map(\.ts) == makeCommits(count: 50, after: snapshotTs).map(\.ts))
        #expect(await replica.violations == [])
        #expect(await source.snapshotsTaken == 1)
    }

    /// The position a hello names is where the link starts, never an acknowledgement: it may be
    /// an old writer's divergent tail, and the sync set counts acks only above it — which it can
    /// only do if it learns that position before any ack. (The server used to report the hello
    /// as an ack first, which counted against an already-open link of the same node.) Acks the
    /// replica itself sends of that position while idle are ignored by the sync set.
    @Test func theHelloPositionIsReportedAsTheLinkStartBeforeAnyAcknowledgement() async throws {
        let source = PrunableLog(commits: makeCommits(count: 100, after: 1_000))
        let position = CommitTimestamp(nanoseconds: 1_000 + 50 * 7)
        let replica = SnapshotReplica(applied: position)
        let latest = await source.latestTimestamp()
        try await follow(source, replica) { _ in
            try await withTimeout { try await replica.waitUntilApplied(latest) }
            try await eventually("the replica acknowledged the newest commit") {
                source.events.withLock { $0.contains(.acknowledged("replica-1", latest)) }
            }
        }
        let events = source.events.withLock { $0 }
        #expect(events.first == .connected("replica-1", at: position), "\(events)")
    }

    /// The writer answers a forwarded call as it commits, beside the ordered stream, so answers
    /// arrive in the middle of a snapshot. The replica took one for a broken stream and dropped
    /// the link, failing the call and fetching the snapshot again: in the failover chaos run
    /// (seed 20261207) replicas with a forked tail, which all need a snapshot from a new writer,
    /// did so 37 times while clients wrote through them, staying out of the sync set.
    @Test func forwardAnswersArrivingDuringASnapshotAreDelivered() async throws {
        let source = PrunableLog(commits: makeCommits(count: 300, after: 1_000), snapshotAwaitsAForward: true)
        await source.prune(through: CommitTimestamp(nanoseconds: 1_000 + 200 * 7))
        let replica = SnapshotReplica()
        try await follow(source, replica, snapshotChunkBytes: 4 << 10) { client in
            try await withTimeout {
                try await eventually("the link is open") { await client.isConnected }
                var sent: UInt8 = 0
                while await replica.installed.isEmpty {
                    sent &+= 1
                    #expect(try await client.forward([sent]) == [sent])
                }
            }
        }
        #expect(await replica.installed.count == 1)
        #expect(await source.snapshotsTaken == 1)
        #expect(await source.forwardsHandled > 1)
    }

    @Test func replicaWithinTheLogGetsNoSnapshot() async throws {
        let source = PrunableLog(commits: makeCommits(count: 100, after: 1_000))
        await source.prune(through: CommitTimestamp(nanoseconds: 1_000 + 10 * 7))
        let replica = SnapshotReplica(applied: CommitTimestamp(nanoseconds: 1_000 + 50 * 7))
        let latest = await source.latestTimestamp()
        try await follow(source, replica) { _ in try await withTimeout { try await replica.waitUntilApplied(latest) } }
        #expect(await replica.installed.isEmpty)
        #expect(await replica.applied.count == 50)
        #expect(await source.snapshotsTaken == 0)
    }

    /// A log written in term 1, served by the writer of term 2: what a new writer elected with
    /// its predecessor's commits holds.
    static func termOneLog() -> [Commit] {
        makeCommits(count: 100, after: 1_000).map { Commit(ts: $0.ts, term: 1, writes: $0.writes) }
    }

    /// The replica's position is this log's commit (same ts, same term): it is followed from
    /// there. Taking the link's term (2) for the position's would send a needless snapshot.
    @Test func aReplicaAtACommitOfThisLogOfAnEarlierTermGetsNoSnapshot() async throws {
        let source = PrunableLog(commits: Self.termOneLog())
        let replica = SnapshotReplica(applied: CommitTimestamp(nanoseconds: 1_000 + 50 * 7), term: 1)
        let latest = await source.latestTimestamp()
        try await follow(source, replica, term: 2) { _ in try await withTimeout { try await replica.waitUntilApplied(latest) } }
        #expect(await replica.installed.isEmpty)
        #expect(await replica.applied.count == 50)
        #expect(await source.snapshotsTaken == 0)
    }

    /// The log holds a commit at the replica's position, but of another term: the replica
    /// followed another writer there (an old writer's tail at the same ts) and is re-seeded.
    @Test func aReplicaAtThisLogsTimestampOfAnotherTermGetsASnapshot() async throws {
        let source = PrunableLog(commits: Self.termOneLog())
        let replica = SnapshotReplica(applied: CommitTimestamp(nanoseconds: 1_000 + 50 * 7), term: 2)
        let latest = await source.latestTimestamp()
        try await follow(source, replica, term: 2) { _ in try await withTimeout { try await replica.waitUntilApplied(latest) } }
        #expect(await replica.installed.map(\.ts) == [latest])
        #expect(await replica.applied.isEmpty)
        #expect(await source.snapshotsTaken == 1)
        #expect(await replica.violations == [])
    }

    @Test func logPrunedUnderAFollowingReplicaSendsASnapshot() async throws {
        let source = PrunableLog(commits: makeCommits(count: 10, after: 1_000))
        let replica = SnapshotReplica()
        try await follow(source, replica) { _ in
            let first = await source.latestTimestamp()
            try await withTimeout { try await replica.waitUntilApplied(first) }
            #expect(await source.connected["replica-1"] == 1)
            // The replica is behind (sentTimestamp < pruned point) only if it has not seen the new
            // commits yet; prune them together with their predecessors before the writer streams.
            await source.append(makeCommits(count: 20, after: first))
            await source.prune(through: CommitTimestamp(nanoseconds: first.nanoseconds + 20 * 7))
            await source.append(makeCommits(count: 5, after: CommitTimestamp(nanoseconds: first.nanoseconds + 20 * 7)))
            let latest = await source.latestTimestamp()
            try await withTimeout { try await replica.waitUntilApplied(latest) }
        }
        #expect(await replica.violations == [])
        // Either the stream raced ahead of the prune (no snapshot) or it resumed from a snapshot;
        // in both cases nothing was skipped: after a snapshot, the log continues right after it.
        let installed = await replica.installed
        if let snapshot = installed.last {
            #expect(await replica.applied.map(\.ts).allSatisfy { $0 > snapshot.ts })
        }
    }

    @Test func corruptSnapshotIsRejected() throws {
        var receiver = SnapshotReceiver()
        _ = try receiver.receive(.snapshotBegin(ts: 9, totalBytes: 3))
        _ = try receiver.receive(.snapshotChunk(offset: 0, bytes: [1, 2, 3]))
        #expect(throws: ReplicationError.snapshotDigestMismatch) {
            try receiver.receive(.snapshotEnd(sha256: Array(SHA256.hash(data: [1, 2, 4]))))
        }
    }
}
