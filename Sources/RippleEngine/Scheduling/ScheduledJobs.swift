import RippleValues

/// Where a scheduled job is in its life. Mutation jobs go pending → success/failed in one
/// transaction; action jobs pass through inProgress; pending jobs may be canceled.
public enum JobState: String, Sendable, CaseIterable {
    case pending
    case inProgress
    case success
    case failed
    case canceled

    var isFinal: Bool { self == .success || self == .failed || self == .canceled }
}

/// A document of `_scheduled_functions`.
public struct ScheduledJob: Sendable, Equatable {
    public let id: String
    /// The function's canonical path.
    public let name: String
    public let args: [String: Value]
    /// When it is due, in milliseconds since the epoch.
    public let scheduledTime: Double
    public let state: JobState
    public let error: String?
    /// The scheduler running an `inProgress` action (its lease holder name).
    public let runner: String?

    public init?(_ document: Document) {
        guard let name = document["name"]?.stringValue, case .array(let args)? = document["args"],
            let first = args.first?.objectValue, let scheduledTime = document["scheduledTime"]?.doubleValue,
            let kind = document["state"]?["kind"]?.stringValue, let state = JobState(rawValue: kind)
        else { return nil }
        self.id = document.id
        self.name = name
        self.args = first
        self.scheduledTime = scheduledTime
        self.state = state
        self.error = document["state"]?["error"]?.stringValue
        self.runner = document["state"]?["runner"]?.stringValue
    }
}

/// How many jobs one function execution may schedule (Convex's limit).
public enum SchedulerLimits {
    public static let jobsPerExecution = 1_000
}

/// Every read and write of `_scheduled_functions` inside one transaction: the only code that
/// writes that table.
struct JobTable {
    let transaction: Transaction

    /// The transaction's commit time in milliseconds (the writer's clock).
    var now: Double { (transaction.write?.ts ?? .zero).milliseconds }

    func insert(name: String, args: [String: Value], scheduledTime: Double) throws -> String {
        transaction.jobsScheduled += 1
        guard transaction.jobsScheduled <= SchedulerLimits.jobsPerExecution else {
            throw TransactionError("Too many functions scheduled by a single function execution (limit: \(SchedulerLimits.jobsPerExecution))")
        }
        return try transaction.withSystemWrites {
            try transaction.insert(
                SystemTables.scheduledFunctions,
                [
                    "name": .string(name), "args": .array([.object(args)]), "scheduledTime": .float64(scheduledTime),
                    "state": ["kind": .string(JobState.pending.rawValue)],
                ])
        }
    }

    func job(_ id: String) throws -> ScheduledJob? {
        guard let parsed = DocumentID(id), transaction.catalog.table(number: parsed.tableNumber)?.name == SystemTables.scheduledFunctions
        else { return nil }
        return try transaction.get(id).flatMap(ScheduledJob.init)
    }

    /// Moves a job to `state`; a final state records `completedTime`, `inProgress` its runner.
    func set(_ id: String, _ state: JobState, error: String? = nil, runner: String? = nil) throws {
        var fields: [String: Value] = ["kind": .string(state.rawValue)]
        if let error { fields["error"] = .string(error) }
        if let runner { fields["runner"] = .string(runner) }
        try transaction.withSystemWrites {
            try transaction.patch(id, ["state": .object(fields), "completedTime": state.isFinal ? .float64(now) : nil])
        }
    }

    /// Jobs in `state`, earliest due first, at most `limit`.
    func jobs(in state: JobState, limit: Int) throws -> [ScheduledJob] {
        let query = try QueryInitializer(transaction: transaction, tableName: SystemTables.scheduledFunctions, system: true)
            .withIndex(SystemTables.byStateAndTime) { $0.eq("state.kind", state.rawValue) }
        return try query.take(limit).compactMap(ScheduledJob.init)
    }
}

extension Transaction {
    /// Runs `body` with system-table writes allowed (engine bookkeeping only).
    func withSystemWrites<T>(_ body: () throws -> T) rethrows -> T {
        let before = writesSystemTables
        writesSystemTables = true
        defer { writesSystemTables = before }
        return try body()
    }
}

