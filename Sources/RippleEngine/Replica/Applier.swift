import Foundation
import Logging
import RippleLog
import RippleReactivity
import RippleStorage
import RippleValues

/// A replica's serial executor: applies commits shipped from the writer, in order, each
/// transaction together with the applied position (no double apply, no gap), then publishes it
/// on the `CommitFeed` — as the writer's committer does, so subscriptions on a replica
/// work exactly as on the writer.
///
/// Like the writer's `Committer`, it is one thread that owns the replica's write connection and
/// takes everything queued at once. Batches that arrived while the previous transaction ran go
/// into one transaction (one COMMIT, one sync): a replica that fell behind catches up in larger
/// steps instead of paying a sync per received batch, and no concurrency-pool task sits between
/// the link and the apply. Callers are told through a completion called on this thread, in the
/// order they queued.
final class Applier: @unchecked Sendable {
    /// Work for the applier thread, in arrival order.
    private enum Work {
        /// Commits to apply. `previous` is the commit they must follow (a link's chain); nil
        /// only asks for the first to be after the applied position.
        case commits([Commit], previous: CommitTimestamp?, done: @Sendable (Result<CommitTimestamp, any Error>) -> Void)
        /// A writer's snapshot that replaces the whole state.
        case snapshot(SnapshotCodec.Decoded, done: @Sendable (Result<CommitTimestamp, any Error>) -> Void)
    }

    /// One transaction holds at most this many commits: catch-up batches (1,000 commits each)
    /// are merged a few at a time, which keeps every transaction short for the readers' WAL.
    static let maxCommitsPerTransaction = 4_000

    // `worker` is the queue; `store` belongs to the applier thread; `currentCatalog` is written
    // by the thread and read by anyone, under `lock`.
    private let worker = ConnectionWorker<Work>(name: "ripple-applier")
    private let store: Store
    private let checkpointer: ReplicaCheckpointer
    private let feed: CommitFeed
    private let lock = NSLock()
    private var currentCatalog: Catalog
    private let logger: Logger

    init(store: Store, feed: CommitFeed, logger: Logger) throws {
        // The replica's transactions commit with `synchronous=FULL` (the database's default):
        // each applied batch's COMMIT syncs the WAL before its completion acks it, so an ack is a
        // promise that survives power loss — synchronous replication counts a commit as safe once
        // the sync set acked it, and any of those replicas may be promoted. The cost is one fsync
        // per applied batch (the applier batches what queued up meanwhile; docs/operations.md has
        // the measurement).
        // Checkpoints happen on the checkpointer's connection, not inside an apply.
        try store.database.disableAutomaticCheckpoints()
        self.checkpointer = try ReplicaCheckpointer(path: store.database.path, logger: logger)
        self.store = store
        self.feed = feed
        self.currentCatalog = store.catalog
        self.logger = logger
    }

    /// The catalog as of the last applied commit.
    var catalog: Catalog {
        lock.lock()
        defer { lock.unlock() }
        return currentCatalog
    }

    func start() {
        checkpointer.start()
        worker.start { [self] in
            while let work = worker.next() { run(work) }
        }
    }

    /// Finishes the queued work, then stops the thread (and the checkpointer's). Later work
    /// fails as unavailable.
    func stop() {
        worker.stop()
        checkpointer.stop()
    }

    /// Queues `commits`, which must follow `previous` exactly (the commit before the first);
    /// `done` is called on the applier thread once they are durable (with the applied position
    /// then) or failed. Work queued after a failed batch fails too: it no longer follows the
    /// applied position.
    func enqueue(_ commits: [Commit], following previous: CommitTimestamp, done: @escaping @Sendable (Result<CommitTimestamp, any Error>) -> Void) {
        submit(.commits(commits, previous: previous, done: done))
    }

