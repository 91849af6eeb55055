import RippleCron
import RippleValues

/// The engine's own functions behind scheduling, under `_system/scheduler:`. They are internal
/// (clients cannot call them) and run on the writer like any mutation, so a scheduler node —
/// a replica — reaches them through the same forwarding as app mutations.
///
/// Every job-running mutation names its scheduler (`holder`) and does nothing unless that
/// scheduler holds the lease at commit time; each checks the job's state in the same
/// transaction that changes it, which is what makes a mutation job run exactly once and an
/// action job start at most once, whatever a scheduler crashes or retries.
public enum SchedulerFunctions {
    /// Paths under this prefix are the engine's own: only `Caller.system` may call them.
    public static let systemPrefix = "_system/"
    public static let schedule = "_system/scheduler:schedule"
    public static let cancel = "_system/scheduler:cancel"
    public static let acquireLease = "_system/scheduler:acquireLease"
    public static let releaseLease = "_system/scheduler:releaseLease"
    public static let runMutationJob = "_system/scheduler:runMutationJob"
    public static let startActionJob = "_system/scheduler:startActionJob"
    public static let finishJob = "_system/scheduler:finishJob"
    public static let failAbandonedActions = "_system/scheduler:failAbandonedActions"
    public static let deleteFinishedJobs = "_system/scheduler:deleteFinishedJobs"
    public static let syncCrons = "_system/scheduler:syncCrons"
    public static let runCron = "_system/scheduler:runCron"
    public static let jobsInState = "_system/scheduler:jobsInState"
    public static let cronJobs = "_system/scheduler:cronJobs"

    /// What a job mutation did, returned as `{status}`.
    public enum Status: String, Sendable {
        /// The job moved on as asked.
        case done
        /// The job was not in the expected state (already run, canceled, or another run won).
        case skipped
        /// This scheduler does not hold the lease; nothing was written.
        case leaseLost
    }

    /// The system functions, for an app whose functions are `app`.
    static func registry(for app: FunctionRegistry) -> FunctionRegistry {
        var functions = FunctionRegistry()
        registerScheduling(&functions, app: app)
        registerLease(&functions)
        registerJobs(&functions, app: app)
        registerCrons(&functions)
        return functions
    }

    private static func status(_ status: Status) -> SchedulerCall.StatusReply { SchedulerCall.StatusReply(status) }

    private static func holdsLease(_ ctx: MutationContext, _ holder: String) throws -> Bool {
        try SchedulerLease.load(ctx.db.transaction)?.lease.isHeld(by: holder, at: ctx.now) ?? false
    }

    /// Registers a system mutation whose arguments are `Request` (validated, then decoded) and
    /// whose result is encoded from `Reply`.
    private static func mutation<Request: SchedulerRequest, Reply: Encodable>(
        _ functions: inout FunctionRegistry, _ path: String, _ body: @escaping @Sendable (MutationContext, Request) throws -> Reply
    ) {
        functions.internalMutation(path, args: Request.arguments) { ctx, args in
            try ValueEncoder().encode(try body(ctx, try ValueDecoder().decode(Request.self, from: .object(args.fields))))
        }
    }

    /// A page size or batch: `default` when absent, else 1–10,000.
    private static func limit(_ limit: Int?, default fallback: Int) throws -> Int {
        guard let limit else { return fallback }
        guard (1...10_000).contains(limit) else { throw UserError("limit must be a whole number from 1 to 10000, got \(limit)") }
        return limit
    }

    // MARK: - Scheduling from actions

    private static func registerScheduling(_ functions: inout FunctionRegistry, app: FunctionRegistry) {
        let when: [String: Validator] = ["name": .string, "args": .any, "at": .optional(.float64), "delayMs": .optional(.float64)]
        functions.internalMutation(schedule, args: when) { ctx, args in
            let scheduler = Scheduler(transaction: ctx.db.transaction, functions: app)
            let name = try args.string("name")
            let jobArgs = args["args"]?.objectValue ?? [:]
            if let at = args["at"]?.doubleValue { return try scheduler.runAt(at, name, jobArgs) }
            return try scheduler.runAfter(args["delayMs"]?.doubleValue ?? 0, name, jobArgs)
        }
        functions.internalMutation(cancel, args: ["id": .string]) { ctx, args in
            try Scheduler(transaction: ctx.db.transaction, functions: app).cancel(try args.string("id"))
            return Value.null
        }
    }

    // MARK: - The lease