/// Checks a function before it is scheduled, named by a cron, or run as a job: it exists, is a
/// mutation or an action, and accepts the arguments. Returns its definition.
func checkScheduleTarget(
    _ path: String, _ args: [String: Value], functions: FunctionRegistry, tables: TableNumberLookup
) throws(FunctionError) -> FunctionDefinition {
    guard let function = functions.function(path) else {
        throw FunctionError(.unknownFunction, "Attempted to schedule function at nonexistent path: \"\(FunctionPath.canonical(path))\"")
    }
    guard function.kind != .query else {
        throw FunctionError(.invalidUse, "Only mutations and actions can be scheduled; \(function.path) is a query")
    }
    if let validators = function.args {
        do {
            try Validator.object(validators).validate(.object(args), tables: tables)
        } catch {
            throw FunctionError(.invalidArguments, "ArgumentValidationError for scheduled function \(function.path): \(error.message)")
        }
    }
    return function
}

/// `ctx.scheduler` in a mutation: jobs scheduled here commit with the mutation, or not at all.
public struct Scheduler {
    let transaction: Transaction
    let functions: FunctionRegistry

    /// Schedules `path` to run `delayMs` milliseconds after this mutation commits; returns the
    /// job's id (a `_scheduled_functions` document).
    @discardableResult
    public func runAfter(_ delayMs: Double, _ path: String, _ args: [String: Value] = [:]) throws -> String {
        guard delayMs.isFinite else { throw UserError("runAfter: delay must be a finite number of milliseconds, got \(delayMs)") }
        let jobs = JobTable(transaction: transaction)
        return try schedule(path, args, at: jobs.now + max(0, delayMs))
    }

    /// Schedules `path` to run at `timestampMs` (milliseconds since the epoch; a past time runs
    /// as soon as possible); returns the job's id.
    @discardableResult
    public func runAt(_ timestampMs: Double, _ path: String, _ args: [String: Value] = [:]) throws -> String {
        guard timestampMs.isFinite else { throw UserError("runAt: timestamp must be a finite number of milliseconds, got \(timestampMs)") }
        return try schedule(path, args, at: timestampMs)
    }

    /// Cancels a pending job; a job that already started or finished is left as it is.
    public func cancel(_ id: String) throws {
        let jobs = JobTable(transaction: transaction)
        guard let job = try jobs.job(id) else { throw UserError("cancel: \"\(id)\" is not a scheduled function id") }
        if job.state == .pending { try jobs.set(id, .canceled) }
    }

    private func schedule(_ path: String, _ args: [String: Value], at time: Double) throws -> String {
        let name = try checkScheduleTarget(path, args, functions: functions, tables: transaction.tableNumbers).path
        return try JobTable(transaction: transaction).insert(name: name, args: args, scheduledTime: time)
    }
}

@available(*, unavailable)
extension Scheduler: Sendable {}

/// `ctx.scheduler` in an action: each call is its own small mutation on the writer.
public struct ActionScheduler: Sendable {
    let engine: Engine

    @discardableResult
    public func runAfter(_ delayMs: Double, _ path: String, _ args: [String: Value] = [:]) async throws -> String {
        guard delayMs.isFinite else { throw UserError("runAfter: delay must be a finite number of milliseconds, got \(delayMs)") }
        return try await schedule(path, args, ["delayMs": .float64(max(0, delayMs))])
    }

    @discardableResult
    public func runAt(_ timestampMs: Double, _ path: String, _ args: [String: Value] = [:]) async throws -> String {
        guard timestampMs.isFinite else { throw UserError("runAt: timestamp must be a finite number of milliseconds, got \(timestampMs)") }
        return try await schedule(path, args, ["at": .float64(timestampMs)])
    }

    public func cancel(_ id: String) async throws {
        _ = try await engine.mutation(SchedulerFunctions.cancel, ["id": .string(id)], caller: .system)
    }

    private func schedule(_ path: String, _ args: [String: Value], _ when: [String: Value]) async throws -> String {
        // Checked here too, so that the error names the caller's mistake before any round trip.
        let name = try checkScheduleTarget(path, args, functions: engine.app.functions, tables: engine.tableNumbers).path
        var request = when
        request["name"] = .string(name)
        request["args"] = .object(args)
        let result = try await engine.mutation(SchedulerFunctions.schedule, request, caller: .system)
        guard let id = result.value.stringValue else { throw UserError("scheduling \(name) returned no job id") }
        return id
    }
}
