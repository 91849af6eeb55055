import Foundation
import Ripple

/// Functions the scheduler tests drive through the official client: schedule batches of jobs
/// that record each run under a unique tag, so a test can count runs per job.
enum JobDiagnostics {
    struct ScheduleRunsArgs: Codable, Sendable {
        var prefix: String
        var count: Int
        var delayMs: Double
        /// "mutation" (records its run), "action" (records its run through a mutation, then
        /// works for `sleepMs`), "failing" (throws).
        var kind: String
        var sleepMs: Int?
        var spreadMs: Double?
    }

    struct TagArgs: Codable, Sendable {
        var tag: String
    }

    struct JobArgs: Codable, Sendable {
        var id: ID<ScheduledFunction>
    }

    struct JobsArgs: Codable, Sendable {
        var ids: [ID<ScheduledFunction>]
    }

    struct PrefixArgs: Codable, Sendable {
        var prefix: String
    }

    struct RecordRunArgs: Codable, Sendable {
        var tag: String
        var counter: String
    }

    struct RecordRunActionArgs: Codable, Sendable {
        var tag: String
        var counter: String
        var sleepMs: Int
    }

    struct JobStates: Codable, Sendable {
        var counts: [String: Int]
        var errors: [String]
    }

    struct CronStats: Codable, Sendable {
        struct Job: Codable, Sendable {
            var scheduledTime: Double
            var state: String
        }
        var jobs: [Job]
        var runs: Int
    }

    struct RunStats: Codable, Sendable {
        var counter: Double
        var runs: Int
        var distinct: Int
        var duplicates: [String]
    }

    static let scheduleRuns = MutationReference<ScheduleRunsArgs, [ID<ScheduledFunction>]>("diagnostics:scheduleRuns")
    static let scheduleThenFail = MutationReference<TagArgs, Nothing>("diagnostics:scheduleThenFail")
    static let cancelJob = MutationReference<JobArgs, Nothing>("diagnostics:cancelJob")
    static let job = QueryReference<JobArgs, Document?>("diagnostics:job")
    static let jobStatesOf = QueryReference<JobsArgs, JobStates>("diagnostics:jobStatesOf")
    static let cronStats = QueryReference<NoArguments, CronStats>("diagnostics:cronStats")
    static let schedulerLease = QueryReference<NoArguments, Document?>("diagnostics:schedulerLease")
    static let runStats = QueryReference<PrefixArgs, RunStats>("diagnostics:runStats")
    static let recordRun = MutationReference<RecordRunArgs, Nothing>("diagnostics:recordRun")
    static let recordRunAction = ActionReference<RecordRunActionArgs, Nothing>("diagnostics:recordRunAction")
    static let failingJob = MutationReference<TagArgs, Nothing>("diagnostics:failingJob")
    static let recordCronRun = MutationReference<NoArguments, Nothing>("diagnostics:recordCronRun")
}