    /// Applies `commits` (strictly after the applied position, in order) durably.
    func apply(_ commits: [Commit]) async throws {
        guard !commits.isEmpty else { return }
        _ = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<CommitTimestamp, any Error>) in
            submit(.commits(commits, previous: nil, done: { continuation.resume(with: $0) }))
        }
    }

    /// Replaces the whole state with `snapshot` in one transaction (after everything queued
    /// before it), then tells the feed that every document it removed or wrote changed, so
    /// subscriptions re-run.
    func install(_ snapshot: SnapshotCodec.Decoded) async throws -> CommitTimestamp {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<CommitTimestamp, any Error>) in
            submit(.snapshot(snapshot, done: { continuation.resume(with: $0) }))
        }
    }

    // MARK: - The applier thread

    private func submit(_ work: Work) {
        guard worker.submit(work) else {
            let error = FunctionError(.unavailable, "The node is shutting down")
            switch work {
            case .commits(_, _, let done), .snapshot(_, let done): done(.failure(error))
            }
            return
        }
    }

    /// Applies everything taken at once: consecutive commit batches together, snapshots alone.
    private func run(_ work: [Work]) {
        var next = work[...]
        while let first = next.first {
            if case .snapshot(let snapshot, let done) = first {
                next = next.dropFirst()
                done(Result { try installNow(snapshot) })
                continue
            }
            var batches: [(commits: [Commit], previous: CommitTimestamp?, done: @Sendable (Result<CommitTimestamp, any Error>) -> Void)] = []
            var count = 0
            while case .commits(let commits, let previous, let done) = next.first,
                batches.isEmpty || count + commits.count <= Self.maxCommitsPerTransaction
            {
                batches.append((commits, previous, done))
                count += commits.count
                next = next.dropFirst()
            }
            applyNow(batches)
        }
    }

    /// Applies `batches` in one transaction: every batch that follows the one before it (the
    /// first: the applied position). A batch that does not, and every batch after it, fails
    /// without being applied; the ones before it still commit.
    private func applyNow(_ batches: [(commits: [Commit], previous: CommitTimestamp?, done: @Sendable (Result<CommitTimestamp, any Error>) -> Void)]) {
        var mutations: [CommittedMutation] = []
        var accepted = 0
        var rejection: (any Error)?
        var position = CommitTimestamp.zero
        do {
            position = try store.appliedTimestamp()
            try store.writeTransaction {
                for batch in batches {
                    if let error = Self.check(batch.commits, previous: batch.previous, position: position) {
                        rejection = error
                        break
                    }
                    for commit in batch.commits {
                        let changes = try store.apply(commit)
                        mutations.append(CommittedMutation(ts: commit.ts, term: commit.term, writes: WriteSet(changes), logWrites: commit.writes))
                    }
                    position = batch.commits.last?.ts ?? position
                    accepted += 1
                }
            }
        } catch {
            for batch in batches { batch.done(.failure(error)) }
            return
        }
        if !mutations.isEmpty { published(CommitGroup(mutations: mutations, appliedTimestamp: position)) }
        for batch in batches[..<accepted] { batch.done(.success(position)) }
        if let rejection {
            for batch in batches[accepted...] { batch.done(.failure(rejection)) }
        }
    }

    /// Why `commits` cannot be applied at `position`, or nil when they can.
    private static func check(_ commits: [Commit], previous: CommitTimestamp?, position: CommitTimestamp) -> ValueError? {
        guard let first = commits.first else { return nil }
        if let previous, previous != position {
            return ValueError("commits after \(previous) do not follow the applied position \(position)")
        }
        guard first.ts > position else { return ValueError("commit \(first.ts) is not after the applied position \(position)") }
        var last = position
        for commit in commits {
            guard commit.ts > last else { return ValueError("commits out of order at \(commit.ts)") }
            last = commit.ts
        }
        return nil
    }

    /// Makes a durable group visible: the catalog, then the feed (listeners, then waiters).
    private func published(_ group: CommitGroup) {
        lock.lock()
        currentCatalog = store.catalog
        lock.unlock()
        feed.publish(group)
    }

    private func installNow(_ snapshot: SnapshotCodec.Decoded) throws -> CommitTimestamp {
        let changes = try store.writeTransaction { try store.installSnapshot(snapshot) }
        logger.info("installed snapshot", metadata: ["ts": "\(snapshot.ts)", "documents": "\(snapshot.documents.count)"])
        // A snapshot older than this replica's state (an old writer's divergent tail discarded
        // after a failover) moves "applied" back to what the store now holds.
        if snapshot.ts < feed.applied.value { feed.applied.reset(to: snapshot.ts) }
        let mutation = CommittedMutation(ts: snapshot.ts, term: snapshot.term, writes: WriteSet(changes), logWrites: [])
        published(CommitGroup(mutations: [mutation], appliedTimestamp: snapshot.ts, replacesState: true))
        return snapshot.ts
    }
}
