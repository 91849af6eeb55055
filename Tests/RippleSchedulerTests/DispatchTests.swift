import Foundation
import RippleEngine
import RippleScheduler
import RippleTestSupport
import RippleValues
import Testing

/// The dispatch loop end to end: how often it reads the pending jobs, and in what order it
/// starts them while it hands them out from memory.
@Suite(.serialized) struct DispatchTests {
    private static func pagesRead(_ h: SchedulerHarness) async -> Int64 {
        await h.schedulers[0].status()["jobPagesRead"]?.intValue ?? -1
    }

    @Test func aBacklogIsReadAboutOncePerPageOfJobsNotOncePerFinishedJob() async throws {
        let h = try SchedulerHarness()
        h.startScheduler()
        let at = Date().timeIntervalSince1970 * 1000 + 300
        _ = try await h.mutation("jobs:scheduleMany", ["prefix": "backlog", "count": 1_000, "at": .float64(at)])
        try await eventually("1,000 runs", timeout: .seconds(60)) {
            (try await h.query("jobs:allRuns").arrayValue?.count ?? 0) >= 1_000
        }
        // Pages of 4 × (32 + 16) = 192 rows: one read before the jobs are due, then one per page
        // of them — about 8. Re-reading the first page after every finished job read more than
        // 1,000 (once per job, up to 16 pages each).
        let pages = await Self.pagesRead(h)
        #expect((1...12).contains(pages), "\(pages) pages read for 1,000 jobs")
        await h.stop()
    }

    /// The jobs app plus `gated:run`, an action held by `gate`, and `gated:schedule`, which
    /// schedules one at `at`.
    private static func gatedApp(_ gate: ActionGate) -> App {
        var f = jobsApp().functions
        f.internalAction("gated:run", args: ["tag": v.string()]) { _, args in
            await gate.pass(try args.string("tag"))
            return Value.null
        }
        f.mutation("gated:schedule", args: ["tag": v.string(), "at": v.number()]) { ctx, args in
            try ctx.scheduler.runAt(try args.double("at"), "gated:run", ["tag": args["tag"]!])
        }
        return App(schema: jobsApp().schema, functions: f)
    }

    @Test func aJobComingDueWhileEverySlotIsFullDoesNotSpinTheLoop() async throws {
        let gate = ActionGate()
        let h = try SchedulerHarness(app: Self.gatedApp(gate))
        h.startScheduler {
            $0.maxRunningMutations = 0
            $0.maxRunningActions = 1
        }
        let at = Date().timeIntervalSince1970 * 1000
        _ = try await h.mutation("gated:schedule", ["tag": "first", "at": .float64(at)])
        try await gate.waitUntilEntered(1)
        _ = try await h.mutation("gated:schedule", ["tag": "second", "at": .float64(at + 200)])
        // The second comes due while the only slot is taken: nothing can start until it frees.
        try await Task.sleep(for: .milliseconds(300))
        let passesBefore = await h.schedulers[0].status()["dispatchPasses"]?.intValue ?? 0
        // A window, not a condition: what is measured is how often the loop looks meanwhile.
        try await Task.sleep(for: .milliseconds(500))
        let passes = (await h.schedulers[0].status()["dispatchPasses"]?.intValue ?? 0) - passesBefore
        // Without a ring the loop looks once a second; waiting for the past due time spun it.
        #expect(passes <= 2, "\(passes) dispatch passes in 500 ms")
        await gate.open(2)
        try await gate.waitUntilEntered(2)
        await h.stop()
    }

    @Test func aJobScheduledBeforeTheQueuedBacklogStartsAsSoonAsASlotFrees() async throws {
        let gate = ActionGate()
        let h = try SchedulerHarness(app: Self.gatedApp(gate))
        h.startScheduler()
        let at = Date().timeIntervalSince1970 * 1000
        for i in 0..<40 {
            _ = try await h.mutation("gated:schedule", ["tag": .string("backlog-\(i)"), "at": .float64(at)])
        }
        // The 16 action slots are full; the other 24 are queued in memory (once the read after the
        // last insert has returned).
        try await gate.waitUntilEntered(16)
        try await eventually("24 jobs queued") { await h.schedulers[0].status()["queuedJobs"]?.intValue == 24 }
        let pagesBefore = await Self.pagesRead(h)
        _ = try await h.mutation("gated:schedule", ["tag": "early", "at": .float64(at - 1_000)])
        try await eventually("the insert's read") { await Self.pagesRead(h) > pagesBefore }
        // One slot frees: the job due first takes it, not the head of the stale queue.
        await gate.open(1)
        try await gate.waitUntilEntered(17)
        let started = await gate.entered
        #expect(started[16] == "early", "\(started)")
        await gate.open(41)
        try await eventually("all 41 actions ran") { await gate.entered.count == 41 }
        await h.stop()
    }
}

/// Holds every action that passes it until `open` lets that many through, recording the order
/// they arrived in.
private actor ActionGate {
    private(set) var entered: [String] = []
    private var permits = 0
    private var held: [CheckedContinuation<Void, Never>] = []

    func pass(_ tag: String) async {
        entered.append(tag)
        if permits > 0 {
            permits -= 1
            return
        }
        await withCheckedContinuation { held.append($0) }
    }

    func open(_ count: Int) {
        permits += count
        while permits > 0, !held.isEmpty {
            permits -= 1
            held.removeFirst().resume()
        }
    }

    func waitUntilEntered(_ count: Int) async throws {
        try await eventually("\(count) actions started") { entered.count >= count }
    }
}