extension ChatApp {
    static func registerJobDiagnostics(_ functions: inout FunctionRegistry) {
        /// Schedules `count` jobs tagged `prefix-0` … `prefix-(count-1)`, due after `delayMs`,
        /// spread evenly over the following `spreadMs`.
        functions.mutation(JobDiagnostics.scheduleRuns) { ctx, args in
            guard (0...10_000).contains(args.count) else { throw UserError("Argument `count` is \(args.count), expected 0 to 10000") }
            return try (0..<args.count).map { i in
                let delay = args.delayMs + (args.spreadMs ?? 0) * Double(i) / Double(max(1, args.count))
                let run = JobDiagnostics.RecordRunArgs(tag: "\(args.prefix)-\(i)", counter: args.prefix)
                switch args.kind {
                case "mutation": return try ctx.scheduler.runAfter(delay, JobDiagnostics.recordRun, run)
                case "action":
                    return try ctx.scheduler.runAfter(
                        delay, JobDiagnostics.recordRunAction, .init(tag: run.tag, counter: run.counter, sleepMs: args.sleepMs ?? 0))
                case "failing": return try ctx.scheduler.runAfter(delay, JobDiagnostics.failingJob, .init(tag: run.tag))
                case let other: throw UserError("unknown job kind \(other)")
                }
            }
        }

        /// Schedules a run and then throws: the job must never exist.
        functions.mutation(JobDiagnostics.scheduleThenFail) { ctx, args in
            try ctx.scheduler.runAfter(0, JobDiagnostics.recordRun, .init(tag: args.tag, counter: "rolledBack"))
            throw UserError("failing on purpose after scheduling")
        }

        functions.mutation(JobDiagnostics.cancelJob) { ctx, args in
            try ctx.scheduler.cancel(args.id)
            return Nothing()
        }

        /// A job's `_scheduled_functions` document (what a client subscribes to for its status).
        functions.query(JobDiagnostics.job) { ctx, args in try ctx.db.system.get(args.id.rawValue) }

        /// The states of the given jobs, counted, with the errors of failed ones.
        functions.query(JobDiagnostics.jobStatesOf) { ctx, args in
            var states = JobDiagnostics.JobStates(counts: [:], errors: [])
            for id in args.ids {
                let job = try ctx.db.system.get(id.rawValue).flatMap(ScheduledJob.init)
                states.counts[job?.state.rawValue ?? "missing", default: 0] += 1
                if let error = job?.error { states.errors.append(error) }
            }
            return states
        }

        /// The test cron's jobs (scheduled time and state) and its recorded runs, read in one
        /// snapshot: a job's success and its run commit together, so the two must agree.
        functions.query(JobDiagnostics.cronStats) { ctx, _ in
            // Through the index: a long chaos run schedules more jobs than one query may read.
            let jobs = try ctx.db.system.query("_scheduled_functions")
                .withIndex("by_name_time") { $0.eq("name", JobDiagnostics.recordCronRun.path) }
                .take(20_000)
                .compactMap(ScheduledJob.init)
            let runs = try ctx.db.query(JobRun.self).withIndex("by_tag") { $0.gte(\.tag, "cron-").lt(\.tag, "cron.") }.take(20_000)
            return .init(jobs: jobs.map { .init(scheduledTime: $0.scheduledTime, state: $0.state.rawValue) }, runs: runs.count)
        }

        /// Who holds the scheduler lease, until when.
        functions.query(JobDiagnostics.schedulerLease) { ctx, _ in try ctx.db.system.query("_scheduler_lease").first() }

        /// How often the jobs tagged `prefix-…` ran: the counter, the runs and any tag seen twice.
        functions.query(JobDiagnostics.runStats) { ctx, args in
            let runs = try ctx.db.query(JobRun.self)
                .withIndex("by_tag") { $0.gte(\.tag, "\(args.prefix)-").lt(\.tag, "\(args.prefix).") }
                .take(20_000)
            var seen = Set<String>()
            let duplicates = runs.map(\.record.tag).filter { !seen.insert($0).inserted }
            let counter = try ctx.db.query(Counter.self).withIndex("by_name") { $0.eq(\.name, args.prefix) }.first()
            return .init(counter: counter?.value ?? 0, runs: runs.count, distinct: seen.count, duplicates: duplicates)
        }

        functions.internalMutation(JobDiagnostics.recordRun) { ctx, args in
            try recordRun(ctx, tag: args.tag, counter: args.counter)
        }

        functions.internalAction(JobDiagnostics.recordRunAction) { ctx, args in
            try await ctx.runMutation(JobDiagnostics.recordRun, .init(tag: args.tag, counter: args.counter))
            guard (0...600_000).contains(args.sleepMs) else { throw UserError("Argument `sleepMs` is \(args.sleepMs), expected 0 to 600000") }
            if args.sleepMs > 0 { try await Task.sleep(for: .milliseconds(args.sleepMs)) }
            return Nothing()
        }

        functions.internalMutation(JobDiagnostics.failingJob) { _, args in
            throw UserError("job \(args.tag) failed on purpose")
        }

        /// The test cron (`CHAT_TEST_CRON=1`): one run recorded per period.
        functions.internalMutation(JobDiagnostics.recordCronRun) { ctx, _ in
            try recordRun(ctx, tag: "cron-\(Int64(ctx.now))", counter: "cron")
        }
    }

    private static func recordRun(_ ctx: MutationContext, tag: String, counter: String) throws -> Nothing {
        try ctx.db.insert(JobRun(tag: tag, at: ctx.now))
        try increment(ctx.db, counter: counter)
        return Nothing()
    }

    /// Adds one to the counter `name`, creating it at 1.
    static func increment(_ db: DatabaseWriter, counter name: String) throws {
        if let existing = try db.query(Counter.self).withIndex("by_name", { $0.eq(\.name, name) }).first() {
            try db.patch(existing.id, ["value": existing.value + 1])
        } else {
            try db.insert(Counter(name: name, value: 1))
        }
    }
}
