import Foundation
import Logging
import RippleLog
import RippleStorage

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
final class LogPruner: @unchecked Sendable {
    let path: String
    let retention: LogRetention
    /// The oldest position a connected replica still needs (the writer's), which age-based
    /// pruning keeps; nil keeps nothing extra.
    let protectedTimestamp: @Sendable () -> CommitTimestamp?
    let logger: Logger
    /// The pruner's SQLite work runs on this thread, off the concurrency pool: its statements
    /// block, and a long pass must not hold a pool thread that sync sockets and replication links
    /// need.
    private let worker = ConnectionWorker<@Sendable () -> Void>(name: "ripple-log-pruner")
    /// The pruner's own connection, opened on first use; touched only on the worker's thread.
    private var store: Store?

    init(path: String, retention: LogRetention, protectedTimestamp: @escaping @Sendable () -> CommitTimestamp? = { nil }, logger: Logger) {
        self.path = path
        self.retention = retention
        self.protectedTimestamp = protectedTimestamp
        self.logger = logger
        worker.startRunningSubmittedWork()
    }

    deinit {
        worker.finish()
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
            let queued = worker.submit { [self] in
                continuation.resume(with: Result { try prune(protecting: protected) })
            }
            if !queued { continuation.resume(throwing: CancellationError()) }
        }
    }

    /// On the worker's thread: deletes what the retention allows, a batch per short write
    /// transaction.
    private func prune(protecting protected: CommitTimestamp?) throws -> Int {
        let store = try self.store ?? Store(database: Database(path: path))
        self.store = store
        let now = CommitTimestamp(nanoseconds: UInt64(max(0, Date().timeIntervalSince1970) * 1_000_000_000))
        let cutoff = try store.logCutoff(keepingNewest: max(0, retention.commits))
        var ageCutoff = CommitTimestamp.zero
        if let seconds = retention.seconds {
            ageCutoff = now.subtracting(.seconds(max(0, seconds)))
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
