import Foundation
import Logging
import RippleBenchApp
import RippleEngine
import RippleScheduler
import RippleValues

/// How fast scheduled jobs start and run on one node (as in `chat dev`), against the same
/// mutation called directly in the same run:
/// - start latency: `runAfter(0)` on an idle node, from the scheduling commit to the job's
///   completion, vs one direct call of the job's mutation (ratio);
/// - throughput: `count` jobs due at the same instant, jobs/s vs the same number of direct calls
///   from 32 concurrent callers (ratio).
struct SchedulerBenchmark {
    var samples = 200
    var count = 10_000
    /// The scheduler's `maxRunningMutations` (its default unless given), to measure the window.
    var mutationSlots: Int?

    func run() async throws {
        let directory = NSTemporaryDirectory() + "ripple-bench-scheduler-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var options = EngineOptions()
        options.logger.logLevel = .warning
        let engine = try Engine.open(path: directory + "/ripple.sqlite3", app: Self.app, options: options)
        defer { engine.close() }
        var logger = Logger(label: "bench.scheduler")
        logger.logLevel = .warning
        var configuration = SchedulerService.Configuration(nodeID: "bench")
        if let mutationSlots { configuration.maxRunningMutations = mutationSlots }
        let service = SchedulerService(engine: engine, configuration: configuration, logger: logger)
        let runner = Task { await service.run() }
        defer { runner.cancel() }
        try await waitForLease(engine)

        // Latency: one at a time on an idle node.
        var direct: [Double] = []
        var scheduled: [Double] = []
        for i in 0..<samples {
            let started = ContinuousClock.now
            _ = try await engine.mutation("bench:record", ["tag": .string("direct-\(i)")], caller: .server)
            direct.append(Self.milliseconds(ContinuousClock.now - started))
            let scheduling = try await engine.mutation("bench:schedule", ["tag": .string("job-\(i)")])
            let id = scheduling.value.stringValue!
            let job = try await waitForCompletion(engine, id)
            scheduled.append(job.completed - job.scheduledTime)
        }
        direct.sort()
        scheduled.sort()
        print("start latency, \(samples) samples: runAfter(0) commit → job done p50 \(Self.format(scheduled[samples / 2])) ms, p99 \(Self.format(scheduled[samples * 99 / 100])) ms")
        print("  baseline: direct call of the job's mutation p50 \(Self.format(direct[samples / 2])) ms, p99 \(Self.format(direct[samples * 99 / 100])) ms")
        print("  ratio (job / direct), p50: \(Self.format(scheduled[samples / 2] / direct[samples / 2]))×")
        BenchReport.metric("scheduler_run_after_0_p50", scheduled[samples / 2], "ms")
        BenchReport.metric("scheduler_run_after_0_p99", scheduled[samples * 99 / 100], "ms")
        BenchReport.metric("scheduler_direct_p50", direct[samples / 2], "ms")

        // Throughput: `count` direct calls from 32 callers, then `count` jobs due at once.
        let directStarted = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for caller in 0..<32 {
                group.addTask {
                    for i in stride(from: caller, to: count, by: 32) {
                        _ = try await engine.mutation("bench:record", ["tag": .string("bulk-direct-\(i)")], caller: .server)
                    }
                }
            }
            try await group.waitForAll()
        }
        let directSeconds = Self.milliseconds(ContinuousClock.now - directStarted) / 1000
        let at = Date().timeIntervalSince1970 * 1000 + 500
        var ids: [String] = []
        for batch in stride(from: 0, to: count, by: 1_000) {
            let result = try await engine.mutation(
                "bench:scheduleMany", ["from": .float64(Double(batch)), "count": .float64(Double(min(1_000, count - batch))), "at": .float64(at)])
            ids += (result.value.arrayValue ?? []).compactMap(\.stringValue)
        }
        var lastCompletion = 0.0
        for id in ids { lastCompletion = max(lastCompletion, try await waitForCompletion(engine, id).completed) }
        let jobSeconds = (lastCompletion - at) / 1000
        let directRate = Double(count) / directSeconds
        let jobRate = Double(count) / jobSeconds
        print("throughput, \(count) jobs due at one instant: \(Int(jobRate)) jobs/s (first due → last done \(Self.format(jobSeconds)) s)")
        print("  baseline: \(count) direct calls from 32 callers: \(Int(directRate)) mutations/s")
        print("  ratio (jobs / direct): \(Self.format(jobRate / directRate))×")
        BenchReport.metric("scheduler_jobs_rate", jobRate, "jobs/s")
        BenchReport.metric("scheduler_direct_rate", directRate, "mutations/s")
        BenchReport.bench("scheduler_jobs_vs_direct", jobRate / directRate, "x", target: 0.5, atLeast: true)
    }

    private func waitForLease(_ engine: Engine) async throws {
        while try await engine.query("bench:lease", caller: .server).value.isNull { try await Task.sleep(for: .milliseconds(5)) }
    }

    /// Polls the job until it is done; returns its scheduled and completion times (ms).
    private func waitForCompletion(_ engine: Engine, _ id: String) async throws -> (scheduledTime: Double, completed: Double) {
        while true {
            let job = try await engine.query("bench:job", ["id": .string(id)], caller: .server).value
            if let completed = job["completedTime"]?.doubleValue, let scheduledTime = job["scheduledTime"]?.doubleValue {
                return (scheduledTime, completed)
            }
            try await Task.sleep(for: .milliseconds(1))
        }
    }

    private static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }

    private static func format(_ value: Double) -> String { String(format: "%.2f", value) }

    static let app: App = {
        var f = FunctionRegistry()
        f.internalMutation("bench:record", args: ["tag": v.string()]) { ctx, args in try ctx.db.insert("runs", ["tag": args["tag"]!]) }
        f.mutation("bench:schedule", args: ["tag": v.string()]) { ctx, args in
            try ctx.scheduler.runAfter(0, "bench:record", ["tag": args["tag"]!])
        }
        f.mutation("bench:scheduleMany", args: ["from": v.number(), "count": v.number(), "at": v.number()]) { ctx, args in
            let from = Int(try args.double("from"))
            return try (from..<(from + Int(try args.double("count")))).map { i in
                Value.string(try ctx.scheduler.runAt(try args.double("at"), "bench:record", ["tag": .string("bulk-job-\(i)")]))
            }
        }
        f.query("bench:job", args: ["id": v.id("_scheduled_functions")]) { ctx, args -> Document? in try ctx.db.system.get(try args.string("id")) }
        f.query("bench:lease") { ctx, _ -> Document? in try ctx.db.system.query("_scheduler_lease").first() }
        return App(schema: Schema([TableDefinition("runs", ["tag": v.string()])]), functions: f)
    }()
}
