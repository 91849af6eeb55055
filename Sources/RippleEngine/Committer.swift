import Foundation
import Logging
import RippleStorage
import RippleValues

/// A committed mutation: its timestamp and what it wrote.
public struct CommittedMutation: Sendable {
    public let ts: UInt64
    public let writes: WriteSet
    /// The commit's entry in the commit log (what replicas apply). Carried here so the writer's
    /// replication server can hand a caught-up replica the commit without reading it back from
    /// the log; empty for a replica's snapshot install, which is no log entry.
    public let logWrites: [LogWrite]
}

/// What one group commit made durable, handed to commit listeners (subscriptions, replication)
/// only once it is on disk.
public struct CommitGroup: Sendable {
    public let mutations: [CommittedMutation]
    /// The node's applied timestamp after this group.
    public let appliedTimestamp: UInt64
}

/// The writer's serial executor. One thread owns the write connection and runs mutations one
/// after another — serializable by construction — each in its own SAVEPOINT, committing a whole
/// group with one COMMIT.
///
/// Durability is pipelined. The connection commits with `synchronous=NORMAL`, so COMMIT only
/// writes the group's WAL frames; a second thread, the syncer, makes them durable with
/// `fdatasync` of the WAL while the committer already runs the next group. Only after that sync
/// are the group's callers answered and the commit listeners told, and the `DurableWatermark`
/// advanced (reads wait for it before answering). The WAL is a sequence, so a sync covers every
/// group committed before it started, and whatever a power loss takes back is a suffix of groups
/// nobody outside the process has seen.
///
/// The syncer paces the groups: while a sync runs, committing would not make anything durable
/// sooner, so the committer keeps adding the requests that arrive to its open group and commits
/// it as soon as the syncer is free (or the group is full). Under load each sync covers about a
/// sync's worth of mutations; alone, a mutation is committed and synced at once.
final class Committer: @unchecked Sendable {
    /// A unit of work run inside the writer's transaction.
    struct Request {
        let identity: Identity
        let work: (Transaction) throws -> Value
        let finish: @Sendable (Result<MutationResult, FunctionError>) -> Void
    }

    /// A group that is committed but not yet known to be durable.
    private struct Unsynced {
        let group: CommitGroup?
        let appliedTimestamp: UInt64
        let replies: [(finish: @Sendable (Result<MutationResult, FunctionError>) -> Void, outcome: Result<MutationResult, FunctionError>)]
    }

    // Guarded by `condition`, shared by the committer and syncer threads.
    private let condition = NSCondition()
    private var pending: [Request] = []
    private var unsynced: [Unsynced] = []
    private var syncing = false
    private var stopping = false
    private var committerDone = false
    private var stopped = false
    private var listeners: [@Sendable (CommitGroup) -> Void] = []

    // The committer thread's.
    private let store: Store
    private let schema: Schema
    private let limits: TransactionLimits
    private let maxGroupSize: Int
    private let logger: Logger
    private var clock: CommitClock
    private var appliedTimestamp: UInt64
    private var lastDocumentNumber: Int64
    private var random = IDRandom()
    private let control: TransactionControl
    /// The open group's commits, written to the commit log as one row just before COMMIT.
    private var log = LogBatch()

    // The syncer thread's.
    private var wal: WALFile
    let durable: DurableWatermark

    private let checkpointer: Checkpointer

    private let beforeWALSync: (@Sendable () -> Void)?

