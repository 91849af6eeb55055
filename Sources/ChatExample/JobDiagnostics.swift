import Foundation
import Ripple

extension ChatApp {
    /// Functions the scheduler tests drive through the official client: schedule batches of
    /// jobs that record each run under a unique tag, so a test can count runs per job.
    static func registerJobDiagnostics(_ functions: inout FunctionRegistry) {
        /// Schedules `count` jobs tagged `prefix-0` … `prefix-(count-1)`, due after `delayMs`,
        /// spread evenly over the following `spreadMs`. `kind`: "mutation" (records its run),
        /// "action" (records its run through a mutation, then works for `sleepMs`), "failing" (throws).
        functions.mutation(
            "diagnostics:scheduleRuns",
            args: [
                "prefix": v.string(), "count": v.number(), "delayMs": v.number(), "kind": v.string(), "sleepMs": v.optional(v.number()),
                "spreadMs": v.optional(v.number()),
            ]
        ) { ctx, args in
            let prefix = try args.string("prefix")
            let count = try args.int("count", in: 0...10_000)
            let sleepMs = args["sleepMs"]?.doubleValue ?? 0
            let spread = args["spreadMs"]?.doubleValue ?? 0
            var ids: [Value] = []
            for i in 0..<count {
                let delay = try args.double("delayMs") + spread * Double(i) / Double(max(1, count))
                let tag = Value.string("\(prefix)-\(i)")
                let id: String
                switch try args.string("kind") {
                case "mutation": id = try ctx.scheduler.runAfter(delay, "diagnostics:recordRun", ["tag": tag, "counter": .string(prefix)])
                case "action":
                    id = try ctx.scheduler.runAfter(
                        delay, "diagnostics:recordRunAction", ["tag": tag, "counter": .string(prefix), "sleepMs": .float64(sleepMs)])
                case "failing": id = try ctx.scheduler.runAfter(delay, "diagnostics:failingJob", ["tag": tag])
                case let other: throw UserError("unknown job kind \(other)")
                }
                ids.append(.string(id))
            }
            return Value.array(ids)
        }

        /// Schedules a run and then throws: the job must never exist.
        functions.mutation("diagnostics:scheduleThenFail", args: ["tag": v.string()]) { ctx, args -> Value in
            try ctx.scheduler.runAfter(0, "diagnostics:recordRun", ["tag": .string(try args.string("tag")), "counter": "rolledBack"])
            throw UserError("failing on purpose after scheduling")
        }

        functions.mutation("diagnostics:cancelJob", args: ["id": v.id("_scheduled_functions")]) { ctx, args in
            try ctx.scheduler.cancel(try args.string("id"))
            return Value.null
        }

        /// A job's `_scheduled_functions` document (what a client subscribes to for its status).
        functions.query("diagnostics:job", args: ["id": v.id("_scheduled_functions")]) { ctx, args -> Document? in
            try ctx.db.system.get(try args.string("id"))
        }

        /// The states of the given jobs, counted, with the errors of failed ones.
        functions.query("diagnostics:jobStatesOf", args: ["ids": v.array(v.id("_scheduled_functions"))]) { ctx, args in
            var counts: [String: Double] = [:]
            var errors: [Value] = []
            for id in args["ids"]?.arrayValue ?? [] {
                let job = try ctx.db.system.get(id.stringValue ?? "")
                let state = job?["state"]?["kind"]?.stringValue ?? "missing"
                counts[state, default: 0] += 1
                if let error = job?["state"]?["error"] { errors.append(error) }
            }
            return ["counts": .object(counts.mapValues { .float64($0) }), "errors": .array(errors)] as Value
        }

        /// The test cron's jobs (scheduled time and state) and its recorded runs, read in one
        /// snapshot: a job's success and its run commit together, so the two must agree.
        functions.query("diagnostics:cronStats") { ctx, _ in
            let jobs = try ctx.db.system.query("_scheduled_functions")
                .filter { $0["name"] == "diagnostics:recordCronRun" }
                .take(20_000)
            let runs = try ctx.db.query("jobRuns").withIndex("by_tag") { $0.gte("tag", "cron-").lt("tag", "cron.") }.take(20_000)
            return [
                "jobs": .array(jobs.map { ["scheduledTime": $0["scheduledTime"] ?? .null, "state": $0["state"]?["kind"] ?? .null] }),
                "runs": .float64(Double(runs.count)),
            ] as Value
        }

        /// Who holds the scheduler lease, until when.
        functions.query("diagnostics:schedulerLease") { ctx, _ -> Document? in
            try ctx.db.system.query("_scheduler_lease").first()
        }

        /// How often the jobs tagged `prefix-…` ran: the counter, the runs and any tag seen twice.
        functions.query("diagnostics:runStats", args: ["prefix": v.string()]) { ctx, args in
            let prefix = try args.string("prefix")
            let runs = try ctx.db.query("jobRuns")
                .withIndex("by_tag") { $0.gte("tag", "\(prefix)-").lt("tag", "\(prefix).") }
                .take(20_000)
            var seen = Set<String>()
            var duplicates: [Value] = []
            for run in runs {
                let tag = run["tag"]?.stringValue ?? ""
                if !seen.insert(tag).inserted { duplicates.append(.string(tag)) }
            }
            let counter = try ctx.db.query("counters").withIndex("by_name") { $0.eq("name", prefix) }.first()
            return [
                "counter": counter?["value"] ?? 0, "runs": .float64(Double(runs.count)), "distinct": .float64(Double(seen.count)),
                "duplicates": .array(duplicates),
            ] as Value
        }

        functions.internalMutation("diagnostics:recordRun", args: ["tag": v.string(), "counter": v.string()]) { ctx, args in
            try recordRun(ctx, tag: try args.string("tag"), counter: try args.string("counter"))
        }

        functions.internalAction(
            "diagnostics:recordRunAction", args: ["tag": v.string(), "counter": v.string(), "sleepMs": v.number()]
        ) { ctx, args in
            _ = try await ctx.runMutation("diagnostics:recordRun", ["tag": args["tag"]!, "counter": args["counter"]!])
            let sleepMs = try args.int("sleepMs", in: 0...600_000)
            if sleepMs > 0 { try await Task.sleep(for: .milliseconds(sleepMs)) }
            return Value.null
        }

        functions.internalMutation("diagnostics:failingJob", args: ["tag": v.string()]) { _, args -> Value in
            throw UserError("job \(try args.string("tag")) failed on purpose")
        }

        /// The test cron (`CHAT_TEST_CRON=1`): one run recorded per period.
        functions.internalMutation("diagnostics:recordCronRun") { ctx, _ in
            try recordRun(ctx, tag: "cron-\(Int64(ctx.now))", counter: "cron")
        }
    }

    private static func recordRun(_ ctx: MutationContext, tag: String, counter: String) throws -> Value {
        try ctx.db.insert("jobRuns", ["tag": .string(tag), "at": .float64(ctx.now)])
        if let existing = try ctx.db.query("counters").withIndex("by_name", { $0.eq("name", counter) }).first() {
            try ctx.db.patch(existing.id, ["value": .float64((existing["value"]?.doubleValue ?? 0) + 1)])
        } else {
            try ctx.db.insert("counters", ["name": .string(counter), "value": 1])
        }
        return Value.null
    }
}
