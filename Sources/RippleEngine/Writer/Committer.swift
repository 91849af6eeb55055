import Foundation
import Logging
import RippleLog
import RippleReactivity
import RippleStorage
import RippleValues

/// A committed mutation: its timestamp, its term and what it wrote.
public struct CommittedMutation: Sendable {
    public let ts: CommitTimestamp
    /// The term of the writer that sequenced it (`Commit.term`).
    public let term: UInt64
    public let writes: WriteSet
    /// The commit's entry in the commit log (what replicas apply). Carried here so the writer's
    /// replication server can hand a caught-up replica the commit without reading it back from
    /// the log; empty for a replica's snapshot install, which is no log entry.
    public let logWrites: [LogWrite]
}

/// What one group commit made durable, published on the `CommitFeed` only after SQLite's COMMIT
/// has returned.
public struct CommitGroup: Sendable {
    public let mutations: [CommittedMutation]
    /// The node's applied timestamp after this group.
    public let appliedTimestamp: CommitTimestamp
    /// A replica's snapshot install: the whole state was replaced, possibly at a timestamp the
    /// node had already shown (an old writer's tail at the new writer's ts) or below it, so
    /// nothing computed before this group holds and `appliedTimestamp` may be lower than before.
    public var replacesState = false
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

    // `worker` is the queue; everything below it belongs to the committer thread.
    private let worker = ConnectionWorker<Request>(name: "ripple-committer")

    private let store: Store
    private let schema: Schema
    private let limits: TransactionLimits
    private let maxGroupSize: Int
    private let logger: Logger
    private var clock: CommitClock
    private let lingerClock: any LingerClock
    private var appliedTimestamp: CommitTimestamp
    private var lastDocumentNumber: Int64
    private var random = IDRandom()
    private let feed: CommitFeed
    private let control: TransactionControl
    /// How many requests the last group answered: about how many callers will soon be back.
    private var expectedGroupSize = 1
    /// The open group's commits, written to the commit log as one row just before COMMIT; its
    /// term is this writer's.
    private var log: LogBatch
    /// A moving average of COMMIT's duration (mostly the fsync), in nanoseconds.
    private var commitDuration: UInt64 = 0

    /// Asked right before each COMMIT (`EngineOptions.commitGate`).
    private let commitGate: (@Sendable () -> FunctionError?)?
    /// Set for good once a group that is or may be durable was left unpublished: the gate
    /// refused it after COMMIT, or COMMIT failed (SQLite may have written it to the WAL before
    /// the error, and recovery brings it back at the next start). That group may be in the log
    /// but was never shipped, so publishing any later group would hand replicas a log with a hole
    /// in it. Every later request is refused instead, until the node restarts (under failover it
    /// steps down on this signal, and its unpublished tail is discarded when it rejoins as a
    /// replica).
    let writesStopped = WritesStopped()

    init(
        store: Store, schema: Schema, clock: CommitClock, term: UInt64, limits: TransactionLimits, maxGroupSize: Int, feed: CommitFeed,
        logger: Logger, commitGate: (@Sendable () -> FunctionError?)? = nil, lingerClock: any LingerClock = SystemLingerClock()
    ) throws {
        self.commitGate = commitGate
        self.lingerClock = lingerClock
        self.log = LogBatch(term: term)
        self.store = store
        self.feed = feed
        self.schema = schema
        self.clock = clock
        self.limits = limits
        self.maxGroupSize = maxGroupSize
        self.logger = logger
        self.appliedTimestamp = try store.appliedTimestamp()
        self.lastDocumentNumber = try store.maxDocumentNumber()
        self.control = try TransactionControl(store.database)
    }

    func start() {
        worker.start { [self] in
            while let first = worker.next(upTo: maxGroupSize) {
                commitGroup(startingWith: first)
            }
        }
    }

    func submit(_ request: Request) {
        guard worker.submit(request) else {
            return request.finish(.failure(FunctionError(.unavailable, "The node is shutting down; retry the mutation")))
        }
    }

    /// Requests submitted and not yet taken into a group.
    var queuedCount: Int { worker.queuedCount }

    /// Finishes the queued work, then stops the thread. Later submissions are refused.
    func stop() {
        worker.stop()
    }

