import Foundation
import Logging
import RippleEngine
import RippleValues

/// The scheduler role: runs due scheduled functions and crons from this node's (replicated)
/// state, while it holds the scheduler lease.
///
/// Everything it changes goes through `_system/scheduler:` mutations on the writer, each
/// checking the job's state and the lease in its own transaction — so this loop may crash,
/// retry or race another scheduler at any point without running a mutation job twice or an
/// action job more than once. What it keeps in memory (jobs in flight) only avoids asking twice.
public actor SchedulerService {
    public struct Configuration: Sendable {
        /// This process's name in the lease: the node id plus a random suffix, so a restarted
        /// scheduler is a new holder and fails the actions its previous life left running.
        public var holder: String
        /// How long a granted lease lasts; it is renewed every third of that. A killed
        /// scheduler's jobs are taken over by another within about this long.
        public var leaseDuration: Duration = .seconds(5)
        /// Mutation jobs in flight at once (they group-commit on the writer).
        public var maxRunningMutations = 32
        /// Action jobs running at once on this node.
        public var maxRunningActions = 16

        public init(nodeID: String) {
            holder = "\(nodeID)-\(String(UInt64.random(in: 0...UInt64.max), radix: 36))"
        }
    }

    let engine: Engine
    let configuration: Configuration
    let logger: Logger
    private let doorbell = Doorbell()
    private let metrics = SchedulerMetrics()

    /// Until when (this node's clock) the lease is surely still ours; nil while not held.
    private var heldUntil: ContinuousClock.Instant?
    private var runningMutations: Set<String> = []
    private var runningActions: Set<String> = []
    private var runningCrons: Set<String> = []
    /// The holder we last saw refusing us, so the wait is logged once, not every poll.
    private var waitingOn: String?

    public init(engine: Engine, configuration: Configuration, logger: Logger) {
        self.engine = engine
        self.configuration = configuration
        self.logger = logger
    }

    /// Runs until cancelled; hands the lease back on the way out.
    public func run() async {
        watchCommits()
        logger.info("scheduler \(configuration.holder) starting; \(engine.app.crons.jobs.count) cron jobs defined")
        while !Task.isCancelled {
            guard await acquireLease() else { continue }
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.renewWhileHeld() }
                group.addTask { await self.dispatchWhileHeld() }
                await group.next()
                group.cancelAll()
            }
        }
        await releaseLease()
    }

    /// Rings the doorbell for every commit that touches jobs or crons.
    private nonisolated func watchCommits() {
        let engine = self.engine
        let doorbell = self.doorbell
        engine.onCommit { group in
            let jobs = engine.tableNumber(named: "_scheduled_functions")
            let crons = engine.tableNumber(named: "_cron_jobs")
            let relevant = group.mutations.contains { mutation in
                mutation.writes.documents.contains { $0.tableNumber == jobs || $0.tableNumber == crons }
            }
            if relevant { doorbell.ring() }
        }
    }

    // MARK: - The lease

    private var leaseMilliseconds: Double {
        let (seconds, attoseconds) = configuration.leaseDuration.components
        return Double(seconds) * 1000 + Double(attoseconds) / 1e15
    }

    private var isHeld: Bool {
        guard let heldUntil else { return false }
        return ContinuousClock.now < heldUntil
    }

    /// For `/health`: whether this node holds the lease and what it is running.
    public func status() -> JSON {
        .object([
            ("holder", .string(configuration.holder)), ("holdsLease", .bool(isHeld)),
            ("runningMutations", .int(Int64(runningMutations.count))), ("runningActions", .int(Int64(runningActions.count))),
        ])
    }

    /// Asks the writer for the lease (or renews it). On a takeover, fails the actions a dead
    /// scheduler left in progress and syncs the crons. Waits before returning false.
    private func acquireLease() async -> Bool {
        guard await requestLease() else {
            await waitForLease()
            return false
        }
        return true
    }

    private func requestLease() async -> Bool {
        let sent = ContinuousClock.now
        let reply: Value
        do {
            reply = try await engine.mutation(
                SchedulerFunctions.acquireLease,
                ["holder": .string(configuration.holder), "durationMs": .float64(leaseMilliseconds)], caller: .system
            ).value
        } catch {
            logger.warning("scheduler lease request failed: \(error.message)")
            return false
        }
        guard reply["granted"] == true else {
            heldUntil = nil
            metrics.leaseHeld.record(0)
            let holder = reply["holder"]?.stringValue ?? "?"
            if waitingOn != holder {
                logger.info("scheduler lease is held by \(holder); waiting")
                waitingOn = holder
            }
            leaseExpiresAt = reply["expiresAt"]?.doubleValue
            return false
        }
        waitingOn = nil
        // The writer's lease runs from its commit, which is after `sent`: ours ends no later.
        heldUntil = sent + configuration.leaseDuration - .milliseconds(50)
        metrics.leaseHeld.record(1)
        if reply["takeover"] == true {
            logger.info("scheduler lease acquired (epoch \(reply["epoch"]?.int64Value ?? 0))")
            await takeOver()
        }
        return isHeld
    }

    /// When the refused lease expires (writer's clock, ms), to sleep until then.
    private var leaseExpiresAt: Double?

    private func waitForLease() async {
        let third = configuration.leaseDuration / 3
        var wait = third
        if let expiresAt = leaseExpiresAt {
            let untilExpiry = Duration.milliseconds(max(10, Int64(expiresAt - Self.nowMilliseconds()) + 10))
            wait = min(third, untilExpiry)
        }
        try? await Task.sleep(for: wait)
    }

    private func renewWhileHeld() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: configuration.leaseDuration / 3)
            if Task.isCancelled { return }
            _ = await requestLease()
            if !isHeld {
                logger.warning("scheduler lease lost; no new jobs start until it is back")
                doorbell.ring()
                return
            }
        }
    }

    private func releaseLease() async {
        guard heldUntil != nil else { return }
        heldUntil = nil
        metrics.leaseHeld.record(0)
        _ = try? await engine.mutation(
            SchedulerFunctions.releaseLease, ["holder": .string(configuration.holder)], caller: .system)
        logger.info("scheduler lease released")
    }

    /// After taking the lease from another holder (or from an earlier life of this node).
    private func takeOver() async {
        do {
            // At most a batch per transaction; repeat until a batch comes back short.
            var batch = Double(SchedulerLimits.jobsPerExecution)
            while batch >= Double(SchedulerLimits.jobsPerExecution) {
                let failed = try await engine.mutation(
                    SchedulerFunctions.failAbandonedActions,
                    ["holder": .string(configuration.holder), "running": .array(runningActions.map { .string($0) })], caller: .system
                ).value
                batch = failed["failed"]?.doubleValue ?? 0
                if batch > 0 { logger.warning("marked \(Int(batch)) action jobs failed: their scheduler stopped while they ran") }
            }
            let crons = engine.app.crons.jobs.map { job -> Value in
                ["name": .string(job.name), "schedule": job.schedule.value, "functionPath": .string(job.functionPath), "args": .object(job.args)]
            }
            let synced = try await engine.mutation(
                SchedulerFunctions.syncCrons, ["holder": .string(configuration.holder), "crons": .array(crons)], caller: .system
            ).value
            logger.info(
                "cron jobs synced: \(Int(synced["added"]?.doubleValue ?? 0)) added, \(Int(synced["changed"]?.doubleValue ?? 0)) changed, \(Int(synced["removed"]?.doubleValue ?? 0)) removed"
            )
        } catch {
            logger.warning("scheduler takeover bookkeeping failed (retried at the next takeover): \(error.message)")
        }
    }

    // MARK: - Dispatch

    private static func nowMilliseconds() -> Double { Date().timeIntervalSince1970 * 1000 }

    /// Starts due jobs and crons while the lease is held; sleeps until the next one is due or a
    /// commit or finished job rings.
    private func dispatchWhileHeld() async {
        while isHeld && !Task.isCancelled {
            var nextDue = Self.nowMilliseconds() + 1_000
            do {
                nextDue = min(nextDue, try await startDueJobs())
                nextDue = min(nextDue, try await startDueCrons())
            } catch {
                logger.warning("scheduler could not read due jobs: \(error.message)")
            }
            let wait = max(0, nextDue - Self.nowMilliseconds())
            await doorbell.wait(upTo: .microseconds(Int64(wait * 1000)))
        }
    }

    /// Starts what is due and has room; returns when the earliest job not yet due is.
    private func startDueJobs() async throws(FunctionError) -> Double {
        let capacity = configuration.maxRunningMutations + configuration.maxRunningActions
        let reply = try await engine.query(
            SchedulerFunctions.jobsInState, ["state": "pending", "limit": .float64(Double(capacity * 4))], caller: .system
        ).value
        let now = Self.nowMilliseconds()
        for document in reply.arrayValue ?? [] {
            guard let fields = document.objectValue, let job = ScheduledJob(Document(fields: fields)) else { continue }
            if job.scheduledTime > now { return job.scheduledTime }
            guard isHeld else { break }
            if runningMutations.contains(job.id) || runningActions.contains(job.id) { continue }
            metrics.startDelay.recordNanoseconds(Int64(max(0, now - job.scheduledTime) * 1_000_000))
            if engine.app.functions.function(job.name)?.kind == .action {
                guard runningActions.count < configuration.maxRunningActions else { continue }
                runningActions.insert(job.id)
                Task { await self.runAction(job) }
            } else {
                guard runningMutations.count < configuration.maxRunningMutations else { continue }
                runningMutations.insert(job.id)
                Task { await self.runMutation(job) }
            }
        }
        return .infinity
    }

    private func startDueCrons() async throws(FunctionError) -> Double {
        let reply = try await engine.query(SchedulerFunctions.cronJobs, caller: .system).value
        let now = Self.nowMilliseconds()
        var nextDue = Double.infinity
        for cron in reply.arrayValue ?? [] {
            guard let name = cron["name"]?.stringValue, let nextRun = cron["nextRun"]?.doubleValue else { continue }
            guard nextRun <= now else {
                nextDue = min(nextDue, nextRun)
                continue
            }
            guard isHeld, !runningCrons.contains(name) else { continue }
            runningCrons.insert(name)
            Task { await self.runCron(name, nextRun: nextRun) }
        }
        return nextDue
    }

    // MARK: - Running jobs

    /// Asks the writer to run the job's mutation and mark it done in one transaction. A job that
    /// throws is marked failed; one the writer could not run (unavailable) is retried later.
    private func runMutation(_ job: ScheduledJob) async {
        defer {
            runningMutations.remove(job.id)
            doorbell.ring()
        }
        do {
            let reply = try await callJobMutation(SchedulerFunctions.runMutationJob, ["id": .string(job.id)])
            if reply["status"]?.stringValue == SchedulerFunctions.Status.done.rawValue {
                metrics.jobEnded(kind: "mutation", outcome: "success")
            }
            noteStatus(reply, job)
        } catch where error.kind == .unavailable {
            logger.warning("mutation job \(job.id) (\(job.name)) not run, will retry: \(error.message)")
            try? await Task.sleep(for: .milliseconds(200))
        } catch {
            await finish(job, from: .pending, error: error.message)
        }
    }

    /// Marks the job inProgress, runs the action here, then marks it success or failed.
    private func runAction(_ job: ScheduledJob) async {
        defer {
            runningActions.remove(job.id)
            doorbell.ring()
        }
        do {
            let reply = try await callJobMutation(SchedulerFunctions.startActionJob, ["id": .string(job.id)])
            guard reply["status"]?.stringValue == SchedulerFunctions.Status.done.rawValue else {
                noteStatus(reply, job)
                return
            }
        } catch {
            logger.warning("action job \(job.id) (\(job.name)) not started, will retry: \(error.message)")
            try? await Task.sleep(for: .milliseconds(200))
            return
        }
        var failure: String?
        do {
            _ = try await engine.action(job.name, job.args, caller: .system)
        } catch {
            failure = error.message
        }
        await finish(job, from: .inProgress, error: failure)
    }

    /// Records a job's end, retrying while the writer is unreachable and the lease is ours.
    private func finish(_ job: ScheduledJob, from: JobState, error: String?) async {
        var fields: [String: Value] = ["id": .string(job.id), "from": .string(from.rawValue)]
        if let error { fields["error"] = .string(error) }
        while true {
            do {
                    let reply = try await callJobMutation(SchedulerFunctions.finishJob, fields)
                noteStatus(reply, job)
                if reply["status"]?.stringValue == SchedulerFunctions.Status.done.rawValue {
                    metrics.jobEnded(kind: from == .pending ? "mutation" : "action", outcome: error == nil ? "success" : "failed")
                }
                if let error { logger.info("scheduled function \(job.name) (\(job.id)) failed: \(error)") }
                return
            } catch {
                guard error.kind == .unavailable, isHeld, !Task.isCancelled else {
                    logger.warning("could not record the end of job \(job.id) (\(job.name)): \(error.message)")
                    return
                }
                try? await Task.sleep(for: .milliseconds(200))
            }
        }
    }

    private func runCron(_ name: String, nextRun: Double) async {
        defer {
            runningCrons.remove(name)
            doorbell.ring()
        }
        do {
            let reply = try await callJobMutation(SchedulerFunctions.runCron, ["name": .string(name), "nextRun": .float64(nextRun)])
            if reply["status"]?.stringValue == SchedulerFunctions.Status.done.rawValue { metrics.cronRuns.increment() }
            if reply["status"]?.stringValue == SchedulerFunctions.Status.leaseLost.rawValue { loseLease() }
        } catch {
            logger.warning("cron \(name) not run, will retry: \(error.message)")
            try? await Task.sleep(for: .milliseconds(200))
        }
    }

    private func callJobMutation(_ path: String, _ fields: [String: Value]) async throws(FunctionError) -> Value {
        var args = fields
        args["holder"] = .string(configuration.holder)
        return try await engine.mutation(path, args, caller: .system).value
    }

    private func noteStatus(_ reply: Value, _ job: ScheduledJob) {
        if reply["status"]?.stringValue == SchedulerFunctions.Status.leaseLost.rawValue { loseLease() }
    }

    private func loseLease() {
        guard heldUntil != nil else { return }
        logger.warning("the writer says this scheduler no longer holds the lease")
        heldUntil = nil
        metrics.leaseHeld.record(0)
        doorbell.ring()
    }
}
