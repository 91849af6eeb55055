import Foundation
import Logging
import RippleStorage
import RippleValues

/// A committed mutation: its timestamp and what it wrote.
public struct CommittedMutation: Sendable {
    public let ts: UInt64
    public let writes: WriteSet
}

/// What one group commit made durable, handed to commit listeners (subscriptions, replication)
/// only after SQLite's COMMIT has returned.
public struct CommitGroup: Sendable {
    public let mutations: [CommittedMutation]
    /// The node's applied timestamp after this group.
    public let appliedTimestamp: UInt64
}

/// The writer's serial executor. One thread owns the write connection and runs mutations one
/// after another — serializable by construction — each in its own SAVEPOINT, committing the
/// whole group with one COMMIT (one fsync with `synchronous=FULL`). Callers get their results
/// only after that COMMIT returns.
final class Committer: @unchecked Sendable {
    /// A unit of work run inside the writer's transaction.
    struct Request {
        let identity: Identity
        let work: (Transaction) throws -> Value
        let finish: @Sendable (Result<MutationResult, FunctionError>) -> Void
    }

    // The queue is guarded by `condition`; everything below it belongs to the committer thread.
    private let condition = NSCondition()
    private var pending: [Request] = []
    private var stopping = false
    private var stopped = false

    private let store: Store
    private let schema: Schema
    private let limits: TransactionLimits
    private let maxGroupSize: Int
    private let logger: Logger
    private var clock: CommitClock
    private var appliedTimestamp: UInt64
    private var lastDocumentNumber: Int64
    private var random = IDRandom()
    private var listeners: [@Sendable (CommitGroup) -> Void] = []
    private let control: TransactionControl

    init(store: Store, schema: Schema, clock: CommitClock, limits: TransactionLimits, maxGroupSize: Int, logger: Logger) throws {
        self.store = store
        self.schema = schema
        self.clock = clock
        self.limits = limits
        self.maxGroupSize = maxGroupSize
        self.logger = logger
        self.appliedTimestamp = try store.appliedTimestamp()
        self.lastDocumentNumber = try store.maxDocumentNumber()
        self.control = try TransactionControl(store.database)
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
        let thread = Thread { [self] in run() }
        thread.name = "ripple-committer"
        thread.start()
    }

    /// Registers a listener for committed groups; called on the committer thread, so keep it short.
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
        condition.signal()
        condition.unlock()
    }

    /// Finishes the queued work, then stops the thread. Later submissions are refused.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while !stopped { condition.wait() }
        condition.unlock()
    }

    private func run() {
        while true {
            condition.lock()
            while pending.isEmpty && !stopping { condition.wait() }
            if pending.isEmpty {
                stopped = true
                condition.broadcast()
                condition.unlock()
                return
            }
            let count = min(pending.count, maxGroupSize)
            let group = Array(pending.prefix(count))
            pending.removeFirst(count)
            let listeners = self.listeners
            condition.unlock()
            commitGroup(group, listeners: listeners)
        }
    }

    /// Runs a group in one SQLite transaction; once it is durable, tells the listeners (so that
    /// subscriptions learn of a write before its author hears back) and resolves every request.
    private func commitGroup(_ group: [Request], listeners: [@Sendable (CommitGroup) -> Void]) {
        var outcomes: [Result<MutationResult, FunctionError>] = []
        outcomes.reserveCapacity(group.count)
        var committed: [CommittedMutation] = []
        var lastTimestamp = appliedTimestamp
        let firstDocumentNumber = lastDocumentNumber
        do {
            try control.begin.run()
        } catch {
            logger.error("cannot begin a write transaction: \(error)")
            for request in group { request.finish(.failure(FunctionError(.unavailable, "Storage unavailable: \(error)"))) }
            return
        }
        for request in group {
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
                    try store.appendLog(Commit(ts: ts, writes: transaction.logWrites))
                    lastTimestamp = ts
                    committed.append(CommittedMutation(ts: ts, writes: WriteSet(transaction.changes)))
                }
                outcomes.append(.success(MutationResult(value: value, ts: lastTimestamp)))
            } catch {
                try? control.rollbackToSavepoint.run()
                try? control.release.run()
                outcomes.append(.failure(FunctionError.from(error)))
            }
        }
        do {
            if lastTimestamp != appliedTimestamp {
                try store.setAppliedTimestamp(lastTimestamp)
                try store.setMeta(MetaKey.maxDocumentNumber, lastDocumentNumber)
            }
            try control.commit.run()
            appliedTimestamp = lastTimestamp
        } catch {
            logger.error("group commit failed, \(group.count) mutations not applied: \(error)")
            try? control.rollback.run()
            lastDocumentNumber = firstDocumentNumber
            for request in group { request.finish(.failure(FunctionError(.unavailable, "Commit failed: \(error)"))) }
            return
        }
        if !committed.isEmpty {
            let durable = CommitGroup(mutations: committed, appliedTimestamp: appliedTimestamp)
            for listener in listeners { listener(durable) }
        }
        // Resuming a caller wakes a thread of the concurrency pool; doing that 64 times took as
        // long as running the mutations. One task resumes them all, while this thread moves on
        // to the next group.
        let replies = zip(group, outcomes).map { request, outcome in (request.finish, outcome) }
        Task.detached {
            for (finish, outcome) in replies { finish(outcome) }
        }
    }
}
