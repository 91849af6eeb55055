import Crypto
import Logging
import RippleCron
import RippleLog
import RippleReactivity
import RippleStorage
import RippleValues

/// An app: its schema and its functions.
public struct App: Sendable {
    public let schema: Schema
    public let functions: FunctionRegistry
    /// Cron jobs, run by the scheduler.
    public let crons: Crons

    /// HTTP actions, served at `/http/<path>`.
    public let http: HTTPRouter

    public init(schema: Schema, functions: FunctionRegistry, crons: Crons = Crons(), http: HTTPRouter = HTTPRouter()) {
        self.schema = schema
        self.functions = functions
        self.crons = crons
        self.http = http
    }
}

/// Who is asking to run a function: a client (public functions only, unless admin), another
/// function on the server (internal functions allowed), or the engine's own machinery (the
/// scheduler), the only caller of the `_system/` functions.
public enum Caller: String, Sendable {
    case client
    case server
    case system
}

/// A query's result with what the sync layer needs to keep it live.
public struct QueryResult: Sendable {
    public let value: Value
    /// The commit timestamp of the snapshot the query read.
    public let ts: CommitTimestamp
    public let readSet: ReadSet
    /// The pagination end cursor to pass back on re-runs (`nil` if the query did not paginate).
    public let journal: String?
}

/// A mutation's result: its value and the commit timestamp at which its writes are visible.
public struct MutationResult: Sendable {
    public let value: Value
    public let ts: CommitTimestamp
}

/// Tunables of an engine.
public struct EngineOptions: Sendable {
    public var limits = TransactionLimits()
    public var readerCount = 4
    /// Most mutations committed by one COMMIT.
    public var maxGroupSize = 1024
    /// The wall clock, read as a commit timestamp; tests inject one that steps back.
    public var clock: @Sendable () -> CommitTimestamp = CommitClock.wallClock
    /// The leadership term this writer was elected in (0 without failover), recorded with every
    /// commit it sequences, so a log that forked from it is told apart even at equal timestamps
    /// (`Commit`).
    public var term: UInt64 = 0
    public var logger = Logger(label: "ripple.engine")
    /// Writer (runs mutations) or replica (applies the writer's log, forwards mutations).
    public var role: EngineRole = .writer
    /// How long client mutation results are kept for resends.
    public var dedup = MutationDedupPolicy()
    /// Function executions kept in memory for the dashboard's log view (`ExecutionLog`).
    public var executionLogCapacity = 1_000
    /// How actions make outbound HTTP requests (`ctx.fetch`); `nil` refuses them.
    public var fetcher: (any Fetcher)?
    /// What actions read as `ctx.env`.
    public var environment = DeploymentEnvironment([:])
    /// Asked by the writer right before each group's COMMIT; an error fails the whole group and
    /// commits nothing. Failover uses it to fence a writer whose lease may have expired.
    public var commitGate: (@Sendable () -> FunctionError?)?
    /// Awaited by the writer after a mutation's group is durable and published, before its caller
    /// hears back; an error becomes the caller's. Synchronous replication waits here for the
    /// replicas of the sync set to acknowledge the commit (`--sync-replicas`).
    public var commitAcknowledgement: (@Sendable (CommitTimestamp) async -> FunctionError?)?
    /// A fault for tests: while it returns true, the writer's COMMITs fail as on an I/O error
    /// (`Database.failCommits`).
    var commitFault: (@Sendable () -> Bool)?
    /// How the committer measures COMMIT and times its group linger; tests inject their own.
    var lingerClock: any LingerClock = SystemLingerClock()
    /// A fault for tests: a writer's statement whose SQL it returns true for fails with the
    /// transaction rolled back (`Database.failStatements`).
    var statementFault: (@Sendable (String) -> Bool)?

    public init() {}
}

/// What a node does with writes.
public enum EngineRole: Sendable {
    /// Runs mutations itself and owns the commit log.
    case writer
    /// Applies the writer's commit log; sends mutations to the writer through `forwarder`.
    case replica(forwarder: any MutationForwarder)
}

/// How a replica gets a mutation run on the writer.
public protocol MutationForwarder: Sendable {
    /// Runs `call` on the writer; a link failure is `.unavailable` (retryable), never a silent loss.
    func forward(_ call: ForwardedCall) async -> ForwardedOutcome
}

