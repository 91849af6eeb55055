import Foundation
import RippleCron
import RippleEngine
import RippleScheduler
import RippleTestSupport
import RippleValues
import Testing

/// Scheduled functions end to end on one node: a writer engine with the scheduler service
/// running on it, as in `chat dev`.
@Suite(.serialized) struct ScheduledFunctionTests {
    @Test func runAfterZeroRunsOnceAfterTheMutationCommits() async throws {
        let h = try SchedulerHarness()
        h.startScheduler()
        let id = try await h.mutation("jobs:schedule", ["tag": "a", "delayMs": 0]).stringValue!
        // Scheduled in the mutation's transaction: the job exists as soon as the mutation returns.
        let job = try await h.job(id)
        #expect(job["name"] == "jobs:record")
        #expect(job["args"] == [["tag": "a"]])
        try await eventually("the job succeeded") { try await h.state(id) == "success" }
        let runs = try await h.query("jobs:runs", ["tag": "a"])
        #expect(runs == 1)
        let done = try await h.job(id)
        #expect(done["completedTime"]?.doubleValue != nil)
        #expect(done["completedTime"]!.doubleValue! >= done["scheduledTime"]!.doubleValue!)
        await h.stop()
    }

    @Test func rolledBackMutationSchedulesNothing() async throws {
        let h = try SchedulerHarness()
        h.startScheduler()
        do {
            _ = try await h.mutation("jobs:scheduleThenFail", ["tag": "never"])
            Issue.record("the mutation should have thrown")
        } catch let error as FunctionError {
            #expect(error.message.contains("rolled back on purpose"), "\(error.message)")
        }
        // A job scheduled afterwards runs; by then the rolled-back one would have run too.
        let later = try await h.mutation("jobs:schedule", ["tag": "after", "delayMs": 0]).stringValue!
        try await eventually("the later job succeeded") { try await h.state(later) == "success" }
        let rolledBackRuns = try await h.query("jobs:runs", ["tag": "never"])
        #expect(rolledBackRuns == 0)
        let states = try await h.engine.query(SchedulerFunctions.jobsInState, ["state": "success"], caller: .system).value["page"]!
        #expect(states.arrayValue?.count == 1)
        await h.stop()
    }

    @Test func canceledJobNeverRuns() async throws {
        let h = try SchedulerHarness()
        h.startScheduler()
        // Due in 2 s: time enough for the cancel to commit first even on a loaded machine.
        let id = try await h.mutation("jobs:schedule", ["tag": "canceled", "delayMs": 2_000]).stringValue!
        _ = try await h.mutation("jobs:cancel", ["id": .string(id)])
        let stateAfterCancel = try await h.state(id)
        #expect(stateAfterCancel == "canceled")
        let later = try await h.mutation("jobs:schedule", ["tag": "barrier", "delayMs": 2_200]).stringValue!
        try await eventually("the barrier job succeeded") { try await h.state(later) == "success" }
        let canceledRuns = try await h.query("jobs:runs", ["tag": "canceled"])
        #expect(canceledRuns == 0)
        let stateLater = try await h.state(id)
        #expect(stateLater == "canceled")
        // Canceling a finished job leaves it as it is.
        _ = try await h.mutation("jobs:cancel", ["id": .string(later)])
        let finishedState = try await h.state(later)
        #expect(finishedState == "success")
        await h.stop()
    }

    @Test func thousandJobsAtTheSameInstantRunExactlyOnce() async throws {
        let h = try SchedulerHarness()
        h.startScheduler()
        let at = Date().timeIntervalSince1970 * 1000 + 300
        _ = try await h.mutation("jobs:scheduleMany", ["prefix": "burst", "count": 1_000, "at": .float64(at)])
        try await eventually("1,000 runs", timeout: .seconds(60)) {
            (try await h.query("jobs:allRuns").arrayValue?.count ?? 0) >= 1_000
        }
        let tags = try await h.query("jobs:allRuns").arrayValue!.compactMap(\.stringValue)
        #expect(tags.count == 1_000)
        #expect(Set(tags).count == 1_000)
        let pending = try await h.engine.query(SchedulerFunctions.jobsInState, ["state": "pending"], caller: .system).value["page"]!
        #expect(pending.arrayValue?.count == 0)
        await h.stop()
    }

    @Test func failingMutationJobIsMarkedFailedAndLeavesNoWrites() async throws {
        let h = try SchedulerHarness()
        h.startScheduler()
        let id = try await h.mutation("jobs:scheduleTarget", ["path": "jobs:failAfterWriting", "args": ["tag": "f"]]).stringValue!
        try await eventually("the job failed") { try await h.state(id) == "failed" }
        let job = try await h.job(id)
        #expect(job["state"]?["error"]?.stringValue?.contains("job failed on purpose") == true, "\(job)")
        let runs = try await h.query("jobs:runs", ["tag": "f"])
        #expect(runs == 0)
        await h.stop()
    }

    @Test func actionJobsRunAndRecordTheirOutcome() async throws {
        let h = try SchedulerHarness()
        h.startScheduler()
        let ok = try await h.mutation("jobs:scheduleTarget", ["path": "jobs:recordFromAction", "args": ["tag": "act"]]).stringValue!
        let bad = try await h.mutation("jobs:scheduleTarget", ["path": "jobs:failingAction", "args": [:]]).stringValue!
        try await eventually("both actions finished") {
            let (first, second) = (try await h.state(ok), try await h.state(bad))
            return first == "success" && second == "failed"
        }
        let runs = try await h.query("jobs:runs", ["tag": "act"])
        #expect(runs == 1)
        let errorRecorded = try await h.job(bad)["state"]?["error"]?.stringValue?.contains("action failed on purpose") == true
        #expect(errorRecorded)
        await h.stop()
    }

