import RippleValues

/// Tables the engine keeps for itself, next to the app's. Their names start with `_`, which
/// app schemas may not use; functions read them through `ctx.db.system` and never write them
/// directly. They are created by the schema sync like app tables, so they replicate like data.
enum SystemTables {
    /// Scheduled functions (`ctx.scheduler.runAfter/runAt`, cron runs), one document per job,
    /// shaped as Convex's: `name`, `args` (a one-element array), `scheduledTime`, `state`
    /// (`{kind: "pending" | "inProgress" | "success" | "failed" | "canceled", error?}`),
    /// `completedTime`.
    static let scheduledFunctions = "_scheduled_functions"
    /// Due jobs are found by this index: pending ones, earliest first.
    static let byStateAndTime = "by_state_time"
    /// One function's jobs, earliest first (a cron's runs, say), without reading every job.
    static let byNameAndTime = "by_name_time"

    /// The app's cron jobs as last synced by the scheduler: `name`, `schedule`, `functionPath`,
    /// `args`, `nextRun`, `lastRun`.
    static let cronJobs = "_cron_jobs"
    static let byName = "by_name"

    /// One document: which scheduler may run jobs, until when (see `SchedulerLease`).
    static let schedulerLease = "_scheduler_lease"

    /// Results of recent client mutations by `MutationRequestKey` (`key`, `result` as
    /// `ValueCodec` bytes), so a resend is answered instead of run again (`MutationRequestTable`).
    static let mutationRequests = "_mutation_requests"
    static let byKey = "by_key"

    static let definitions: [TableDefinition] = [
        TableDefinition(scheduledFunctions, nil).index(byStateAndTime, ["state.kind", "scheduledTime"])
            .index(byNameAndTime, ["name", "scheduledTime"]),
        TableDefinition(cronJobs, nil).index(byName, ["name"]),
        TableDefinition(schedulerLease, nil),
        TableDefinition(mutationRequests, nil).index(byKey, ["key"]),
    ]

    static func isSystem(_ table: String) -> Bool { table.hasPrefix("_") }

    /// Tables no function may read, not even through `ctx.db.system`: remembered mutation results
    /// belong to the clients that sent the mutations.
    static func isEnginePrivate(_ table: String) -> Bool { table == mutationRequests }
}

extension Schema {
    /// The app's tables and the engine's own, as the schema sync creates them.
    var withSystemTables: Schema { Schema(tables + SystemTables.definitions) }
}