/// Ripple's single-node engine: runs queries at consistent snapshots on a pool of readers,
/// and mutations on the serial group-committing writer, against one SQLite file.
public final class Engine: Sendable {
    public let app: App
    /// The app's functions and the engine's own (`_system/…`).
    let functions: FunctionRegistry
    /// The writer's executor; nil on a replica.
    let committer: Committer?
    /// The replica's log applier; nil on the writer.
    let applier: Applier?
    let forwarder: (any MutationForwarder)?
    /// This node's durable commits, in order (see `CommitFeed`), and how far they have reached.
    public let commitFeed: CommitFeed
    let readers: ReaderPool
    let limits: TransactionLimits
    let dedupPolicy: MutationDedupPolicy
    /// Resolves `v.id("table")` in argument validators.
    let tableNumbers: TableNumberLookup
    let metrics = EngineMetrics()
    /// The latest function executions on this node, newest kept (the dashboard's logs).
    public let executions: ExecutionLog
    let fetcher: any Fetcher
    let environment: DeploymentEnvironment
    let logger: Logger
    let commitAcknowledgement: (@Sendable (CommitTimestamp) async -> FunctionError?)?
    /// Actions running on this node, cancelled together at shutdown.
    let runningActions = RunningActions()

    /// Opens (or creates) the database at `path`, syncs the schema (backfilling new indexes)
    /// and starts the writer.
    public static func open(path: String, app: App, options: EngineOptions = EngineOptions()) throws -> Engine {
        do { try app.schema.check() } catch { throw error }
        try app.functions.checkDefinitions()
        try checkCrons(app)
        let store = try Store(database: Database(path: path))
        let readers = try ReaderPool(path: path, count: options.readerCount)
        switch options.role {
        case .writer:
            let last = max(try store.appliedTimestamp(), try store.maxLoggedTimestamp())
            var sync = SchemaSync(store: store, logger: options.logger, clock: CommitClock(last: last, now: options.clock), term: options.term)
            try sync.run(app.schema.withSystemTables)
            let feed = CommitFeed(appliedTimestamp: try store.appliedTimestamp())
            if let commitFault = options.commitFault { store.database.failCommits(while: commitFault) }
            if let statementFault = options.statementFault { store.database.failStatements(rollingBack: statementFault) }
            let committer = try Committer(
                store: store, schema: app.schema, clock: sync.clock, term: options.term, limits: options.limits,
                maxGroupSize: options.maxGroupSize, feed: feed, logger: options.logger, commitGate: options.commitGate,
                lingerClock: options.lingerClock
            )
            let catalog = store.catalog
            let engine = Engine(
                app: app, committer: committer, applier: nil, forwarder: nil, feed: feed, readers: readers, options: options,
                tableNumbers: { catalog.table(named: $0)?.number })
            committer.start()
            return engine
        case .replica(let forwarder):
            // The catalog comes from the writer's log; ids are validated against the latest one.
            let feed = CommitFeed(appliedTimestamp: try store.appliedTimestamp())
            let applier = try Applier(store: store, feed: feed, logger: options.logger)
            applier.start()
            return Engine(
                app: app, committer: nil, applier: applier, forwarder: forwarder, feed: feed, readers: readers, options: options,
                tableNumbers: { applier.catalog.table(named: $0)?.number })
        }
    }

    private init(
        app: App, committer: Committer?, applier: Applier?, forwarder: (any MutationForwarder)?, feed: CommitFeed,
        readers: ReaderPool, options: EngineOptions, tableNumbers: @escaping TableNumberLookup
    ) {
        self.executions = ExecutionLog(capacity: options.executionLogCapacity)
        self.app = app
        self.functions = app.functions.merging(SchedulerFunctions.registry(for: app.functions)).merging(DashboardFunctions.registry)
        self.committer = committer
        self.applier = applier
        self.forwarder = forwarder
        self.commitFeed = feed
        self.readers = readers
        self.limits = options.limits
        self.dedupPolicy = options.dedup
        self.fetcher = options.fetcher ?? NoFetcher()
        self.environment = options.environment
        self.logger = options.logger
        self.commitAcknowledgement = options.commitAcknowledgement
        self.tableNumbers = tableNumbers
        let metrics = self.metrics
        let replica = applier != nil
        feed.subscribe { metrics.record($0, replica: replica) }
    }

