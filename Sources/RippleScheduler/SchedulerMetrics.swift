import Metrics

/// The scheduler's metrics (see docs/operations.md), through swift-metrics like the engine's.
struct SchedulerMetrics: Sendable {
    /// Whether this node holds the scheduler lease (1) or not (0).
    let leaseHeld = Gauge(label: "ripple_scheduler_lease_held")
    /// How late jobs start: from their scheduled time to the start of their run.
    let startDelay = Timer(label: "ripple_scheduler_job_start_delay")

    /// Jobs that ended here, by kind (`mutation`, `action`) and outcome (`success`, `failed`).
    func jobEnded(kind: String, outcome: String) {
        Counter(label: "ripple_scheduler_jobs_total", dimensions: [("kind", kind), ("outcome", outcome)]).increment()
    }

    /// Pages of pending jobs the dispatch loop read: about one per page of jobs started while no
    /// new job is scheduled (`DueJobQueue`); a rate near the jobs' rate means it re-reads.
    let jobPagesRead = Counter(label: "ripple_scheduler_job_pages_read_total")

    /// Cron runs scheduled by this node.
    let cronRuns = Counter(label: "ripple_scheduler_cron_runs_total")
}
