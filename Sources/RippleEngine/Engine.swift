import Logging
import RippleStorage
import RippleValues

/// An app: its schema and its functions.
public struct App: Sendable {
    public let schema: Schema
    public let functions: FunctionRegistry

    public init(schema: Schema, functions: FunctionRegistry) {
        self.schema = schema
        self.functions = functions
    }
}

/// Who is asking to run a function: a client (public functions only, unless admin) or another
/// function on the server (internal functions allowed).
public enum Caller: Sendable {
    case client
    case server
}

/// A query's result with what the sync layer needs to keep it live.
public struct QueryResult: Sendable {
    public let value: Value
    /// The commit timestamp of the snapshot the query read.
    public let ts: UInt64
    public let readSet: ReadSet
    /// The pagination end cursor to pass back on re-runs (`nil` if the query did not paginate).
    public let journal: String?
}

/// A mutation's result: its value and the commit timestamp at which its writes are visible.
public struct MutationResult: Sendable {
    public let value: Value
    public let ts: UInt64
}

/// Tunables of an engine.
public struct EngineOptions: Sendable {
    public var limits = TransactionLimits()
    public var readerCount = 4
    /// Most mutations committed by one COMMIT.
    public var maxGroupSize = 1024
    /// The wall clock, in nanoseconds; tests inject one that steps back.
    public var clock: @Sendable () -> UInt64 = CommitClock.wallClock
    public var logger = Logger(label: "ripple.engine")

    public init() {}
}

/// Ripple's single-node engine: runs queries at consistent snapshots on a pool of readers,
/// and mutations on the serial group-committing writer, against one SQLite file.
public final class Engine: Sendable {
    public let app: App
    let committer: Committer
    let readers: ReaderPool
    let limits: TransactionLimits
    /// Resolves `v.id("table")` in argument validators; the catalog is fixed once the schema is synced.
    let tableNumbers: TableNumberLookup

    /// Opens (or creates) the database at `path`, syncs the schema (backfilling new indexes)
    /// and starts the writer.
    public static func open(path: String, app: App, options: EngineOptions = EngineOptions()) throws -> Engine {
        do { try app.schema.check() } catch { throw error }
        let store = try Store(database: Database(path: path))
        let last = max(try store.appliedTimestamp(), try maxLoggedTimestamp(store))
        var sync = SchemaSync(store: store, logger: options.logger, clock: CommitClock(last: last, now: options.clock))
        try sync.run(app.schema)
        let committer = try Committer(
            store: store, schema: app.schema, clock: sync.clock, limits: options.limits,
            maxGroupSize: options.maxGroupSize, logger: options.logger
        )
        let readers = try ReaderPool(path: path, count: options.readerCount)
        let engine = Engine(app: app, committer: committer, readers: readers, limits: options.limits, catalog: store.catalog)
        committer.start()
        return engine
    }

    private init(app: App, committer: Committer, readers: ReaderPool, limits: TransactionLimits, catalog: Catalog) {
        self.app = app
        self.committer = committer
        self.readers = readers
        self.limits = limits
        self.tableNumbers = { catalog.table(named: $0)?.number }
    }

    private static func maxLoggedTimestamp(_ store: Store) throws -> UInt64 {
        let s = try store.database.statement("SELECT COALESCE(MAX(ts), 0) FROM commit_log")
        defer { s.reset() }
        return try s.step() ? UInt64(bitPattern: s.int64(0)) : 0
    }

    /// Stops the writer after the mutations already queued; later calls fail as unavailable.
    public func close() {
        committer.stop()
    }

    /// Calls `listener` after every group commit that wrote something (on the writer thread).
    public func onCommit(_ listener: @escaping @Sendable (CommitGroup) -> Void) {
        committer.addListener(listener)
    }

    // MARK: - Calling functions

    private func resolve(_ path: String, kind: FunctionKind, identity: Identity, caller: Caller) throws(FunctionError) -> FunctionDefinition {
        let canonical = FunctionPath.canonical(path)
        guard let function = app.functions.function(canonical),
            function.visibility == .public || caller == .server || identity.isAdmin
        else {
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
        guard let validators = function.args else { return }
        do {
            try Validator.object(validators).validate(.object(args), tables: tableNumbers)
        } catch {
            throw FunctionError(.invalidArguments, "ArgumentValidationError for \(function.path): \(error.message)")
        }
    }

    /// Runs a query at the latest committed snapshot. `journal` is the end cursor of an earlier
    /// run of the same paginated query, which keeps its page boundary.
    public func query(
        _ path: String, _ args: [String: Value] = [:], identity: Identity = .anonymous, journal: String? = nil,
        caller: Caller = .client
    ) async throws(FunctionError) -> QueryResult {
        let function = try resolve(path, kind: .query, identity: identity, caller: caller)
        try validate(args, for: function)
        guard case .query(let handler) = function.handler else { preconditionFailure("resolved by kind") }
        let schema = app.schema
        let limits = self.limits
        do {
            return try await readers.withReader { store, ts in
                let transaction = Transaction(store: store, schema: schema, identity: identity, limits: limits, journal: journal, write: nil)
                let context = QueryContext(
                    db: DatabaseReader(transaction: transaction), auth: Auth(identity: identity), now: Double(CommitClock.wallClock()) / 1_000_000
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
    public func querySnapshot(_ requests: [QueryRequest]) async throws(FunctionError) -> (ts: UInt64, results: [Result<QueryResult, FunctionError>]) {
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
                            now: Double(CommitClock.wallClock()) / 1_000_000
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
    public func latestTimestamp() async throws(FunctionError) -> UInt64 {
        do {
            return try await readers.withReader { _, ts in ts }
        } catch {
            throw FunctionError.from(error)
        }
    }

    /// Runs a mutation on the writer; returns once its group commit is durable.
    public func mutation(
        _ path: String, _ args: [String: Value] = [:], identity: Identity = .anonymous, caller: Caller = .client
    ) async throws(FunctionError) -> MutationResult {
        let function = try resolve(path, kind: .mutation, identity: identity, caller: caller)
        try validate(args, for: function)
        guard case .mutation(let handler) = function.handler else { preconditionFailure("resolved by kind") }
        let arguments = Arguments(args)
        return try await runInWriter(identity: identity) { transaction in
            let now = Double(transaction.write!.ts) / 1_000_000
            let context = MutationContext(db: DatabaseWriter(transaction: transaction), auth: Auth(identity: identity), now: now)
            return try handler(context, arguments)
        }
    }

    /// Runs `work` as one mutation on the writer, for server-side work that is not a user
    /// function (scheduler bookkeeping, tests).
    func runInWriter(identity: Identity, _ work: @escaping (Transaction) throws -> Value) async throws(FunctionError) -> MutationResult {
        let result: Result<MutationResult, FunctionError> = await withCheckedContinuation { continuation in
            committer.submit(Committer.Request(identity: identity, work: work) { continuation.resume(returning: $0) })
        }
        return try result.get()
    }

    /// Runs an action. Actions have no database; they call queries and mutations.
    public func action(
        _ path: String, _ args: [String: Value] = [:], identity: Identity = .anonymous, caller: Caller = .client
    ) async throws(FunctionError) -> Value {
        let function = try resolve(path, kind: .action, identity: identity, caller: caller)
        try validate(args, for: function)
        guard case .action(let handler) = function.handler else { preconditionFailure("resolved by kind") }
        do {
            return try await handler(ActionContext(auth: Auth(identity: identity), engine: self), Arguments(args))
        } catch {
            throw FunctionError.from(error)
        }
    }
}