    /// Every cron must name a mutation or action that accepts its arguments: a typo fails at
    /// start-up, not at 6 AM.
    private static func checkCrons(_ app: App) throws {
        if let problem = app.crons.problems.first { throw problem }
        for job in app.crons.jobs {
            do {
                _ = try checkScheduleTarget(job.functionPath, job.args, functions: app.functions, tables: { _ in nil })
            } catch {
                throw CronError(message: "Cron job \"\(job.name)\": \(error.message)")
            }
        }
    }

    /// Cancels every action running on this node, and every one started from now on: a node
    /// shutting down does not wait for an AI answer or a slow webhook to finish. Cancelled
    /// actions see `CancellationError` (their fetches fail with it) and may still write a last
    /// mutation.
    public func cancelActions() {
        runningActions.cancelAll()
    }

    /// Stops the writer (or the replica's applier) after the work already queued; later calls
    /// fail as unavailable.
    public func close() {
        cancelActions()
        committer?.stop()
        applier?.stop()
    }

    /// The number of the table `name` in this node's catalog (`nil` until it exists here).
    public func tableNumber(named name: String) -> UInt32? { tableNumbers(name) }

    /// Whether this node runs mutations itself.
    public var isWriter: Bool { committer != nil }

    /// Why this writer stopped accepting writes until it restarts (a failed COMMIT, a lapsed
    /// leadership); nil while it accepts them, and on a replica.
    public var writesStoppedReason: FunctionError? { committer?.writesStopped.reason }

    /// Returns why the writer stopped accepting writes, once it has (a failover writer then steps
    /// down); throws `CancellationError` when the task is cancelled first, and waits until then on
    /// a replica.
    public func untilWritesStop() async throws -> FunctionError {
        guard let committer else {
            while true { try await Task.sleep(for: .seconds(3600)) }
        }
        guard let reason = await committer.writesStopped.wait() else { throw CancellationError() }
        return reason
    }

    // MARK: - Calling functions

    private func resolve(_ path: String, kind: FunctionKind, identity: Identity, caller: Caller) throws(FunctionError) -> FunctionDefinition {
        let canonical = FunctionPath.canonical(path)
        // The engine's own `_system/` functions trust their arguments (a lease holder's name, a
        // job's expected state): only the engine calls them — not clients, admins or app code.
        let allowed: Bool
        if canonical.hasPrefix(SchedulerFunctions.systemPrefix) {
            allowed = caller == .system
        } else {
            allowed = caller != .client || identity.isAdmin
        }
        guard let function = functions.function(canonical), function.visibility == .public || allowed else {
            throw FunctionError(.unknownFunction, "Could not find public function for '\(canonical)'. Did you forget to define it?")
        }
        guard function.kind == kind else {
            throw FunctionError(
                .unknownFunction, "Trying to execute \(canonical) as \(kind.rawValue), but it is defined as \(function.kind.rawValue)."
            )
        }
        return function
    }

    private func validate(_ args: [String: Value], for function: FunctionDefinition) throws(FunctionError) {
        do {
            try limits.arguments.check(args, function: function.path)
        } catch {
            throw FunctionError(.invalidArguments, "ArgumentValidationError: \(error.message)")
        }
        guard let validators = function.args else { return }
        do {
            try Validator.object(validators).validate(.object(args), tables: tableNumbers)
        } catch {
            throw FunctionError(.invalidArguments, "ArgumentValidationError for \(function.path): \(error.message)")
        }
    }

    /// `query` before it is logged (`ExecutionLog.swift`).
    func executeQuery(
        _ path: String, _ args: [String: Value], identity: Identity, journal: String?, caller: Caller
    ) async throws(FunctionError) -> QueryResult {
        metrics.queries.increment()
        let function = try resolve(path, kind: .query, identity: identity, caller: caller)
        try validate(args, for: function)
        guard case .query(let handler) = function.handler else { preconditionFailure("resolved by kind") }
        let schema = app.schema
        let limits = self.limits
        do {
            return try await readers.withReader { store, ts in
                let transaction = Transaction(store: store, schema: schema, identity: identity, limits: limits, journal: journal, write: nil)
                let context = QueryContext(
                    db: DatabaseReader(transaction: transaction), auth: Auth(identity: identity), now: CommitClock.wallClock().milliseconds
                )
                let value = try handler(context, Arguments(args))
                return QueryResult(value: value, ts: ts, readSet: transaction.readSet, journal: transaction.journal)
            }
        } catch {
            throw FunctionError.from(error)
        }
    }

