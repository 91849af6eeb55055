import Foundation
import Metrics

/// The engine's metrics through swift-metrics; a node process bootstraps a Prometheus backend
/// (`GET /metrics`), and without one they cost nothing.
struct EngineMetrics: Sendable {
    /// Commits made durable on this node (written here, or applied from the writer's log).
    let commits = Counter(label: "ripple_commits_total")
    /// Group commits (writer) or applied batches (replica).
    let groups = Counter(label: "ripple_commit_groups_total")
    /// The commit timestamp of the newest state this node serves.
    let appliedTimestamp = Gauge(label: "ripple_applied_timestamp_nanoseconds")
    /// On a replica, how long after its commit on the writer each commit was applied here.
    let replicationLag = Timer(label: "ripple_replication_apply_lag")
    /// Time from a mutation call to its durable result (forwarding included on a replica).
    let mutationLatency = Timer(label: "ripple_mutation_duration")
    let queries = Counter(label: "ripple_queries_total")

    /// Records one durable group; `replica` marks groups applied from the writer's log.
    func record(_ group: CommitGroup, replica: Bool) {
        commits.increment(by: group.mutations.count)
        groups.increment()
        appliedTimestamp.record(Double(group.appliedTimestamp.nanoseconds))
        guard replica else { return }
        let now = CommitClock.wallClock()
        for mutation in group.mutations where now > mutation.ts {
            replicationLag.record(now.duration(since: mutation.ts))
        }
    }
}

extension Timer {
    /// Records the time elapsed since `start`.
    func record(since start: ContinuousClock.Instant) {
        record(ContinuousClock.now - start)
    }

    /// Records `elapsed` in nanoseconds.
    func record(_ elapsed: Duration) {
        recordNanoseconds(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
    }
}