    /// Runs a group in one SQLite transaction; once it is durable, publishes it on the feed (so that
    /// subscriptions learn of a write before its author hears back) and resolves every request.
    ///
    /// The group grows while it runs: requests that arrive meanwhile join it. When the queue runs
    /// dry before as many requests have joined as the previous group answered — those callers
    /// are probably about to come back — it waits for them, for at most half of a recent COMMIT's
    /// duration: committing early would make them wait for a whole extra COMMIT and fsync.
    private func commitGroup(startingWith first: [Request]) {
        var group: [Request] = []
        var outcomes: [Result<MutationResult, FunctionError>] = []
        var committed: [CommittedMutation] = []
        var lastTimestamp = appliedTimestamp
        let firstDocumentNumber = lastDocumentNumber
        if let stopped = writesStopped.reason {
            for request in first { request.finish(.failure(stopped)) }
            return
        }
        do {
            try control.begin.run()
        } catch {
            let failure = FunctionError.serverError(error)
            for request in first { request.finish(.failure(failure)) }
            return
        }
        // A write after SQLite rolled the group back would otherwise run in autocommit.
        store.database.writesRequireTransaction = true
        defer { store.database.writesRequireTransaction = false }
        let lingerUntil = lingerClock.lingerDeadline(after: commitDuration / 2)
        var next = first
        // Requests taken into the group but not run, once SQLite rolled its transaction back.
        var notRun: [Request] = []
        running: while true {
            for (index, request) in next.enumerated() {
                let outcome = execute(request, committed: &committed, lastTimestamp: &lastTimestamp)
                group.append(request)
                outcomes.append(outcome)
                // A SAVEPOINT now would open a transaction of its own, committed by its RELEASE.
                if !store.database.isInTransaction {
                    notRun = Array(next[(index + 1)...])
                    break running
                }
            }
            if group.count >= min(maxGroupSize, expectedGroupSize) { break }
            guard let more = worker.next(upTo: maxGroupSize - group.count, until: lingerUntil), !more.isEmpty else { break }
            next = more
        }
        let commitStarted = lingerClock.uptimeNanoseconds()
        func abandon(_ failure: FunctionError) {
            try? control.rollback.run()
            log.removeAll()
            lastDocumentNumber = firstDocumentNumber
            for request in group { request.finish(.failure(failure)) }
        }
        // SQLite rolled the whole transaction back on an error (a full disk, an I/O error): the
        // log row must not be written outside it, and after such an error the node refuses
        // writes until it restarts (under failover it steps down).
        func stopAfterLostTransaction() {
            logger.error("SQLite rolled back the group's transaction; \(group.count) mutations left with an unknown outcome, no more are accepted until the node restarts")
            log.removeAll()
            lastDocumentNumber = firstDocumentNumber
            let stopped = FunctionError(
                .unavailable,
                "This node stopped accepting writes after SQLite rolled back a group's transaction on an error; retry the mutation once it has restarted")
            writesStopped.stop(stopped)
            let unknown = FunctionError.unknownOutcome(.commitFailed)
            for request in group { request.finish(.failure(unknown)) }
            for request in notRun { request.finish(.failure(stopped)) }
        }
        guard store.database.isInTransaction else { return stopAfterLostTransaction() }
        if let refusal = commitGate?() {
            abandon(refusal)
            return
        }
        do {
            if lastTimestamp != appliedTimestamp {
                try store.appendLog(log)
                try store.setAppliedTimestamp(lastTimestamp, term: log.term)
                try store.setMeta(MetaKey.maxDocumentNumber, lastDocumentNumber)
            }
        } catch {
            guard store.database.isInTransaction else { return stopAfterLostTransaction() }
            logger.error("group commit failed, \(group.count) mutations not applied")
            abandon(FunctionError.serverError(error))
            return
        }
        do {
            try control.commit.run()
            appliedTimestamp = lastTimestamp
            log.removeAll()
        } catch {
            logger.error(
                "COMMIT failed; \(group.count) mutations may or may not be durable, and no more are accepted until the node restarts",
                metadata: ["error": "\(error)"])
            try? control.rollback.run()
            writesStopped.stop(
                FunctionError(
                    .unavailable,
                    "This node stopped accepting writes after a failed COMMIT whose group may be recovered when it restarts; retry the mutation once it has restarted"))
            let unknown = FunctionError.unknownOutcome(.commitFailed)
            for request in group { request.finish(.failure(unknown)) }
            return
        }
        // Asked again once the group is durable: a pause or a stalled disk between the first
        // check and the end of COMMIT may have outlasted the lease, and a new writer may exist.
        // Then nothing of the group is published (shipped) or acknowledged; the node steps
        // down, and its divergent tail is discarded when it rejoins as a replica.
        if let refusal = commitGate?() {
            logger.error("leadership lapsed during a group commit; \(group.count) mutations left unacknowledged")
            let unknown = FunctionError.unknownOutcome(.leadershipLapsed(reason: refusal.message))
            writesStopped.stop(
                FunctionError(
                    .unavailable, "This node stopped accepting writes: it left a commit unpublished when its leadership lapsed; retry the mutation on the new writer"))
            for request in group { request.finish(.failure(unknown)) }
            return
        }
        let took = lingerClock.uptimeNanoseconds() - commitStarted
        commitDuration = (commitDuration * 7 + took) / 8
        expectedGroupSize = group.count
        if !committed.isEmpty {
            feed.publish(CommitGroup(mutations: committed, appliedTimestamp: appliedTimestamp))
        }
        // Resuming a caller wakes a thread of the concurrency pool; doing that 64 times took as
        // long as running the mutations. One task resumes them all, while this thread moves on
        // to the next group.
        let replies = zip(group, outcomes).map { request, outcome in (request.finish, outcome) }
        Task.detached {
            for (finish, outcome) in replies { finish(outcome) }
        }
    }

    /// Runs one request in its own SAVEPOINT, so that a throwing mutation leaves no trace.
    private func execute(
        _ request: Request, committed: inout [CommittedMutation], lastTimestamp: inout CommitTimestamp
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
                committed.append(CommittedMutation(ts: ts, term: log.term, writes: WriteSet(transaction.changes), logWrites: transaction.logWrites))
            }
            return .success(MutationResult(value: value, ts: lastTimestamp))
        } catch {
            try? control.rollbackToSavepoint.run()
            try? control.release.run()
            return .failure(FunctionError.from(error))
        }
    }
}