    /// One query of a batch run at a single snapshot.
    public struct QueryRequest: Sendable {
        public let path: String
        public let args: [String: Value]
        public let identity: Identity
        public let journal: String?

        public init(path: String, args: [String: Value], identity: Identity, journal: String?) {
            self.path = path
            self.args = args
            self.identity = identity
            self.journal = journal
        }
    }

    /// Runs several queries in one read transaction, so all results belong to one commit
    /// timestamp (what a Transition needs). Each query fails or succeeds on its own.
    public func querySnapshot(_ requests: [QueryRequest]) async throws(FunctionError) -> (ts: CommitTimestamp, results: [Result<QueryResult, FunctionError>]) {
        var prepared: [Result<(FunctionDefinition, QueryRequest), FunctionError>] = []
        for request in requests {
            do throws(FunctionError) {
                let function = try resolve(request.path, kind: .query, identity: request.identity, caller: .client)
                try validate(request.args, for: function)
                prepared.append(.success((function, request)))
            } catch {
                prepared.append(.failure(error))
            }
        }
        let schema = app.schema
        let limits = self.limits
        let work = prepared
        do {
            return try await readers.withReader { store, ts in
                let results = work.map { item -> Result<QueryResult, FunctionError> in
                    item.flatMap { function, request in
                        guard case .query(let handler) = function.handler else { preconditionFailure("resolved by kind") }
                        let transaction = Transaction(
                            store: store, schema: schema, identity: request.identity, limits: limits, journal: request.journal, write: nil
                        )
                        let context = QueryContext(
                            db: DatabaseReader(transaction: transaction), auth: Auth(identity: request.identity),
                            now: CommitClock.wallClock().milliseconds
                        )
                        do {
                            let value = try handler(context, Arguments(request.args))
                            return .success(QueryResult(value: value, ts: ts, readSet: transaction.readSet, journal: transaction.journal))
                        } catch {
                            return .failure(FunctionError.from(error))
                        }
                    }
                }
                return (ts, results)
            }
        } catch {
            throw FunctionError.from(error)
        }
    }

    /// The timestamp of the latest committed state.
    public func latestTimestamp() async throws(FunctionError) -> CommitTimestamp {
        do {
            return try await readers.withReader { _, ts in ts }
        } catch {
            throw FunctionError.from(error)
        }
    }

    /// `mutation` before it is logged (`ExecutionLog.swift`).
    ///
    /// With a client `request`, the result is remembered (`MutationDedupPolicy`) and a resend of
    /// the same request by the same identity gets it back instead of running again — on any node:
    /// a replica forwards the request to the writer, whose transaction looks for it.
    func executeMutation(
        _ path: String, _ args: [String: Value], identity: Identity, caller: Caller, request: ClientRequest?
    ) async throws(FunctionError) -> MutationResult {
        let started = ContinuousClock.now
        defer { metrics.mutationLatency.record(since: started) }
        let function = try resolve(path, kind: .mutation, identity: identity, caller: caller)
        try validate(args, for: function)
        guard case .mutation(let handler) = function.handler else { preconditionFailure("resolved by kind") }
        if let forwarder {
            // Read-your-writes from any node: answer only once this replica has applied the commit.
            switch await forwarder.forward(
                ForwardedCall(path: function.path, args: args, identity: identity, request: request, caller: caller))
            {
            case .committed(let result):
                // Bounded: after a failover the commit may never arrive here (the old writer
                // died before shipping it, and the new writer never had it).
                guard await commitFeed.applied.wait(until: result.ts, timeout: Self.forwardedCommitApplyTimeout) else {
                    throw FunctionError.unknownOutcome(.notAppliedHere(ts: result.ts, timeout: Self.forwardedCommitApplyTimeout))
                }
                return result
            case .failed(let error):
                throw error
            }
        }
        let arguments = Arguments(args)
        let appFunctions = app.functions
        let requestKey = request.flatMap { MutationRequestKey(identity: identity, request: $0) }
        let dedupPolicy = self.dedupPolicy
        return try await runInWriter(identity: identity) { transaction in
            let requests = MutationRequestTable(transaction: transaction, policy: dedupPolicy)
            if let requestKey, let earlier = try requests.earlierResult(of: requestKey) { return earlier }
            let now = transaction.write!.ts.milliseconds
            let context = MutationContext(
                db: DatabaseWriter(transaction: transaction), auth: Auth(identity: identity), now: now,
                scheduler: Scheduler(transaction: transaction, functions: appFunctions))
            let value = try handler(context, arguments)
            if let requestKey { try requests.record(requestKey, result: value) }
            return value
        }
    }

