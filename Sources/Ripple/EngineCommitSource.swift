import Foundation
import Logging
import RippleEngine
import RippleReplication
import RippleStorage
import RippleSync
import RippleValues
import Synchronization

/// The writer's side of replication: the commit log and the engine, as the replication server
/// reads them, plus forwarded mutations and replica acknowledgements.
final class EngineCommitSource: CommitSource {
    let engine: Engine
    /// Each replica's last acknowledged applied timestamp, by node id.
    let acknowledged = Mutex<[String: UInt64]>([:])

    init(engine: Engine) {
        self.engine = engine
    }

    /// A connection on the live tail gets each durable group, as log entries, straight from the
    /// commit feed on the committer's thread.
    func followCommits(_ deliver: @escaping @Sendable ([Commit]) -> Void) -> (@Sendable () -> Void)? {
        let subscription = engine.commitFeed.subscribe { group in
            deliver(group.mutations.map { Commit(ts: $0.ts, writes: $0.logWrites) })
        }
        return { subscription.cancel() }
    }

    func latestTimestamp() async throws -> UInt64 { try await engine.appliedTimestamp() }

    func commits(after ts: UInt64, limit: Int) async throws -> [Commit] { try await engine.commits(after: ts, limit: limit) }

    func waitForCommit(after ts: UInt64) async {
        _ = await engine.waitUntilApplied(ts + 1, timeout: .seconds(1))
    }

    func handleForward(_ payload: [UInt8]) async -> [UInt8] {
        guard let call = try? ForwardedCall(decoding: payload) else {
            return ForwardedOutcome.failed(FunctionError(.invalidUse, "Malformed forwarded mutation")).encoded
        }
        do throws(FunctionError) {
            let result = try await engine.mutation(call.path, call.args, identity: call.identity, caller: call.caller, request: call.request)
            return ForwardedOutcome.committed(result).encoded
        } catch {
            return ForwardedOutcome.failed(error).encoded
        }
    }

    func replicaAcknowledged(nodeID: String, appliedTimestamp: UInt64) {
        acknowledged.withLock { $0[nodeID] = appliedTimestamp }
    }

    /// Open links per replica node id; a connected replica holds back age-based pruning.
    let connected = Mutex<[String: Int]>([:])

    func replicaConnected(nodeID: String) {
        connected.withLock { $0[nodeID, default: 0] += 1 }
    }

    func replicaDisconnected(nodeID: String) {
        connected.withLock { links in
            links[nodeID, default: 1] -= 1
            if links[nodeID]! <= 0 { links[nodeID] = nil }
        }
    }

    /// The oldest applied timestamp among connected replicas (nil when none is connected).
    func oldestConnectedReplica() -> UInt64? {
        let nodes = connected.withLock { Set($0.keys) }
        return acknowledged.withLock { acks in nodes.compactMap { acks[$0] }.min() }
    }

    func snapshot() async throws -> (ts: UInt64, bytes: [UInt8]) { try await engine.snapshot() }

    /// `/health` fields: every replica's applied ts and lag in commits.
    func status() async -> [(String, JSON)] {
        var replicas: [(String, JSON)] = []
        for (node, ts) in acknowledged.withLock({ $0 }).sorted(by: { $0.key < $1.key }) {
            let lag = (try? await engine.commitCount(after: ts)) ?? -1
            replicas.append((node, .object([("appliedTs", .string(String(ts))), ("lagCommits", .int(Int64(lag)))])))
        }
        let pruned = (try? await engine.logPrunedThrough()) ?? 0
        return [("replicas", .object(replicas)), ("logPrunedThrough", .string(String(pruned)))]
    }
}

/// The replica's side: shipped commits go into the engine's applier.
struct EngineCommitSink: CommitSink {
    let engine: Engine

    func appliedTimestamp() async throws -> UInt64 { try await engine.appliedTimestamp() }
    func apply(
        _ commits: [Commit], following previousTimestamp: UInt64, completion: @escaping @Sendable (Result<UInt64, any Error>) -> Void
    ) {
        engine.apply(commits, following: previousTimestamp, completion: completion)
    }
    func install(snapshot: [UInt8], at ts: UInt64) async throws {
        let installed = try await engine.install(snapshot: snapshot)
        guard installed == ts else { throw ReplicationError.unexpectedMessage("snapshot announced ts \(ts) but holds \(installed)") }
    }
}

