import Foundation
import RippleCron
import RippleEngine
import RippleScheduler
import RippleTestSupport
import RippleValues
import Testing

@Suite(.serialized) struct CronRunTests {
    private func cronApp() throws -> App {
        var crons = Crons()
        try crons.interval("tick", seconds: 1, "jobs:record", ["tag": "tick"])
        try crons.daily("morning", hourUTC: 6, minuteUTC: 0, "jobs:record", ["tag": "morning"])
        return jobsApp(crons: crons)
    }

    /// The `tick` cron's jobs: one per period the cron fired, whether or not it has run yet.
    private func tickJobs(_ h: SchedulerHarness) async throws -> [Value] {
        try await h.query("jobs:jobsNamed", ["name": "jobs:record"]).arrayValue!.filter { $0["args"] == [["tag": "tick"]] }
    }

    private func cronRunTimes(_ h: SchedulerHarness) async throws -> [Double] {
        try await tickJobs(h).compactMap { $0["scheduledTime"]?.doubleValue }
    }

    @Test func cronsAreSyncedAndRunOncePerPeriodAcrossARestart() async throws {
        let h = try SchedulerHarness(app: try cronApp())
        let first = h.startScheduler(nodeID: "one")
        // At least three: under the whole suite's load a poll can take longer than a tick, and
        // waiting for exactly 3 can miss it. Alone this takes about 3 s; it timed out at 10 s in
        // two full-suite runs on a loaded machine (load average 12-30), so 30 s.
        try await eventually("three tick runs", timeout: .seconds(30)) { (try await h.query("jobs:runs", ["tag": "tick"]).doubleValue ?? 0) >= 3 }
        let cronJobs = try await h.query("jobs:cronJobs").arrayValue!
        #expect(Set(cronJobs.compactMap { $0["name"]?.stringValue }) == ["tick", "morning"])
        let morning = cronJobs.first { $0["name"] == "morning" }!
        #expect(morning["nextRun"]!.doubleValue!.truncatingRemainder(dividingBy: 86_400_000) == 6 * 3_600_000)

        // Down for a while: the periods missed meanwhile collapse into one run on recovery.
        first.cancel()
        try await boundedValue(of: first, "the first scheduler returns after its cancellation")
        let stoppedWith = try await cronRunTimes(h).count
        try await Task.sleep(for: .milliseconds(2_500))
        h.startScheduler(nodeID: "two")
        // As long as the first wait: the new scheduler first waits out the old lease, then syncs.
        try await eventually("two more tick runs", timeout: .seconds(30)) { try await self.cronRunTimes(h).count >= stoppedWith + 2 }
        await h.stop()

        let times = try await cronRunTimes(h).sorted()
        #expect(Set(times).count == times.count, "a period ran twice: \(times)")
        for time in times { #expect(time.truncatingRemainder(dividingBy: 1_000) == 0, "runs are on the 1 s grid") }
        let gaps = zip(times, times.dropFirst()).map { $1 - $0 }
        #expect(gaps.filter { $0 > 1_000 }.count >= 1, "the downtime leaves a gap: \(gaps)")
        // A stop can fall between a cron firing (its job inserted) and the job running, so the
        // last job may still be pending: count runs against the jobs that succeeded.
        let states = try await tickJobs(h).map { $0["state"]?["kind"]?.stringValue ?? "?" }
        #expect(states.allSatisfy { $0 == "success" || $0 == "pending" }, "\(states)")
        let tickRuns = try await h.query("jobs:runs", ["tag": "tick"]).doubleValue
        #expect(tickRuns == Double(states.filter { $0 == "success" }.count))
    }

    @Test func staleCronRunIsSkipped() async throws {
        let h = try SchedulerHarness(app: try cronApp())
        _ = try await h.system(SchedulerFunctions.acquireLease, ["holder": "s", "durationMs": 60_000])
        let crons = h.engine.app.crons.jobs.map { job -> Value in
            ["name": .string(job.name), "schedule": job.schedule.value, "functionPath": .string(job.functionPath), "args": .object(job.args)]
        }
        let synced = try await h.system(SchedulerFunctions.syncCrons, ["holder": "s", "crons": .array(crons)])
        #expect(synced["added"] == 2)
        let again = try await h.system(SchedulerFunctions.syncCrons, ["holder": "s", "crons": .array(crons)])
        #expect(again["added"] == 0)
        #expect(again["changed"] == 0)
        let tick = try await h.query("jobs:cronJobs").arrayValue!.first { $0["name"] == "tick" }!
        let nextRun = tick["nextRun"]!
        let run = try await h.system(SchedulerFunctions.runCron, ["holder": "s", "name": "tick", "nextRun": nextRun])
        #expect(run["status"] == "done")
        // A retry of the same run (e.g. after a lost reply) finds nextRun moved on.
        let retry = try await h.system(SchedulerFunctions.runCron, ["holder": "s", "name": "tick", "nextRun": nextRun])
        #expect(retry["status"] == "skipped")
        let runTimes = try await cronRunTimes(h)
        #expect(runTimes == [nextRun.doubleValue!])
        // Removing a cron from the app removes it from `_cron_jobs`.
        let removed = try await h.system(SchedulerFunctions.syncCrons, ["holder": "s", "crons": .array(Array(crons.prefix(1)))])
        #expect(removed["removed"] == 1)
        await h.stop()
    }
}
