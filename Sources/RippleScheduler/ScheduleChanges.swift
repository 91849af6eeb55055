import RippleEngine
import Synchronization

/// Versions of what the dispatch loop keeps in memory between reads: the due jobs
/// (`DueJobQueue`) and the crons' next runs. Each moves on when a read could now find something
/// the kept copy lacks; the loop reads again when the version it read at is no longer current.
/// Bumped from the commit feed's thread and read by the scheduler's actor, hence atomics.
final class ScheduleChanges: Sendable {
    private let jobs = Atomic<UInt64>(0)
    private let crons = Atomic<UInt64>(0)

    var jobsVersion: UInt64 { jobs.load(ordering: .acquiring) }
    var cronsVersion: UInt64 { crons.load(ordering: .acquiring) }

    /// A job may be pending that no read has seen: one was inserted, a snapshot replaced the
    /// state, or a run was not answered and the job must be started again.
    func jobsAdded() { jobs.add(1, ordering: .releasing) }

    /// The crons' table changed, or a cron run ended without a definite answer.
    func cronsChanged() { crons.add(1, ordering: .releasing) }

    /// Notes what a commit group may have changed; true when the dispatch loop should look.
    func note(_ group: CommitGroup, jobsTable: UInt32?, cronsTable: UInt32?) -> Bool {
        var jobsWritten = false
        var jobInserted = group.replacesState
        var cronsWritten = group.replacesState
        for mutation in group.mutations {
            for document in mutation.writes.documents {
                if document.tableNumber == jobsTable {
                    jobsWritten = true
                    // Jobs become pending only by insert (`JobTable.insert`); a document that
                    // was in no index before the commit is a new one.
                    if document.indexChanges.contains(where: { $0.old == nil && $0.new != nil }) { jobInserted = true }
                } else if document.tableNumber == cronsTable {
                    cronsWritten = true
                }
            }
        }
        if jobInserted { jobsAdded() }
        if cronsWritten { cronsChanged() }
        return jobsWritten || jobInserted || cronsWritten
    }
}