    private static func registerLease(_ functions: inout FunctionRegistry) {
        mutation(&functions, acquireLease) { (ctx, request: SchedulerCall.LeaseRequest) in
            let transaction = ctx.db.transaction
            let current = try SchedulerLease.load(transaction)
            let grant = SchedulerLease.request(current: current?.lease, candidate: request.holder, now: ctx.now, duration: request.durationMs)
            switch grant {
            case .granted(let lease, let takeover):
                try transaction.withSystemWrites {
                    if let current {
                        try transaction.replace(current.id, lease.fields)
                    } else {
                        try transaction.insert(SystemTables.schedulerLease, lease.fields)
                    }
                }
                return SchedulerCall.LeaseReply(
                    granted: true, takeover: takeover, epoch: lease.epoch, expiresAt: lease.expiresAt, holder: lease.holder)
            case .refused(let lease):
                return SchedulerCall.LeaseReply(granted: false, expiresAt: lease.expiresAt, holder: lease.holder)
            }
        }
        // A scheduler that shuts down cleanly hands the lease back, so the next one need not wait.
        mutation(&functions, releaseLease) { (ctx, request: SchedulerCall.HolderRequest) in
            let transaction = ctx.db.transaction
            guard let current = try SchedulerLease.load(transaction), current.lease.holder == request.holder else { return Nothing() }
            var released = current.lease
            released.expiresAt = ctx.now
            try transaction.withSystemWrites { try transaction.replace(current.id, released.fields) }
            return Nothing()
        }
    }

    // MARK: - Running jobs

    private static func registerJobs(_ functions: inout FunctionRegistry, app: FunctionRegistry) {
        // A mutation job: the app's mutation and the job's `success` commit together. If the
        // mutation throws, this whole transaction rolls back and the scheduler records the
        // failure with `finishJob` — a job that failed changed nothing else.
        mutation(&functions, runMutationJob) { (ctx, request: SchedulerCall.JobRequest) in
            guard try holdsLease(ctx, request.holder) else { return status(.leaseLost) }
            let jobs = JobTable(transaction: ctx.db.transaction)
            let id = request.id
            guard let job = try jobs.job(id), job.state == .pending else { return status(.skipped) }
            let function = try checkScheduleTarget(job.name, job.args, functions: app, tables: ctx.db.transaction.tableNumbers)
            guard case .mutation(let handler) = function.handler else {
                throw FunctionError(.invalidUse, "Scheduled function \(job.name) is not a mutation")
            }
            // Scheduled functions run without the scheduling user's identity, as in Convex.
            let context = MutationContext(
                db: ctx.db, auth: Auth(identity: .anonymous), now: ctx.now,
                scheduler: Scheduler(transaction: ctx.db.transaction, functions: app))
            _ = try handler(context, Arguments(job.args))
            try jobs.set(id, .success)
            return status(.done)
        }
        // An action job's start: pending → inProgress, recording which scheduler runs it, so that
        // no other run can start it. Asking again as the same runner answers `done` again: a
        // scheduler whose reply was lost retries, and it has not run the action yet.
        mutation(&functions, startActionJob) { (ctx, request: SchedulerCall.JobRequest) in
            guard try holdsLease(ctx, request.holder) else { return status(.leaseLost) }
            let jobs = JobTable(transaction: ctx.db.transaction)
            let (id, holder) = (request.id, request.holder)
            guard let job = try jobs.job(id) else { return status(.skipped) }
            if job.state == .inProgress, job.runner == holder { return status(.done) }
            guard job.state == .pending else { return status(.skipped) }
            try jobs.set(id, .inProgress, runner: holder)
            return status(.done)
        }
        // A job's end: from `from` (pending for a failed mutation job, inProgress for an action)
        // to success, or failed with `error`.
        mutation(&functions, finishJob) { (ctx, request: SchedulerCall.FinishJobRequest) in
            guard try holdsLease(ctx, request.holder) else { return status(.leaseLost) }
            let jobs = JobTable(transaction: ctx.db.transaction)
            guard let job = try jobs.job(request.id), job.state == request.from else { return status(.skipped) }
            try jobs.set(request.id, request.error == nil ? .success : .failed, error: request.error)
            return status(.done)
        }
        // After a scheduler takes the lease: actions still `inProgress` under another runner were
        // started by a scheduler that lost the lease (died, or was cut off); they are failed,
        // never run again. (Its own runs it finishes itself.)
        mutation(&functions, failAbandonedActions) { (ctx, request: SchedulerCall.HolderRequest) in
            guard try holdsLease(ctx, request.holder) else { return status(.leaseLost) }
            let jobs = JobTable(transaction: ctx.db.transaction)
            var failed = 0
            for job in try jobs.jobs(in: .inProgress, limit: SchedulerLimits.jobsPerExecution) where job.runner != request.holder {
                try jobs.set(job.id, .failed, error: "Transient error while executing action; the scheduler stopped before it finished and it was not retried")
                failed += 1
            }
            var reply = status(.done)
            reply.failed = failed
            return reply
        }
        // Finished jobs (success, failed, canceled) that finished before `before` are deleted,
        // at most `limit` per call, oldest first — as Convex keeps them for 7 days.
        mutation(&functions, deleteFinishedJobs) { (ctx, request: SchedulerCall.DeleteFinishedJobsRequest) in
            guard try holdsLease(ctx, request.holder) else { return status(.leaseLost) }
            let transaction = ctx.db.transaction
            let before = request.before
            var budget = try limit(request.limit, default: 500)
            var deleted = 0
            for state in [JobState.success, .failed, .canceled] where budget > 0 {
                let finished = try ctx.db.system.query(SystemTables.scheduledFunctions)
                    .withIndex(SystemTables.byStateAndTime) { $0.eq("state.kind", state.rawValue).lt("scheduledTime", before) }
                    .take(budget)
                for job in finished where (job["completedTime"]?.doubleValue ?? 0) < before {
                    try transaction.withSystemWrites { try transaction.delete(job.id) }
                    deleted += 1
                }
                budget -= finished.count
            }
            var reply = status(.done)
            reply.deleted = deleted
            return reply
        }
        // Jobs in a state, earliest due first, a page at a time (`cursor`: where the last ended).
        functions.internalQuery(jobsInState, args: SchedulerCall.JobsInStateRequest.arguments) { ctx, args in
            guard let state = JobState(rawValue: try args.string("state")) else { throw UserError("unknown job state") }
            let request = try ValueDecoder().decode(SchedulerCall.JobsInStateRequest.self, from: .object(args.fields))
            let query = try ctx.db.system.query(SystemTables.scheduledFunctions)
                .withIndex(SystemTables.byStateAndTime) { $0.eq("state.kind", state.rawValue) }
            return try query.paginate(numItems: try limit(request.limit, default: 256), cursor: request.cursor).convexValue
        }
    }