/// How much commit log a node keeps: the newest `commits` commits, and (when set) commits
/// younger than `seconds`. Older commits go, except that on the writer age-based pruning waits
/// for connected replicas; a replica more than `commits` commits behind is too far behind and
/// gets a snapshot. Replicas prune by the same rule: they serve no log today, but a bounded one
/// lets a replica serve others or become the writer later, and an unbounded one fills its disk.
struct LogRetention: Sendable {
    var commits: Int = 1_000_000
    var seconds: Double? = nil
    var interval: Duration = .seconds(10)
    var batch: Int = 1_000
}

/// Prunes a node's commit log periodically on its own connection, in small DELETE batches
/// (each its own short write transaction, so the committer or applier waits at most one batch).
final class LogPruner: Sendable {
    let path: String
    let retention: LogRetention
    /// The oldest position a connected replica still needs (the writer's), which age-based
    /// pruning keeps; nil keeps nothing extra.
    let protectedTimestamp: @Sendable () -> UInt64?
    let logger: Logger
    /// The pruner's SQLite work runs here, off the concurrency pool: its statements block, and a
    /// long pass must not hold a pool thread that sync sockets and replication links need.
    private let queue = DispatchQueue(label: "ripple-log-pruner")
    /// The pruner's own connection, opened on first use; touched only on `queue`.
    private nonisolated(unsafe) var store: Store?

    init(path: String, retention: LogRetention, protectedTimestamp: @escaping @Sendable () -> UInt64? = { nil }, logger: Logger) {
        self.path = path
        self.retention = retention
        self.protectedTimestamp = protectedTimestamp
        self.logger = logger
    }

    /// Prunes every `retention.interval` until cancelled.
    func run() async throws {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: retention.interval)
            } catch {
                return
            }
            do {
                _ = try await pruneOnce()
            } catch {
                logger.warning("commit log pruning failed", metadata: ["error": "\(error)"])
            }
        }
    }

    /// One pruning pass; returns how many commits were deleted.
    func pruneOnce() async throws -> Int {
        let protected = protectedTimestamp()
        return try await withCheckedThrowingContinuation { continuation in
            queue.async { [self] in
                continuation.resume(with: Result { try prune(protecting: protected) })
            }
        }
    }

    /// On `queue`: deletes what the retention allows, a batch per short write transaction.
    private func prune(protecting protected: UInt64?) throws -> Int {
        let store = try self.store ?? Store(database: Database(path: path))
        self.store = store
        let now = UInt64(max(0, Date().timeIntervalSince1970) * 1_000_000_000)
        let cutoff = try store.logCutoff(keepingNewest: max(0, retention.commits))
        var ageCutoff: UInt64 = 0
        if let seconds = retention.seconds {
            let age = UInt64(max(0, seconds) * 1_000_000_000)
            ageCutoff = now > age ? now - age : 0
            if let protected { ageCutoff = min(ageCutoff, protected) }
        }
        let target = max(cutoff, ageCutoff)
        guard target > (try store.logPrunedThrough()) else { return 0 }
        let started = ContinuousClock.now
        var deleted = 0
        while true {
            let count = try store.pruneLog(through: target, batch: retention.batch)
            deleted += count
            if count < retention.batch { break }
        }
        if deleted > 0 {
            let through = try store.logPrunedThrough()
            logger.info("pruned the commit log", metadata: [
                "deleted": "\(deleted)", "prunedThrough": "\(through)", "took": "\(ContinuousClock.now - started)",
            ])
        }
        return deleted
    }
}

/// Sends a replica's mutations to the writer over the replication link.
final class LinkForwarder: MutationForwarder {
    private let client = Mutex<ReplicationClient?>(nil)

    func attach(_ replicationClient: ReplicationClient) {
        client.withLock { $0 = replicationClient }
    }

    func forward(_ call: ForwardedCall) async -> ForwardedOutcome {
        guard let client = client.withLock({ $0 }) else {
            return .failed(FunctionError(.unavailable, "The writer is not connected yet; retry the mutation"))
        }
        do {
            return try ForwardedOutcome(decoding: try await client.forward(call.encoded))
        } catch {
            return .failed(
                FunctionError(
                    .unavailable,
                    "The writer could not be reached or the link dropped before it answered (\(error)): "
                        + "the mutation may or may not have been applied. Resending the same request (same session "
                        + "and request id) is deduplicated by the writer."))
        }
    }
}