    init(
        store: Store, schema: Schema, clock: CommitClock, limits: TransactionLimits, maxGroupSize: Int, logger: Logger,
        beforeWALSync: (@Sendable () -> Void)? = nil
    ) throws {
        self.beforeWALSync = beforeWALSync
        self.store = store
        self.schema = schema
        self.clock = clock
        self.limits = limits
        self.maxGroupSize = maxGroupSize
        self.logger = logger
        self.appliedTimestamp = try store.appliedTimestamp()
        self.lastDocumentNumber = try store.maxDocumentNumber()
        self.control = try TransactionControl(store.database)
        // COMMIT writes the WAL; the syncer syncs it. Checkpoints (which sync the WAL before they
        // copy it) run on the checkpointer's connection, never inside a group's COMMIT.
        try store.database.execute("PRAGMA synchronous=NORMAL")
        try store.database.execute("PRAGMA wal_autocheckpoint=0")
        self.checkpointer = try Checkpointer(path: store.database.path, logger: logger)
        // A previous process may have committed groups it never synced (killed between COMMIT
        // and sync): they are in the WAL and readable, so they are made durable before anything
        // is served.
        var wal = WALFile(databasePath: store.database.path)
        try wal.sync()
        self.wal = wal
        self.durable = DurableWatermark(durable: appliedTimestamp)
    }

    /// The statements that open, nest and end the group's transaction, prepared once: every
    /// mutation runs two of them.
    private struct TransactionControl {
        let begin: Statement
        let savepoint: Statement
        let release: Statement
        let rollbackToSavepoint: Statement
        let commit: Statement
        let rollback: Statement

        init(_ database: Database) throws(DatabaseError) {
            begin = try database.prepare("BEGIN IMMEDIATE")
            savepoint = try database.prepare("SAVEPOINT mutation")
            release = try database.prepare("RELEASE mutation")
            rollbackToSavepoint = try database.prepare("ROLLBACK TO mutation")
            commit = try database.prepare("COMMIT")
            rollback = try database.prepare("ROLLBACK")
        }
    }

    func start() {
        checkpointer.start()
        let committer = Thread { [self] in runCommitter() }
        committer.name = "ripple-committer"
        committer.start()
        let syncer = Thread { [self] in runSyncer() }
        syncer.name = "ripple-wal-syncer"
        syncer.start()
    }

    /// Registers a listener for durable groups; called on the syncer thread, so keep it short.
    func addListener(_ listener: @escaping @Sendable (CommitGroup) -> Void) {
        condition.lock()
        listeners.append(listener)
        condition.unlock()
    }

    func submit(_ request: Request) {
        condition.lock()
        if stopping {
            condition.unlock()
            request.finish(.failure(FunctionError(.unavailable, "The node is shutting down; retry the mutation")))
            return
        }
        pending.append(request)
        condition.broadcast()
        condition.unlock()
    }