    @Test func actionRunningPastItsTimeoutIsFailedAndCancelled() async throws {
        let h = try SchedulerHarness()
        h.startScheduler(actionTimeout: .milliseconds(300))
        let id = try await h.mutation("jobs:scheduleTarget", ["path": "jobs:slowAction", "args": ["tag": "slow"]]).stringValue!
        try await eventually("the slow action was failed") { try await h.state(id) == "failed" }
        let error = try await h.job(id)["state"]?["error"]?.stringValue ?? ""
        #expect(error.contains("timed out"), "\(error)")
        // Cancelled in its sleep, it never got to record its run.
        let runs = try await h.query("jobs:runs", ["tag": "slow"])
        #expect(runs == 0)
        await h.stop()
    }

    @Test func actionsScheduleThroughTheirOwnMutation() async throws {
        let h = try SchedulerHarness()
        h.startScheduler()
        let id = try await h.engine.action("jobs:scheduleFromAction", ["tag": "from-action"], caller: .server).stringValue!
        try await eventually("the job succeeded") { try await h.state(id) == "success" }
        let runs = try await h.query("jobs:runs", ["tag": "from-action"])
        #expect(runs == 1)
        await h.stop()
    }

    @Test func finishedJobsAreDeletedAfterTheRetentionPendingOnesNever() async throws {
        let h = try SchedulerHarness()
        h.startScheduler()
        let done = try await h.mutation("jobs:schedule", ["tag": "old", "delayMs": 0]).stringValue!
        try await eventually("the job succeeded") { try await h.state(done) == "success" }
        let waiting = try await h.mutation("jobs:schedule", ["tag": "later", "delayMs": 3_600_000]).stringValue!
        try await eventually("the scheduler holds the lease") { try await h.leaseHolder() != nil }
        let holder = try await h.leaseHolder()!
        let now = Date().timeIntervalSince1970 * 1000
        // Nothing finished before an hour ago.
        let none = try await h.system(SchedulerFunctions.deleteFinishedJobs, ["holder": .string(holder), "before": .float64(now - 3_600_000)])
        #expect(none["deleted"] == 0)
        let some = try await h.system(SchedulerFunctions.deleteFinishedJobs, ["holder": .string(holder), "before": .float64(now + 1_000)])
        #expect(some["deleted"] == 1)
        let gone = try await h.job(done)
        #expect(gone.isNull)
        let stillPending = try await h.state(waiting)
        #expect(stillPending == "pending")
        await h.stop()
    }

    @Test func schedulingMistakesFailAtSchedulingTime() async throws {
        let h = try SchedulerHarness()
        func message(_ path: String, _ args: Value) async -> String {
            do {
                _ = try await h.mutation("jobs:scheduleTarget", ["path": .string(path), "args": args])
                return "no error"
            } catch {
                return "\(error)"
            }
        }
        let unknown = await message("jobs:nope", [:])
        #expect(unknown.contains("Attempted to schedule function at nonexistent path: \"jobs:nope\""), "\(unknown)")
        let query = await message("jobs:aQuery", [:])
        #expect(query.contains("Only mutations and actions can be scheduled"), "\(query)")
        let badArgs = await message("jobs:record", ["tag": 5])
        #expect(badArgs.contains("ArgumentValidationError") && badArgs.contains("tag"), "\(badArgs)")
        let fromAction: String
        do {
            _ = try await h.engine.action("jobs:scheduleFromAction", ["tag": 1], caller: .server)
            fromAction = "no error"
        } catch {
            fromAction = "\(error)"
        }
        #expect(fromAction.contains("ArgumentValidationError"), "\(fromAction)")
        await h.stop()
    }

    @Test func functionsCannotWriteSystemTablesButCanReadThem() async throws {
        let h = try SchedulerHarness()
        do {
            _ = try await h.mutation("jobs:writeSystemTable")
            Issue.record("writing a system table should fail")
        } catch {
            #expect("\(error)".contains("is a system table"), "\(error)")
        }
        do {
            _ = try await h.query("jobs:queryWithoutSystem")
            Issue.record("db.query on a system table should fail")
        } catch {
            #expect("\(error)".contains("ctx.db.system.query"), "\(error)")
        }
        do {
            _ = try await h.engine.mutation(SchedulerFunctions.acquireLease, ["holder": "x", "durationMs": 1000])
            Issue.record("clients must not reach system functions")
        } catch {
            #expect("\(error)".contains("Could not find public function"), "\(error)")
        }
        do {
            _ = try await h.engine.mutation(SchedulerFunctions.acquireLease, ["holder": "x", "durationMs": 1000], identity: .admin(actingAs: nil))
            Issue.record("not even admins reach system functions")
        } catch {
            #expect("\(error)".contains("Could not find public function"), "\(error)")
        }
        do {
            _ = try await h.engine.action("jobs:actionCallsSystem")
            Issue.record("app code must not reach system functions")
        } catch {
            #expect("\(error)".contains("Could not find public function"), "\(error)")
        }
        await h.stop()
    }

    @Test func cronNamingAnUnknownFunctionFailsAtStartUp() throws {
        var crons = Crons()
        try crons.hourly("typo", minuteUTC: 5, "jobs:recrod")
        let directory = TemporaryDirectory()
        #expect {
            try Engine.open(path: directory.database, app: jobsApp(crons: crons))
        } throws: { error in
            "\(error)".contains("Cron job \"typo\"") && "\(error)".contains("jobs:recrod")
        }
    }
}
