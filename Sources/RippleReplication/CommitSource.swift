import RippleLog

/// What the writer's replication server reads from: the committed log and the engine.
/// Only commits whose group COMMIT has returned may be visible here.
public protocol CommitSource: Sendable {
    /// The newest committed timestamp (0 when the log is empty).
    func latestTimestamp() async throws -> CommitTimestamp
    /// Up to `limit` commits with `ts > after`, ascending, with none left out between them.
    /// Throws `CommitLogPruned` when commits after `after` were pruned: the server then sends a
    /// snapshot (`snapshot()`) and continues after its timestamp.
    func commits(after: CommitTimestamp, limit: Int) async throws -> [Commit]
    /// Returns once a commit with `ts > after` exists, or after about a heartbeat interval
    /// (one second) without one — the server sends a heartbeat then. Should return promptly when
    /// the calling task is cancelled, so connections close without delay.
    func waitForCommit(after: CommitTimestamp) async
    /// Calls `deliver` with every commit group made durable from now on — each commit in exactly
    /// one group, in log order, each group only once it is visible to `commits(after:limit:)` —
    /// from the thread that committed it (so `deliver` must not block), until the returned
    /// closure is called. The server uses it to hand a caught-up replica each group in memory
    /// instead of reading it back from the log (`LiveTail`). Returns nil when the source cannot
    /// (the default): the server then reads every commit from the log, woken by `waitForCommit`.
    func followCommits(_ deliver: @escaping @Sendable ([Commit]) -> Void) -> (@Sendable () -> Void)?
    /// Runs a request a replica forwarded (a mutation call) and returns the answer; called
    /// concurrently for concurrent requests.
    func handleForward(_ payload: [UInt8]) async -> [UInt8]
    /// A replica reports it applied everything through `appliedTimestamp` (for lag reporting and
    /// safe pruning), in an `ack` on its link: only after `replicaConnected` for that link.
    func replicaAcknowledged(nodeID: String, appliedTimestamp: CommitTimestamp)
    /// A replica's link was accepted at `position`, the applied timestamp its hello named (a
    /// connected replica holds back pruning). Not an acknowledgement: that position may be an
    /// old writer's divergent tail, which this writer replaces with a snapshot.
    func replicaConnected(nodeID: String, at position: CommitTimestamp)
    /// A replica's link closed (it no longer holds back pruning).
    func replicaDisconnected(nodeID: String)
    /// A consistent snapshot of the whole database and the commit timestamp it is at, for a
    /// replica whose position was pruned from the log.
    func snapshot() async throws -> (ts: CommitTimestamp, bytes: [UInt8])
    /// Whether the log holds the commit at exactly `ts` sequenced in `term` (false when it holds
    /// another commit at `ts`, or pruned it): a replica at a position the log lacks has forked
    /// from it (`Commit`: a commit is its ts and term).
    func holdsCommit(at ts: CommitTimestamp, term: UInt64) async throws -> Bool
}

/// Thrown by the default `snapshot()` / `install(snapshot:at:)`: this side cannot do snapshots.
public struct SnapshotsUnsupported: Error, Sendable {}

extension CommitSource {
    public func followCommits(_ deliver: @escaping @Sendable ([Commit]) -> Void) -> (@Sendable () -> Void)? { nil }
    public func replicaConnected(nodeID: String, at position: CommitTimestamp) {}
    public func replicaDisconnected(nodeID: String) {}
    public func snapshot() async throws -> (ts: CommitTimestamp, bytes: [UInt8]) { throw SnapshotsUnsupported() }
    public func holdsCommit(at ts: CommitTimestamp, term: UInt64) async throws -> Bool { true }
}

/// Where the replica's client delivers commits.
public protocol CommitSink: Sendable {
    /// The newest commit applied durably: where streaming resumes after a (re)connect.
    func appliedTimestamp() async throws -> CommitTimestamp
    /// The term of the commit at `appliedTimestamp()` (`Commit.term`), named in the hello with
    /// it; asked right after it, while nothing is being applied.
    func appliedTerm() async throws -> UInt64
    /// Queues `commits` for applying after everything queued before, and returns without
    /// waiting: the client keeps receiving while earlier batches are applied, and a sink may
    /// apply several queued batches in one transaction. They must follow `previousTimestamp`
    /// exactly (the commit before the first); a batch that does not — for example because one
    /// queued before it failed — must fail without being applied. Each commit is applied
    /// atomically with the applied timestamp. `completion` is called once, in queue order, when
    /// the batch is durable (with the sink's applied timestamp then, which is what the replica
    /// acknowledges to the writer) or has failed (the client then closes the link and resumes
    /// from `appliedTimestamp()`).
    func apply(
        _ commits: [Commit], following previousTimestamp: CommitTimestamp,
        completion: @escaping @Sendable (Result<CommitTimestamp, any Error>) -> Void
    )
    /// Replaces the whole state with a snapshot taken at `ts` (bytes already checked against the
    /// writer's SHA-256), atomically and durably; afterwards `appliedTimestamp()` is `ts`. The
    /// client calls it only once every queued batch has completed.
    func install(snapshot: [UInt8], at ts: CommitTimestamp) async throws
}

extension CommitSink {
    public func appliedTerm() async throws -> UInt64 { 0 }
    public func install(snapshot: [UInt8], at ts: CommitTimestamp) async throws { throw SnapshotsUnsupported() }
}
