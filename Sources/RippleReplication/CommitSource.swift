import RippleStorage

/// What the writer's replication server reads from: the committed log and the engine.
/// Only commits whose group COMMIT has returned may be visible here.
public protocol CommitSource: Sendable {
    /// The newest committed timestamp (0 when the log is empty).
    func latestTimestamp() async throws -> UInt64
    /// Up to `limit` commits with `ts > after`, ascending, with none left out between them.
    /// Throws `CommitLogPruned` when commits after `after` were pruned: the server then sends a
    /// snapshot (`snapshot()`) and continues after its timestamp.
    func commits(after: UInt64, limit: Int) async throws -> [Commit]
    /// Returns once a commit with `ts > after` exists, or after about a heartbeat interval
    /// (one second) without one — the server sends a heartbeat then. Should return promptly when
    /// the calling task is cancelled, so connections close without delay.
    func waitForCommit(after: UInt64) async
    /// Runs a request a replica forwarded (a mutation call) and returns the answer; called
    /// concurrently for concurrent requests.
    func handleForward(_ payload: [UInt8]) async -> [UInt8]
    /// A replica reports it applied everything through `appliedTimestamp` (for lag reporting and
    /// safe pruning).
    func replicaAcknowledged(nodeID: String, appliedTimestamp: UInt64)
    /// A replica's link was accepted (a connected replica holds back pruning).
    func replicaConnected(nodeID: String)
    /// A replica's link closed (it no longer holds back pruning).
    func replicaDisconnected(nodeID: String)
    /// A consistent snapshot of the whole database and the commit timestamp it is at, for a
    /// replica whose position was pruned from the log.
    func snapshot() async throws -> (ts: UInt64, bytes: [UInt8])
}

/// Thrown by the default `snapshot()` / `install(snapshot:at:)`: this side cannot do snapshots.
public struct SnapshotsUnsupported: Error, Sendable {}

extension CommitSource {
    public func replicaConnected(nodeID: String) {}
    public func replicaDisconnected(nodeID: String) {}
    public func snapshot() async throws -> (ts: UInt64, bytes: [UInt8]) { throw SnapshotsUnsupported() }
}

/// Where the replica's client delivers commits.
public protocol CommitSink: Sendable {
    /// The newest commit applied durably: where streaming resumes after a (re)connect.
    func appliedTimestamp() async throws -> UInt64
    /// Applies `commits` in order, each atomically with the applied timestamp, durably before
    /// returning. They always follow `appliedTimestamp()` without gaps or repeats.
    func apply(_ commits: [Commit]) async throws
    /// Replaces the whole state with a snapshot taken at `ts` (bytes already checked against the
    /// writer's SHA-256), atomically and durably; afterwards `appliedTimestamp()` is `ts`.
    func install(snapshot: [UInt8], at ts: UInt64) async throws
}

extension CommitSink {
    public func install(snapshot: [UInt8], at ts: UInt64) async throws { throw SnapshotsUnsupported() }
}