    /// Runs `work` as one mutation on the writer, for server-side work that is not a user
    /// function (scheduler bookkeeping, tests).
    func runInWriter(identity: Identity, _ work: @escaping (Transaction) throws -> Value) async throws(FunctionError) -> MutationResult {
        guard let committer else { throw FunctionError(.unavailable, "This node is a replica; writes go to the writer") }
        let result: Result<MutationResult, FunctionError> = await withCheckedContinuation { continuation in
            committer.submit(Committer.Request(identity: identity, work: work) { continuation.resume(returning: $0) })
        }
        let committed = try result.get()
        if let commitAcknowledgement, let failure = await commitAcknowledgement(committed.ts) { throw failure }
        return committed
    }

    /// `action` before it is logged (`ExecutionLog.swift`): it runs on the calling node, off the
    /// writer's path, holds no transaction and waits on the network as long as it likes. Its
    /// error reaches the caller with every deployment secret masked.
    func executeAction(
        _ path: String, _ args: [String: Value], identity: Identity, caller: Caller
    ) async throws(FunctionError) -> Value {
        let function = try resolve(path, kind: .action, identity: identity, caller: caller)
        try validate(args, for: function)
        guard case .action(let handler) = function.handler else { preconditionFailure("resolved by kind") }
        let context = ActionContext(auth: Auth(identity: identity), engine: self)
        let arguments = Arguments(args)
        return try await runAction { try await handler(context, arguments) }
    }

    /// Runs an HTTP action: the app's route for the request's method and path, or 404/405.
    public func httpAction(_ request: HTTPActionRequest, identity: Identity = .anonymous) async -> HTTPActionResponse {
        switch app.http.resolve(method: request.method, path: request.path) {
        case .notFound:
            return .text("No HTTP route for \(request.path)\n", status: 404)
        case .methodNotAllowed(let allowed):
            var response = HTTPActionResponse.text("\(request.method) is not allowed on \(request.path)\n", status: 405)
            response.headers.append(("Allow", allowed.joined(separator: ", ")))
            return response
        case .handler(let handler):
            let context = ActionContext(auth: Auth(identity: identity), engine: self)
            do throws(FunctionError) {
                return try await runAction { try await handler(context, request) }
            } catch {
                logger.info("HTTP action \(request.method) \(request.path) failed: \(error.message)")
                return .text("\(error.message)\n", status: 500)
            }
        }
    }

    /// Runs an action's body as a task the engine can cancel at shutdown; cancelling the caller
    /// cancels it too.
    private func runAction<R: Sendable>(_ body: @escaping @Sendable () async throws -> R) async throws(FunctionError) -> R {
        let task = Task { try await body() }
        let id = runningActions.insert(task)
        defer { runningActions.remove(id) }
        do {
            return try await withTaskCancellationHandler { try await task.value } onCancel: { task.cancel() }
        } catch {
            let failure = FunctionError.from(error)
            throw FunctionError(failure.kind, environment.redact(failure.message), data: failure.data)
        }
    }
}

// MARK: - Replication

extension Engine {
    /// How long a replica waits to apply a mutation it forwarded before answering its caller.
    static let forwardedCommitApplyTimeout: Duration = .seconds(30)

    /// The timestamp of the last commit this node has made durable (writer) or applied (replica).
    public func appliedTimestamp() async throws(FunctionError) -> CommitTimestamp {
        if applier != nil { return commitFeed.applied.value }
        return try await latestTimestamp()
    }

    /// The term of the commit at `appliedTimestamp()`: with it, the position a replica names in
    /// its hello is one commit, not just a timestamp (`Commit`).
    public func appliedTerm() async throws -> UInt64 {
        try await readers.withReader { store, _ in try store.appliedTerm() }
    }

    /// Whether this node's log holds the commit at `ts` sequenced in `term` (false when it
    /// holds another commit at `ts`, none, or pruned it): a replica whose position it does not
    /// hold has forked from this log and needs a snapshot.
    public func holdsCommit(at ts: CommitTimestamp, term: UInt64) async throws -> Bool {
        try await readers.withReplicationReader { store, _ in try store.holdsCommit(at: ts, term: term) }
    }