    // MARK: - Crons

    private static func registerCrons(_ functions: inout FunctionRegistry) {
        // Brings `_cron_jobs` in line with the app's crons in one transaction. An unchanged cron
        // keeps its `nextRun`, so restarting the scheduler neither skips nor repeats a run.
        mutation(&functions, syncCrons) { (ctx, request: SchedulerCall.SyncCronsRequest) in
            guard try holdsLease(ctx, request.holder) else { return status(.leaseLost) }
            let transaction = ctx.db.transaction
            var existing: [String: Document] = [:]
            for document in try ctx.db.system.query(SystemTables.cronJobs).withIndex(SystemTables.byName).collect() {
                if let name = document["name"]?.stringValue { existing[name] = document }
            }
            var added = 0
            var changed = 0
            try transaction.withSystemWrites {
                for definition in request.crons {
                    let schedule = try CronSchedule(value: definition.schedule)
                    let fields: [String: Value] = [
                        "name": .string(definition.name), "schedule": definition.schedule, "functionPath": .string(definition.functionPath),
                        "args": .object(definition.args),
                    ]
                    if let current = existing.removeValue(forKey: definition.name) {
                        let same = fields.allSatisfy { current[$0.key] == $0.value }
                        if same { continue }
                        var updated = fields
                        updated["nextRun"] = .float64(schedule.nextRun(after: ctx.now))
                        if let lastRun = current["lastRun"] { updated["lastRun"] = lastRun }
                        try transaction.replace(current.id, updated)
                        changed += 1
                    } else {
                        var inserted = fields
                        inserted["nextRun"] = .float64(schedule.nextRun(after: ctx.now))
                        try transaction.insert(SystemTables.cronJobs, inserted)
                        added += 1
                    }
                }
                for stale in existing.values { try transaction.delete(stale.id) }
            }
            var reply = status(.done)
            (reply.added, reply.changed, reply.removed) = (added, changed, existing.count)
            return reply
        }
        // A due cron: its job is scheduled (due at the run time) and `nextRun` moves past now in
        // the same transaction. Runs missed while no scheduler was up collapse into this one.
        mutation(&functions, runCron) { (ctx, request: SchedulerCall.RunCronRequest) in
            guard try holdsLease(ctx, request.holder) else { return status(.leaseLost) }
            let transaction = ctx.db.transaction
            let (name, expected) = (request.name, request.nextRun)
            guard
                let cron = try ctx.db.system.query(SystemTables.cronJobs).withIndex(SystemTables.byName, { $0.eq("name", name) }).first(),
                cron["nextRun"]?.doubleValue == expected, let scheduleValue = cron["schedule"],
                let path = cron["functionPath"]?.stringValue
            else { return status(.skipped) }
            let schedule = try CronSchedule(value: scheduleValue)
            try JobTable(transaction: transaction).insert(name: path, args: cron["args"]?.objectValue ?? [:], scheduledTime: expected)
            try transaction.withSystemWrites {
                try transaction.patch(
                    cron.id, ["lastRun": .float64(expected), "nextRun": .float64(schedule.nextRun(after: max(ctx.now, expected)))])
            }
            return status(.done)
        }
        functions.internalQuery(cronJobs, args: [:]) { ctx, _ in
            Value.array(try ctx.db.system.query(SystemTables.cronJobs).withIndex(SystemTables.byName).collect().map(\.convexValue))
        }
    }
}
