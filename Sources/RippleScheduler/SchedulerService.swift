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
/// action job more than once. What it keeps in memory (jobs in flight) only avoids asking twice;
/// a job leaves it only once the writer has given a definite answer about it.
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
        /// An action job running longer is recorded failed and its slot freed (Convex's limit);
        /// its task is cancelled, which stops it at its next suspension point that checks.
        public var actionTimeout: Duration = .seconds(600)
        /// Finished jobs (success, failed, canceled) are deleted this long after they finished.
        public var finishedJobRetention: Duration = .seconds(7 * 24 * 3600)

        public init(nodeID: String) {
            holder = "\(nodeID)-\(String(UInt64.random(in: 0...UInt64.max), radix: 36))"
        }
    }

    let engine: Engine
    let configuration: Configuration
    let logger: Logger
    private let doorbell = Doorbell()
    private let changes = ScheduleChanges()
    private let metrics = SchedulerMetrics()

    /// Until when (this node's clock) the lease is surely still ours; nil while not held.
    private var heldUntil: ContinuousClock.Instant?
    /// Set by a takeover, or by an action end the writer refused, until the bookkeeping
    /// (unrecorded ends, abandoned actions, cron sync) has succeeded.
    private var needsTakeover = false
    /// The holder we last saw refusing us, so the wait is logged once, not every poll.
    private var waitingOn: String?
    /// When the lease we were refused expires (writer's clock, ms); cleared by any other answer.
    private var refusedUntil: Double?
    /// Set by `shutdown()`: no more jobs start and the lease is not asked for again.
    private var stopping = false
    private var runningMutations: Set<String> = []
    private var runningActions: Set<String> = []
    /// Actions that ended while the writer judged this scheduler's lease lapsed: their end could
    /// not be recorded, and no heir fails them while this holder has the lease again (they are
    /// its own runs), so they are recorded at its next takeover. Also actions whose start the
    /// writer refused on a retry, an earlier attempt having perhaps committed it (failed then).
    private var unrecordedEnds: [String: String?] = [:]
    private var runningCrons: Set<String> = []
    /// The due jobs of the last read, handed out as slots free; emptied when the lease is lost.
    private var dueJobs: DueJobQueue
    /// The crons' earliest next run as last read, and the `cronsVersion` it was read at.
    private var cronsRead: (version: UInt64, nextDue: Double)?
    /// Passes of the dispatch loop since the scheduler started (one that spins shows here).
    private var dispatchPasses = 0
    /// When finished jobs were last cleaned up (this node's clock).
    private var lastCleanup: ContinuousClock.Instant?

    public init(engine: Engine, configuration: Configuration, logger: Logger) {
        self.engine = engine
        self.configuration = configuration
        self.logger = logger
        dueJobs = DueJobQueue(capacity: 16 * Self.pageSize(configuration))
    }

    /// Runs until cancelled or shut down. Jobs still running then finish on their own tasks but
    /// stop retrying their bookkeeping; the next scheduler to take over settles them.
    public func run() async {
        watchCommits()
        logger.info("scheduler \(configuration.holder) starting; \(engine.app.crons.jobs.count) cron jobs defined")
        while !Task.isCancelled && !stopping {
            guard await acquireLease() else { continue }
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.renewWhileHeld() }
                group.addTask { await self.dispatchWhileHeld() }
                await group.next()
                group.cancelAll()
            }
        }
        stopping = true
    }

    /// Stops starting jobs and hands the lease back, so that a standby scheduler takes over at
    /// once instead of waiting for the lease to expire. Call it while the node can still reach
    /// the writer (before the replication link is closed).
    public func shutdown() async {
        stopping = true
        doorbell.ring()
        guard heldUntil != nil else { return }
        heldUntil = nil
        metrics.leaseHeld.record(0)
        do {
            let _: Nothing = try await call(SchedulerFunctions.releaseLease, SchedulerCall.HolderRequest(holder: configuration.holder))
            logger.info("scheduler lease released")
        } catch {
            logger.warning("could not release the scheduler lease (it expires by itself): \(error.message)")
        }
    }

    /// For `/health`: whether this node holds the lease and what it is running.
    public func status() -> JSON {
        .object([
            ("holder", .string(configuration.holder)), ("holdsLease", .bool(isHeld)),
            ("runningMutations", .int(Int64(runningMutations.count))), ("runningActions", .int(Int64(runningActions.count))),
            ("queuedJobs", .int(Int64(dueJobs.queued))), ("jobPagesRead", .int(Int64(dueJobs.pagesRead))),
            ("dispatchPasses", .int(Int64(dispatchPasses))),
        ])
    }

    /// Rings the doorbell for every commit that touches jobs or crons, after noting whether it
    /// makes the loop's in-memory copies stale.
    private nonisolated func watchCommits() {
        let engine = self.engine
        let doorbell = self.doorbell
        let changes = self.changes
        engine.commitFeed.subscribe { group in
            let jobs = engine.tableNumber(named: "_scheduled_functions")
            let crons = engine.tableNumber(named: "_cron_jobs")
            if changes.note(group, jobsTable: jobs, cronsTable: crons) { doorbell.ring() }
        }
    }

    // MARK: - The lease

    private var leaseMilliseconds: Double {
        let (seconds, attoseconds) = configuration.leaseDuration.components
        return Double(seconds) * 1000 + Double(attoseconds) / 1e15
    }

    private var isHeld: Bool {
        guard let heldUntil, !stopping else { return false }
        return ContinuousClock.now < heldUntil
    }

    /// Asks for the lease; waits before returning false (until the holder's lease expires, or a
    /// third of a lease after an error).
    private func acquireLease() async -> Bool {
        if await requestLease() { return true }
        var wait = configuration.leaseDuration / 3
        if let refusedUntil {
            wait = min(wait, .milliseconds(max(10, Int64(refusedUntil - Self.nowMilliseconds()) + 10)))
        }
        try? await Task.sleep(for: wait)
        return false
    }

    /// Asks the writer for the lease (or renews it); true while it is ours. A takeover (the lease
    /// was someone else's, or ours had lapsed) is followed by its bookkeeping, retried at every
    /// renewal until it succeeds.
    private func requestLease() async -> Bool {
        guard !stopping else { return false }
        let sent = ContinuousClock.now
        let reply: SchedulerCall.LeaseReply
        do {
            reply = try await call(
                SchedulerFunctions.acquireLease, SchedulerCall.LeaseRequest(holder: configuration.holder, durationMs: leaseMilliseconds))
        } catch {
            refusedUntil = nil
            logger.warning("scheduler lease request failed: \(error.message)")
            return isHeld
        }
        guard reply.granted else {
            heldUntil = nil
            metrics.leaseHeld.record(0)
            let holder = reply.holder
            if waitingOn != holder {
                logger.info("scheduler lease is held by \(holder); waiting")
                waitingOn = holder
            }
            refusedUntil = reply.expiresAt
            return false
        }
        waitingOn = nil
        refusedUntil = nil
        // The writer's lease runs from its commit, which is after `sent`: ours ends no later.
        heldUntil = sent + configuration.leaseDuration - .milliseconds(50)
        metrics.leaseHeld.record(1)
        if reply.takeover == true {
            logger.info("scheduler lease acquired (epoch \(reply.epoch ?? 0))")
            needsTakeover = true
            // A dispatch loop still running from before the lapse (it checks the lease only
            // between passes) must not go on from what it kept: jobs it handed out then were
            // refused and are pending again. Not `drop()`: a read in flight appends to the queue.
            changes.jobsAdded()
            changes.cronsChanged()
        }
        if needsTakeover { await takeOver() }
        return isHeld
    }

    private func renewWhileHeld() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: configuration.leaseDuration / 3)
            if Task.isCancelled { return }
            if !(await requestLease()) {
                if !stopping { logger.warning("scheduler lease lost; no new jobs start until it is back") }
                doorbell.ring()
                return
            }
            await deleteFinishedJobsIfDue()
        }
    }

    /// Once a minute, deletes the jobs that finished longer ago than the retention (a batch at
    /// a time, so that one transaction stays small).
    private func deleteFinishedJobsIfDue() async {
        if let lastCleanup, ContinuousClock.now - lastCleanup < .seconds(60) { return }
        lastCleanup = ContinuousClock.now
        let (seconds, attoseconds) = configuration.finishedJobRetention.components
        let before = Self.nowMilliseconds() - (Double(seconds) * 1000 + Double(attoseconds) / 1e15)
        var total = 0
        while isHeld {
            let request = SchedulerCall.DeleteFinishedJobsRequest(holder: configuration.holder, before: before, limit: 500)
            guard let reply = try? await callJobMutation(SchedulerFunctions.deleteFinishedJobs, request), let deleted = reply.deleted
            else { break }
            total += deleted
            if deleted < 500 { break }
        }
        if total > 0 { logger.info("deleted \(total) scheduled jobs that finished more than \(configuration.finishedJobRetention) ago") }
    }

    /// After taking the lease: record the ends of this holder's actions that could not be
    /// recorded while it had lost the lease, fail the actions other runners left in progress,
    /// then bring the crons in line with the app. Clears `needsTakeover` only when both succeeded.
    private func takeOver() async {
        do {
            for (id, error) in unrecordedEnds {
                let reply = try await callJobMutation(SchedulerFunctions.finishJob, finishRequest(id: id, from: .inProgress, error: error))
                if noteStatus(reply) != .leaseLost { unrecordedEnds[id] = nil }
            }
            // At most a batch per transaction; repeat until a batch comes back short.
            var batch = SchedulerLimits.jobsPerExecution
            while batch >= SchedulerLimits.jobsPerExecution {
                let failed = try await callJobMutation(SchedulerFunctions.failAbandonedActions, SchedulerCall.HolderRequest(holder: configuration.holder))
                batch = failed.failed ?? 0
                if batch > 0 { logger.warning("marked \(batch) action jobs failed: their scheduler stopped while they ran") }
            }
            let crons = engine.app.crons.jobs.map { job in
                SchedulerCall.CronDefinition(name: job.name, schedule: job.schedule.value, functionPath: job.functionPath, args: job.args)
            }
            let synced = try await callJobMutation(SchedulerFunctions.syncCrons, SchedulerCall.SyncCronsRequest(holder: configuration.holder, crons: crons))
            guard synced.status == .done else { return }
            needsTakeover = false
            logger.info("cron jobs synced: \(synced.added ?? 0) added, \(synced.changed ?? 0) changed, \(synced.removed ?? 0) removed")
        } catch {
            logger.warning("scheduler takeover bookkeeping failed (retried at the next renewal): \(error.message)")
        }
    }

    // MARK: - Dispatch

    private static func nowMilliseconds() -> Double { Date().timeIntervalSince1970 * 1000 }

    /// Starts due jobs and crons while the lease is held and its bookkeeping is done; sleeps
    /// until the next one is due, or a commit or a finished job rings.
    private func dispatchWhileHeld() async {
        // What another holder did meanwhile is only in the table.
        dueJobs.drop()
        cronsRead = nil
        defer { dueJobs.drop() }
        while isHeld && !Task.isCancelled {
            dispatchPasses += 1
            var nextDue = Self.nowMilliseconds() + 1_000
            if !needsTakeover {
                do {
                    nextDue = min(nextDue, try await startDueJobs())
                    nextDue = min(nextDue, try await startDueCrons())
                } catch {
                    logger.warning("scheduler could not read due jobs: \(error.message)")
                }
            }
            let wait = max(0, nextDue - Self.nowMilliseconds())
            await doorbell.wait(upTo: .microseconds(Int64(wait * 1000)))
        }
    }

    /// Jobs read per page: four times the slots, so that one read serves the slots several times
    /// over and a page is not all running jobs.
    private static func pageSize(_ configuration: Configuration) -> Int {
        4 * (configuration.maxRunningMutations + configuration.maxRunningActions)
    }

    /// Starts queued jobs while slots are free, reading the index only when the queue cannot
    /// serve them (`DueJobQueue`); returns when the earliest job not yet due is. A pass reads at
    /// most 16 pages, so a backlog of one kind (actions waiting for a free slot) hides due jobs
    /// of the other no deeper than the queue's capacity.
    private func startDueJobs() async throws(FunctionError) -> Double {
        var startedOver = false
        for _ in 0..<16 {
            let version = changes.jobsVersion
            // A job inserted since the read may be due before the queue's head: read first.
            if dueJobs.isCurrent(version) { startQueuedJobs() }
            guard isHeld, let read = dueJobs.nextRead(version: version, starving: starvingKinds, now: Self.nowMilliseconds()) else { break }
            // Inserts arriving during a read ring the doorbell: the next pass reads them, so that a
            // steady stream of inserts costs one first page per pass, not 16.
            if read == .fromStart {
                if startedOver { break }
                startedOver = true
            }
            let request = SchedulerCall.JobsInStateRequest(state: .pending, limit: Self.pageSize(configuration), cursor: read.cursor)
            let reply: SchedulerCall.JobsPage = try await decode(
                try await engine.query(SchedulerFunctions.jobsInState, try arguments(request), caller: .system).value)
            metrics.jobPagesRead.increment()
            let page = reply.page.compactMap { document in document.objectValue.flatMap { ScheduledJob(Document(fields: $0)) } }
            dueJobs.take(
                page, continueCursor: reply.isDone ? nil : reply.continueCursor, read: read, version: version, now: Self.nowMilliseconds(),
                kind: { self.kind(of: $0) }, isRunning: { self.runningMutations.contains($0) || self.runningActions.contains($0) })
        }
        // The last read's jobs, or a stale queue's once a pass has started over.
        startQueuedJobs()
        // With every slot full nothing can start when the first job not yet due comes: a
        // finishing job rings instead (waiting for that time, once past, would spin).
        return starvingKinds.isEmpty ? .infinity : dueJobs.nextDue
    }

    /// The kinds with a free slot.
    private var starvingKinds: Set<DueJobQueue.Kind> {
        var kinds: Set<DueJobQueue.Kind> = []
        if runningMutations.count < configuration.maxRunningMutations { kinds.insert(.mutation) }
        if runningActions.count < configuration.maxRunningActions { kinds.insert(.action) }
        return kinds
    }

    private func startQueuedJobs() {
        let now = Self.nowMilliseconds()
        while isHeld, runningMutations.count < configuration.maxRunningMutations, let job = dueJobs.next(.mutation) { start(job, now: now) }
        while isHeld, runningActions.count < configuration.maxRunningActions, let job = dueJobs.next(.action) { start(job, now: now) }
    }

    private func kind(of job: ScheduledJob) -> DueJobQueue.Kind {
        engine.app.functions.function(job.name)?.kind == .action ? .action : .mutation
    }

    private func start(_ job: ScheduledJob, now: Double) {
        if runningMutations.contains(job.id) || runningActions.contains(job.id) { return }
        switch kind(of: job) {
        case .action:
            runningActions.insert(job.id)
            Task { await self.runAction(job) }
        case .mutation:
            runningMutations.insert(job.id)
            Task { await self.runMutation(job) }
        }
        metrics.startDelay.recordNanoseconds(Int64(max(0, now - job.scheduledTime) * 1_000_000))
    }

    /// Starts the crons that are due; reads them only when their table changed, a run ended, or
    /// the earliest next run has come (a pass per finished job made this a query per job).
    private func startDueCrons() async throws(FunctionError) -> Double {
        let version = changes.cronsVersion
        if let cronsRead, cronsRead.version == version, Self.nowMilliseconds() < cronsRead.nextDue { return cronsRead.nextDue }
        let reply = try await engine.query(SchedulerFunctions.cronJobs, caller: .system).value
        let now = Self.nowMilliseconds()
        var nextDue = Double.infinity
        var passedOver = false
        for cron in reply.arrayValue ?? [] {
            guard let name = cron["name"]?.stringValue, let nextRun = cron["nextRun"]?.doubleValue else { continue }
            guard nextRun <= now else {
                nextDue = min(nextDue, nextRun)
                continue
            }
            guard isHeld else {
                passedOver = true
                continue
            }
            // A running cron's end changes the version: it is read again then.
            guard !runningCrons.contains(name) else { continue }
            runningCrons.insert(name)
            Task { await self.runCron(name, nextRun: nextRun) }
        }
        // A due cron passed over is not in `nextDue`: keeping this read would wait past it.
        cronsRead = passedOver ? nil : (version, nextDue)
        return nextDue
    }

    // MARK: - Running jobs

    /// Asks the writer to run the job's mutation and mark it done in one transaction. A job that
    /// throws is marked failed; one the writer could not run (unavailable) is retried later —
    /// safely, since the writer runs a job only while it is still pending.
    private func runMutation(_ job: ScheduledJob) async {
        defer {
            runningMutations.remove(job.id)
            doorbell.ring()
        }
        do {
            let reply = try await callJobMutation(SchedulerFunctions.runMutationJob, SchedulerCall.JobRequest(holder: configuration.holder, id: job.id))
            if noteStatus(reply) == .done { metrics.jobEnded(kind: "mutation", outcome: "success") }
        } catch where error.kind == .unavailable {
            logger.warning("mutation job \(job.id) (\(job.name)) not run, will retry: \(error.message)")
            try? await Task.sleep(for: .milliseconds(200))
            // It is still pending but no longer queued: the next read starts over and finds it first.
            changes.jobsAdded()
        } catch {
            await finish(job, from: .pending, error: error.message)
        }
    }

    /// Marks the job inProgress (as its runner), runs the action here, then marks it success or
    /// failed. The job stays in `runningActions` until the writer has answered both steps.
    private func runAction(_ job: ScheduledJob) async {
        defer {
            runningActions.remove(job.id)
            doorbell.ring()
        }
        // A lost reply is asked again: the writer answers `done` again to the same runner.
        let request = SchedulerCall.JobRequest(holder: configuration.holder, id: job.id)
        guard let started = await definitely({ () async throws(FunctionError) -> SchedulerCall.StatusReply in
            try await self.callJobMutation(SchedulerFunctions.startActionJob, request)
        }) else {
            // Perhaps still pending, and no longer queued: the next read starts over.
            changes.jobsAdded()
            return
        }
        switch noteStatus(started) {
        case .done:
            break
        case .leaseLost:
            // An earlier attempt whose reply was lost may have committed the start: the job is
            // then inProgress under this holder's name, which no sweep of its own fails and no
            // run of its own ends (issue 13, chaos round 14). Failed at the next takeover if so;
            // a job still pending is left to run (that finish answers `skipped`).
            logger.warning(
                "action job \(job.id) (\(job.name)) not run: the writer refused its start; if it was started, it is failed when this scheduler holds the lease again")
            unrecordedEnds[job.id] = Self.startRefusedError
            needsTakeover = true
            return
        case .skipped, nil:
            return
        }
        let failure = await runWithinTimeout(job)
        await finish(job, from: .inProgress, error: failure)
    }

    /// Recorded for an action whose start may have committed although the writer answered a
    /// retry with `leaseLost`: it was never run here, and is not retried (at most once).
    static let startRefusedError =
        "Transient error while executing action; the scheduler lost its lease as the action started and it was not run"

    /// Runs the job's action; returns its error message, or nil on success. An action still
    /// running after `actionTimeout` is given up on (and cancelled).
    private func runWithinTimeout(_ job: ScheduledJob) async -> String? {
        let engine = self.engine
        let timeout = configuration.actionTimeout
        let outcome = FirstOutcome()
        let action = Task {
            do throws(FunctionError) {
                _ = try await engine.action(job.name, job.args, caller: .system)
                await outcome.settle(nil)
            } catch {
                await outcome.settle(error.message)
            }
        }
        let timer = Task {
            try? await Task.sleep(for: timeout)
            if !Task.isCancelled { await outcome.settle("Action timed out after \(timeout)") }
        }
        let result = await outcome.value
        timer.cancel()
        action.cancel()
        return result
    }

    /// Records a job's end. Retried until the writer answers — even while this node thinks the
    /// lease lapsed, since the writer judges that — so that a finished action is not left
    /// `inProgress` by a passing outage.
    private func finish(_ job: ScheduledJob, from: JobState, error: String?) async {
        let request = finishRequest(id: job.id, from: from, error: error)
        guard let reply = await definitely({ () async throws(FunctionError) -> SchedulerCall.StatusReply in
            try await self.callJobMutation(SchedulerFunctions.finishJob, request)
        }) else {
            logger.warning("could not record the end of job \(job.id) (\(job.name)); the next scheduler to take over fails it")
            // A mutation job is then still pending, and no longer queued: the next read starts
            // over. An action stays inProgress, which no read of pending jobs finds.
            if from == .pending { changes.jobsAdded() }
            return
        }
        let status = noteStatus(reply)
        if status == .done {
            metrics.jobEnded(kind: from == .pending ? "mutation" : "action", outcome: error == nil ? "success" : "failed")
        }
        if status == .leaseLost, from == .inProgress {
            // Left inProgress under this holder's name: found by the chaos suite (seed 403721998),
            // an action stuck there forever after its scheduler lost and regained the lease.
            logger.warning("the end of action job \(job.id) (\(job.name)) is recorded when this scheduler holds the lease again")
            unrecordedEnds[job.id] = error
            // The takeover that answers a lapse may already have run (its reply came first), and
            // the renewals after it are plain: the next one must do the bookkeeping again, or the
            // job stays inProgress until another scheduler takes over (issue 13's 90 s waits).
            needsTakeover = true
        }
        if let error { logger.info("scheduled function \(job.name) (\(job.id)) failed: \(error)") }
    }

    private func finishRequest(id: String, from: JobState, error: String?) -> SchedulerCall.FinishJobRequest {
        SchedulerCall.FinishJobRequest(holder: configuration.holder, id: id, from: from, error: error)
    }

    /// Calls `mutation` until the writer answers (a status), backing off while it is unavailable;
    /// nil if this task is cancelled first or the call fails for another reason.
    private func definitely<Reply>(_ mutation: () async throws(FunctionError) -> Reply) async -> Reply? {
        var backoff = Duration.milliseconds(100)
        while !Task.isCancelled && !stopping {
            do {
                return try await mutation()
            } catch where error.kind == .unavailable {
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(2))
            } catch {
                logger.warning("scheduler bookkeeping failed: \(error.message)")
                return nil
            }
        }
        return nil
    }

    private func runCron(_ name: String, nextRun: Double) async {
        defer {
            runningCrons.remove(name)
            // Its next run is read again, whether this run moved it or must be retried.
            changes.cronsChanged()
            doorbell.ring()
        }
        do {
            let reply = try await callJobMutation(
                SchedulerFunctions.runCron, SchedulerCall.RunCronRequest(holder: configuration.holder, name: name, nextRun: nextRun))
            if noteStatus(reply) == .done { metrics.cronRuns.increment() }
        } catch {
            logger.warning("cron \(name) not run, will retry: \(error.message)")
            try? await Task.sleep(for: .milliseconds(200))
        }
    }

    private func callJobMutation<Request: SchedulerRequest>(
        _ path: String, _ request: Request
    ) async throws(FunctionError) -> SchedulerCall.StatusReply {
        try await call(path, request)
    }

    /// Runs the system mutation `path` with `request`, its reply read as `Reply`.
    private func call<Request: SchedulerRequest, Reply: Decodable>(_ path: String, _ request: Request) async throws(FunctionError) -> Reply {
        try decode(try await engine.mutation(path, try arguments(request), caller: .system).value)
    }

    private func arguments<Request: SchedulerRequest>(_ request: Request) throws(FunctionError) -> [String: Value] {
        do {
            guard case .object(let fields) = try ValueEncoder().encode(request) else { throw ValueError("not an object") }
            return fields
        } catch {
            throw FunctionError(.invalidUse, "Could not encode a scheduler request \(Request.self): \(error)")
        }
    }

    /// A system function's reply as the type the scheduler expects; a mismatch is a bug on one
    /// side, reported as such rather than read as a default.
    private func decode<Reply: Decodable>(_ value: Value) throws(FunctionError) -> Reply {
        do {
            return try ValueDecoder().decode(Reply.self, from: value)
        } catch {
            throw FunctionError(.invalidUse, "A scheduler system function answered \(value), not a \(Reply.self): \(error)")
        }
    }

    /// The status of a job mutation's reply; a lease the writer says we lost stops dispatch.
    @discardableResult
    private func noteStatus(_ reply: SchedulerCall.StatusReply) -> SchedulerFunctions.Status? {
        let status: SchedulerFunctions.Status? = reply.status
        if status == .leaseLost {
            // The job (or cron) was taken off the queue and may still be pending: should the lease
            // come back to this holder before the loop notices, it must read it again.
            changes.jobsAdded()
            changes.cronsChanged()
        }
        if status == .leaseLost, heldUntil != nil {
            logger.warning("the writer says this scheduler no longer holds the lease")
            heldUntil = nil
            metrics.leaseHeld.record(0)
            doorbell.ring()
        }
        return status
    }
}

/// The first of several racing results (an action's end, or its timeout); later ones are ignored.
private actor FirstOutcome {
    private var result: String??
    private var waiters: [CheckedContinuation<String?, Never>] = []

    func settle(_ value: String?) {
        guard result == nil else { return }
        result = .some(value)
        for waiter in waiters { waiter.resume(returning: value) }
        waiters = []
    }

    var value: String? {
        get async {
            if let result { return result }
            return await withCheckedContinuation { waiters.append($0) }
        }
    }
}