    /// Applies commits from the writer's log (replica only), durably and in order.
    public func apply(_ commits: [Commit]) async throws {
        guard let applier else { throw FunctionError(.invalidUse, "Only a replica applies shipped commits") }
        try await applier.apply(commits)
    }

    /// Queues commits from the writer's log for applying (replica only) and returns at once.
    /// They must follow `previousTimestamp` exactly — the commit before the first, as the link's
    /// batches chain — or they fail without being applied. `completion` is called once they are
    /// durable (with the applied timestamp then, which may include later commits applied in the
    /// same transaction) or failed, in the order they were queued, on the applier's thread: keep
    /// it short.
    public func apply(
        _ commits: [Commit], following previousTimestamp: CommitTimestamp,
        completion: @escaping @Sendable (Result<CommitTimestamp, any Error>) -> Void
    ) {
        guard let applier else { return completion(.failure(FunctionError(.invalidUse, "Only a replica applies shipped commits"))) }
        applier.enqueue(commits, following: previousTimestamp, done: completion)
    }

    /// Suspends until this node has applied (replica) or committed (writer) `ts`, or `timeout`
    /// passes; returns whether it got there.
    public func waitUntilApplied(_ ts: CommitTimestamp, timeout: Duration) async -> Bool {
        await commitFeed.applied.wait(until: ts, timeout: timeout)
    }

    /// How many commits the log holds after `ts` (a replica's lag in commits).
    public func commitCount(after ts: CommitTimestamp) async throws -> Int {
        try await readers.withReplicationReader { store, _ in try store.commitCount(after: ts) }
    }

    /// Commits after `ts` from the commit log, oldest first (what the writer ships). Throws
    /// `CommitLogPruned` when commits right after `ts` were pruned (checked in the same read
    /// transaction, so a concurrent prune can never make this skip commits silently).
    public func commits(after ts: CommitTimestamp, limit: Int) async throws -> [Commit] {
        try await readers.withReplicationReader { store, _ in
            let pruned = try store.logPrunedThrough()
            guard ts >= pruned else { throw CommitLogPruned(through: pruned) }
            return try store.commits(after: ts, limit: limit)
        }
    }

    /// The commit log is pruned through this timestamp (0: nothing pruned).
    public func logPrunedThrough() async throws -> CommitTimestamp {
        try await readers.withReplicationReader { store, _ in try store.logPrunedThrough() }
    }

    /// A consistent logical snapshot of this node's database (see `SnapshotCodec`) and the commit
    /// timestamp it is at, read in one read transaction.
    public func snapshot() async throws -> (ts: CommitTimestamp, bytes: [UInt8]) {
        try await readers.withReader { store, _ in try store.encodeSnapshot() }
    }

    /// Replaces this replica's state with a writer's snapshot (replica only), in one transaction;
    /// subscriptions re-run as after any applied commit. Returns the snapshot's timestamp.
    @discardableResult
    public func install(snapshot bytes: [UInt8]) async throws -> CommitTimestamp {
        guard let applier else { throw FunctionError(.invalidUse, "Only a replica installs snapshots") }
        return try await applier.install(try SnapshotCodec.decode(bytes))
    }
}

// MARK: - State hash

extension Engine {
    /// SHA-256 over every document (user and system tables, in document-number order) and the
    /// catalog, read in one snapshot — `nil` if this node's snapshot is not exactly at `ts`.
    /// Equal hashes at equal timestamps mean two nodes hold the same state.
    public func stateHash(at ts: CommitTimestamp) async throws -> String? {
        try await readers.withReader { store, snapshot in
            guard snapshot == ts else { return nil }
            var hasher = SHA256()
            try store.forEachDocument { number, tableNumber, id, value in
                var row: [UInt8] = []
                appendVarint(UInt64(bitPattern: number), to: &row)
                appendVarint(UInt64(tableNumber), to: &row)
                row.append(contentsOf: Array(id.utf8))
                row.append(0)
                row.append(contentsOf: value)
                hasher.update(data: row)
            }
            for table in store.catalog.tablesByNumber.values.sorted(by: { $0.number < $1.number }) {
                hasher.update(data: Array("table \(table.number) \(table.name)\n".utf8))
                for index in store.catalog.indexes(of: table.number).sorted(by: { $0.number < $1.number }) {
                    hasher.update(data: Array("index \(index.number) \(index.name) \(index.fields) \(index.state)\n".utf8))
                }
            }
            return hasher.finalize().map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        }
    }
}
