import Foundation
import Logging
import RippleCron
import RippleEngine
import RippleScheduler
import RippleTestSupport
import RippleValues
import Testing

/// A small app whose jobs record each run under a tag, so tests can count runs per job.
func jobsApp(crons: Crons = Crons()) -> App {
    let schema = Schema([
        TableDefinition("runs", ["tag": v.string()]).index("by_tag", ["tag"]),
    ])
    var f = FunctionRegistry()
    f.mutation("jobs:schedule", args: ["tag": v.string(), "delayMs": v.number()]) { ctx, args in
        try ctx.scheduler.runAfter(try args.double("delayMs"), "jobs:record", ["tag": args["tag"]!])
    }
    f.mutation("jobs:scheduleMany", args: ["prefix": v.string(), "count": v.number(), "at": v.number()]) { ctx, args in
        for i in 0..<Int(try args.double("count")) {
            try ctx.scheduler.runAt(try args.double("at"), "jobs:record", ["tag": .string("\(try args.string("prefix"))-\(i)")])
        }
        return Value.null
    }
    f.mutation("jobs:scheduleThenFail", args: ["tag": v.string()]) { ctx, args -> Value in
        try ctx.scheduler.runAfter(0, "jobs:record", ["tag": args["tag"]!])
        throw UserError("rolled back on purpose")
    }
    f.mutation("jobs:scheduleTarget", args: ["path": v.string(), "args": v.any()]) { ctx, args in
        try ctx.scheduler.runAfter(0, try args.string("path"), args["args"]!.objectValue ?? [:])
    }
    f.mutation("jobs:cancel", args: ["id": v.id("_scheduled_functions")]) { ctx, args in
        try ctx.scheduler.cancel(try args.string("id"))
        return Value.null
    }
    f.mutation("jobs:writeSystemTable") { ctx, _ in
        try ctx.db.insert("_scheduled_functions", ["name": "x"])
    }
    f.query("jobs:job", args: ["id": v.id("_scheduled_functions")]) { ctx, args -> Document? in
        try ctx.db.system.get(try args.string("id"))
    }
    f.query("jobs:queryWithoutSystem") { ctx, _ in try ctx.db.query("_scheduled_functions").take(1) }
    f.query("jobs:runs", args: ["tag": v.string()]) { ctx, args in
        Value.float64(Double(try ctx.db.query("runs").withIndex("by_tag") { $0.eq("tag", args["tag"]!) }.take(100).count))
    }
    f.query("jobs:allRuns") { ctx, _ in try ctx.db.query("runs").take(10_000).compactMap { $0["tag"]?.stringValue } }
    f.internalMutation("jobs:record", args: ["tag": v.string()]) { ctx, args in
        try ctx.db.insert("runs", ["tag": args["tag"]!])
    }
    f.internalMutation("jobs:failAfterWriting", args: ["tag": v.string()]) { ctx, args -> Value in
        try ctx.db.insert("runs", ["tag": args["tag"]!])
        throw UserError("job failed on purpose")
    }
    f.internalAction("jobs:recordFromAction", args: ["tag": v.string()]) { ctx, args in
        try await ctx.runMutation("jobs:record", ["tag": args["tag"]!])
    }
    f.internalAction("jobs:failingAction") { _, _ -> Value in throw UserError("action failed on purpose") }
    f.internalAction("jobs:slowAction", args: ["tag": v.string()]) { ctx, args in
        try await Task.sleep(for: .seconds(30))
        return try await ctx.runMutation("jobs:record", ["tag": args["tag"]!])
    }
    f.internalAction("jobs:scheduleFromAction", args: ["tag": v.string()]) { ctx, args in
        try await ctx.scheduler.runAfter(0, "jobs:record", ["tag": args["tag"]!])
    }
    f.query("jobs:aQuery") { _, _ in Value.null }
    f.action("jobs:actionCallsSystem") { ctx, _ in
        try await ctx.runMutation(SchedulerFunctions.acquireLease, ["holder": "app", "durationMs": 1e12])
    }
    f.query("jobs:lease") { ctx, _ -> Document? in try ctx.db.system.query("_scheduler_lease").first() }
    f.query("jobs:cronJobs") { ctx, _ in try ctx.db.system.query("_cron_jobs").collect() }
    f.query("jobs:jobsNamed", args: ["name": v.string()]) { ctx, args in
        try ctx.db.system.query("_scheduled_functions").filter { $0["name"] == args["name"] }.collect()
    }
    return App(schema: schema, functions: f, crons: crons)
}

/// A writer engine on `app`, with a scheduler service running on it (as `chat dev` does).
final class SchedulerHarness: @unchecked Sendable {
    let directory = TemporaryDirectory()
    let engine: Engine
    private var services: [Task<Void, Never>] = []
    /// The schedulers started, in order, for tests that read their `status()`.
    private(set) var schedulers: [SchedulerService] = []

    init(app: App = jobsApp(), options: EngineOptions = EngineOptions()) throws {
        engine = try Engine.open(path: directory.database, app: app, options: options)
    }

    /// Starts a scheduler with its own lease holder; cancel the returned task to stop it.
    @discardableResult
    func startScheduler(
        nodeID: String = "test", lease: Duration = .seconds(2), actionTimeout: Duration = .seconds(600), logger: Logger? = nil,
        configure: (inout SchedulerService.Configuration) -> Void = { _ in }
    ) -> Task<Void, Never> {
        var configuration = SchedulerService.Configuration(nodeID: nodeID)
        configuration.leaseDuration = lease
        configuration.actionTimeout = actionTimeout
        configure(&configuration)
        var quiet = Logger(label: "test.scheduler")
        quiet.logLevel = .warning
        let logger = logger ?? quiet
        let service = SchedulerService(engine: engine, configuration: configuration, logger: logger)
        let task = Task { await service.run() }
        services.append(task)
        schedulers.append(service)
        return task
    }

    /// Cancels every scheduler and waits for each to return; one that never does stops the test
    /// process saying so (awaited unbounded, it would hang the run past every time limit).
    func stop() async {
        for task in services {
            task.cancel()
            // Its own task, so that the test's cancellation cannot cut the wait short.
            let stopped = Task { try await boundedResult(of: task, "a scheduler returns after its cancellation") }
            if case .failure(let timedOut) = await stopped.result { fatalError("\(timedOut)") }
        }
        services = []
        engine.close()
    }

    func mutation(_ path: String, _ args: [String: Value] = [:]) async throws -> Value {
        try await engine.mutation(path, args).value
    }

    func query(_ path: String, _ args: [String: Value] = [:]) async throws -> Value {
        try await engine.query(path, args).value
    }

    /// Calls one of the scheduler's system mutations as the scheduler does.
    func system(_ path: String, _ args: [String: Value]) async throws -> Value {
        try await engine.mutation(path, args, caller: .system).value
    }

    func leaseHolder() async throws -> String? {
        try await query("jobs:lease")["holder"]?.stringValue
    }

    func job(_ id: String) async throws -> Value {
        try await query("jobs:job", ["id": .string(id)])
    }

    func state(_ id: String) async throws -> String? {
        try await job(id)["state"]?["kind"]?.stringValue
    }
}