    /// Finishes the queued work and makes it durable, then stops both threads. Later
    /// submissions are refused.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while !stopped { condition.wait() }
        condition.unlock()
        checkpointer.stop()
    }

    // MARK: - The committer thread

    private func runCommitter() {
        while true {
            condition.lock()
            while pending.isEmpty && !stopping { condition.wait() }
            if pending.isEmpty {
                committerDone = true
                condition.broadcast()
                condition.unlock()
                return
            }
            let first = takePending(upTo: maxGroupSize)
            condition.unlock()
            commitGroup(startingWith: first)
        }
    }

    /// Takes up to `limit` queued requests; the caller holds `condition`.
    private func takePending(upTo limit: Int) -> [Request] {
        let count = min(pending.count, limit)
        let taken = Array(pending.prefix(count))
        pending.removeFirst(count)
        return taken
    }

    /// Runs a group in one SQLite transaction and hands it to the syncer. The group grows while
    /// the syncer is busy: requests that arrive meanwhile join it.
    private func commitGroup(startingWith first: [Request]) {
        var group: [Request] = []
        var outcomes: [Result<MutationResult, FunctionError>] = []
        var committed: [CommittedMutation] = []
        var lastTimestamp = appliedTimestamp
        let firstDocumentNumber = lastDocumentNumber
        do {
            try control.begin.run()
        } catch {
            logger.error("cannot begin a write transaction: \(error)")
            for request in first { request.finish(.failure(FunctionError(.unavailable, "Storage unavailable: \(error)"))) }
            return
        }
        var next = first
        while true {
            for request in next {
                outcomes.append(execute(request, committed: &committed, lastTimestamp: &lastTimestamp))
                group.append(request)
            }
            condition.lock()
            while pending.isEmpty && syncing && !stopping && group.count < maxGroupSize { condition.wait() }
            next = group.count < maxGroupSize ? takePending(upTo: maxGroupSize - group.count) : []
            condition.unlock()
            if next.isEmpty { break }
        }
        do {
            if lastTimestamp != appliedTimestamp {
                try store.appendLog(log)
                try store.setAppliedTimestamp(lastTimestamp)
                try store.setMeta(MetaKey.maxDocumentNumber, lastDocumentNumber)
            }
            try control.commit.run()
            appliedTimestamp = lastTimestamp
            log.removeAll()
        } catch {
            logger.error("group commit failed, \(group.count) mutations not applied: \(error)")
            try? control.rollback.run()
            log.removeAll()
            lastDocumentNumber = firstDocumentNumber
            for request in group { request.finish(.failure(FunctionError(.unavailable, "Commit failed: \(error)"))) }
            return
        }
        // Failed and read-only mutations wait for the sync too: what they answer may depend on
        // state that is not yet durable.
        let handed = Unsynced(
            group: committed.isEmpty ? nil : CommitGroup(mutations: committed, appliedTimestamp: appliedTimestamp),
            appliedTimestamp: appliedTimestamp,
            replies: zip(group, outcomes).map { request, outcome in (request.finish, outcome) })
        condition.lock()
        unsynced.append(handed)
        condition.broadcast()
        condition.unlock()
    }

    // MARK: - The syncer thread

    /// Syncs the WAL behind the committer, then releases what each sync made durable, in commit
    /// order: the watermark, the listeners, the callers.
    private func runSyncer() {
        while true {
            condition.lock()
            while unsynced.isEmpty && !committerDone { condition.wait() }
            if unsynced.isEmpty {
                wal.close()
                stopped = true
                condition.broadcast()
                condition.unlock()
                return
            }
            let batch = unsynced
            unsynced.removeAll()
            syncing = true
            let listeners = self.listeners
            condition.unlock()

            let through = batch[batch.count - 1].appliedTimestamp
            if through > durable.durable {
                beforeWALSync?()
                do {
                    try wal.sync()
                } catch {
                    // After a failed sync the kernel may have dropped the dirty pages: nothing
                    // written since the last good sync can be called durable, and retrying could
                    // falsely succeed. Stop, so the node restarts from what is on disk.
                    logger.critical("syncing the WAL failed; stopping the node: \(error)")
                    fatalError("syncing the WAL failed: \(error)")
                }
            }
            condition.lock()
            syncing = false
            condition.broadcast()
            condition.unlock()

            durable.advance(to: through)
            for item in batch {
                if let group = item.group {
                    for listener in listeners { listener(group) }
                }
                for reply in item.replies { reply.finish(reply.outcome) }
            }
        }
    }

    /// Runs one request in its own SAVEPOINT, so that a throwing mutation leaves no trace.
    private func execute(
        _ request: Request, committed: inout [CommittedMutation], lastTimestamp: inout UInt64
    ) -> Result<MutationResult, FunctionError> {
        let ts = clock.next()
        let write = WriteContext(ts: ts) { [self] in
            lastDocumentNumber += 1
            return (lastDocumentNumber, random.next())
        }
        let transaction = Transaction(store: store, schema: schema, identity: request.identity, limits: limits, journal: nil, write: write)
        do {
            try control.savepoint.run()
            let value = try request.work(transaction)
            try control.release.run()
            if !transaction.logWrites.isEmpty {
                log.append(ts: ts, writes: transaction.logWrites)
                lastTimestamp = ts
                committed.append(CommittedMutation(ts: ts, writes: WriteSet(transaction.changes), logWrites: transaction.logWrites))
            }
            return .success(MutationResult(value: value, ts: lastTimestamp))
        } catch {
            try? control.rollbackToSavepoint.run()
            try? control.release.run()
            return .failure(FunctionError.from(error))
        }
    }
}
