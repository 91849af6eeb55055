import RippleEngine

/// The due pending jobs of the dispatch loop's last read of `by_state_time`, handed out in
/// scheduled-time order as slots free.
///
/// Reading and decoding a page of jobs was most of what deciding cost (36.6 % of the CPU of
/// `RippleBench scheduler` when every finished job re-read the first page, docs/performance.md),
/// so a page read once is handed out from memory, and the index is read again only when that
/// can find something new:
/// - a commit inserted a job, or a run must be retried (`version` moved on): the new job may be
///   due before everything queued (`runAfter(0)` while a backlog drains), so the read starts over;
/// - a kind with a free slot has nothing queued, and the last read stopped at its page's end (the
///   next page follows its cursor) or at a job not due then that is due now (it starts over).
///
/// A job finishing needs no read: it leaves `pending`, which only shrinks what is ahead. A job
/// the writer refused (`leaseLost`) is still pending but no longer queued: the scheduler moves
/// `version` on then, so that the read starts over should the lease come back.
/// Handing out a job the table no longer holds pending (canceled since) costs one skipped job
/// mutation, never a second run: the writer runs a job only while it is pending.
struct DueJobQueue {
    enum Kind { case mutation, action }

    /// Where the next read of the index begins.
    enum Read: Equatable {
        /// The first pending job: what was queued is replaced.
        case fromStart
        /// After the last read's page (its `continueCursor`): appended to what is queued.
        case after(String)

        var cursor: String? {
            if case .after(let cursor) = self { return cursor }
            return nil
        }
    }

    /// At most this many jobs are queued; reads past it wait until they are handed out. It bounds
    /// how deep a backlog of one kind is searched for due jobs of the other, as the 16 pages a pass
    /// read before the queue did.
    let capacity: Int
    private var mutations: ArraySlice<ScheduledJob> = []
    private var actions: ArraySlice<ScheduledJob> = []
    /// The `ScheduleChanges.jobsVersion` the queued jobs were read at; nil before the first read.
    private var readAtVersion: UInt64?
    /// Where the last read's page ended, while more due jobs may follow it.
    private var cursor: String?
    /// When the first job not yet due at the last read is due (infinity: the read reached the
    /// end); nil while more due jobs may follow `cursor`.
    private var firstNotDue: Double?
    /// Pages read since the scheduler started (what the queue exists to keep low).
    private(set) var pagesRead = 0

    init(capacity: Int) { self.capacity = capacity }

    var queued: Int { mutations.count + actions.count }

    /// Whether the queue was read at `version`: no job inserted since can be due before its head.
    func isCurrent(_ version: UInt64) -> Bool { readAtVersion == version }

    /// When the loop must look again without being rung: the first job that was not yet due.
    var nextDue: Double { firstNotDue ?? .infinity }

    /// Forgets every queued job (the lease was lost: the next holder's view starts from the table).
    mutating func drop() {
        mutations = []
        actions = []
        readAtVersion = nil
        cursor = nil
        firstNotDue = nil
    }

    /// The read to make now, or nil when the queue can serve the free slots or nothing new can be
    /// found. `version` is `ScheduleChanges.jobsVersion` now; `starving` the kinds with a free
    /// slot.
    func nextRead(version: UInt64, starving: Set<Kind>, now: Double) -> Read? {
        // With every slot full a read could start nothing; the slot that frees rings.
        guard !starving.isEmpty else { return nil }
        guard isCurrent(version) else { return .fromStart }
        guard starving.contains(where: { isEmpty($0) }) else { return nil }
        if let firstNotDue { return now >= firstNotDue ? .fromStart : nil }
        guard let cursor, queued < capacity else { return nil }
        return .after(cursor)
    }

    /// Queues the due jobs of a page read by `read`, skipping the ones already running. `version`
    /// is the one the read's `nextRead` was given, taken before the read began, so that a job
    /// inserted while the read ran makes the next read start over.
    mutating func take(
        _ page: [ScheduledJob], continueCursor: String?, read: Read, version: UInt64, now: Double, kind: (ScheduledJob) -> Kind,
        isRunning: (String) -> Bool
    ) {
        pagesRead += 1
        if read == .fromStart {
            mutations = []
            actions = []
        }
        readAtVersion = version
        cursor = nil
        firstNotDue = nil
        for job in page {
            if job.scheduledTime > now {
                firstNotDue = job.scheduledTime
                return
            }
            if isRunning(job.id) { continue }
            switch kind(job) {
            case .mutation: mutations.append(job)
            case .action: actions.append(job)
            }
        }
        if let continueCursor { cursor = continueCursor } else { firstNotDue = .infinity }
    }

    /// The earliest queued job of `kind`, taken off the queue.
    mutating func next(_ kind: Kind) -> ScheduledJob? {
        switch kind {
        case .mutation: mutations.popFirst()
        case .action: actions.popFirst()
        }
    }

    private func isEmpty(_ kind: Kind) -> Bool {
        switch kind {
        case .mutation: mutations.isEmpty
        case .action: actions.isEmpty
        }
    }
}
