"""The scheduler role (issue "Scheduler node") against the real local cluster: jobs scheduled on
any node run on the scheduler node (3212) exactly once (mutations) or at most once (actions),
while the scheduler is SIGKILLed and restarted; crons keep one run per period across kills; a
standby scheduler (scheduler2, 3222) waits for the lease and takes over when the first dies.

The suite's nodes run with a 1 s scheduler lease and the chat app's every-second test cron
(conftest.py). Jobs record each run in `jobRuns` under a unique tag and bump a counter
(Sources/ChatExample/JobDiagnostics.swift), so a run done twice shows up as a duplicate tag.
"""

from __future__ import annotations

import random
import time
import uuid
from typing import Any, Dict, List

from cluster import SCHEDULER_LEASE_SECONDS
from harness import wait_until

#: How long the jobs of a test may take to finish once no more kills happen.
SETTLE_TIMEOUT = 120.0


def _schedule(cluster, node: str, prefix: str, count: int, kind: str, *, delay_ms: float = 0, spread_ms: float = 0,
              sleep_ms: float = 0) -> List[str]:
    ids = cluster.http(node, "mutation", "diagnostics:scheduleRuns", {
        "prefix": prefix, "count": count, "delayMs": delay_ms, "kind": kind, "spreadMs": spread_ms, "sleepMs": sleep_ms,
    })
    assert isinstance(ids, list) and len(ids) == count, f"diagnostics:scheduleRuns returned {ids!r}"
    return ids


def _states(cluster, ids: List[str]) -> Dict[str, Any]:
    counts: Dict[str, float] = {}
    errors: List[Any] = []
    for start in range(0, len(ids), 200):
        part = cluster.http("writer", "query", "diagnostics:jobStatesOf", {"ids": ids[start:start + 200]})
        for state, n in part["counts"].items():
            counts[state] = counts.get(state, 0) + n
        errors += part["errors"]
    return {"counts": counts, "errors": errors}


def _stats(cluster, prefix: str) -> Dict[str, Any]:
    return cluster.http("writer", "query", "diagnostics:runStats", {"prefix": prefix})


def _lease_holder(cluster) -> str:
    lease = cluster.http("writer", "query", "diagnostics:schedulerLease", {})
    return lease["holder"] if lease else ""


def _held_by(cluster, node: str) -> bool:
    # Holder names are "<node id>-<random>": "scheduler-…" is not "scheduler2-…".
    return _lease_holder(cluster).startswith(node + "-")


def _kill_and_restart_scheduler(cluster) -> None:
    cluster.kill("scheduler")
    cluster.restart("scheduler")


def _running_holder(cluster, node: str) -> str:
    """The holder name of the process now running as `node` ("" while it does not answer)."""
    health = cluster.health(node) or {}
    return (health.get("scheduler") or {}).get("holder", "")


def _wait_for_scheduler_lease(cluster) -> None:
    """Until the running scheduler process holds the lease: a kill before that would only kill
    a scheduler that is waiting, not one that is running jobs. The lease must name this
    process's holder: a killed predecessor's lease, not yet run out, is "scheduler-…" too."""
    def held_by_running_process() -> bool:
        holder = _running_holder(cluster, "scheduler")
        return holder != "" and _lease_holder(cluster) == holder

    wait_until(held_by_running_process, timeout=30, interval=0.02, message="the running scheduler to hold the lease")


def _job_report(cluster, prefix: str, ids: List[str], progress: List[int]) -> str:
    """What a failed job test needs to be read: the counter after each kill, the job states
    (and a few errors), the recorded runs, and who holds the lease; the nodes' logs during the
    test are attached to the report by conftest.py."""
    states = _states(cluster, ids)
    stats = _stats(cluster, prefix)
    return (f"counter after each kill: {progress}; job states: {states['counts']}, first errors: {states['errors'][:5]}; "
            f"runs: counter {stats['counter']}, runs {stats['runs']}, distinct {stats['distinct']}, "
            f"duplicates {stats['duplicates'][:10]}; lease holder: {_lease_holder(cluster)!r}, "
            f"running scheduler: {_running_holder(cluster, 'scheduler')!r}")


def test_job_scheduled_on_a_replica_runs_on_the_scheduler(cluster):
    wait_until(lambda: _held_by(cluster, "scheduler"), timeout=30, message="the scheduler to hold the lease")
    prefix = f"first-{uuid.uuid4().hex[:8]}"
    started = time.monotonic()
    [job] = _schedule(cluster, "replica1", prefix, 1, "mutation")
    # The job document is written by the scheduling mutation itself: visible at once, pending or done.
    job_doc = cluster.http("replica1", "query", "diagnostics:job", {"id": job})
    assert job_doc["name"] == "diagnostics:recordRun" and job_doc["args"] == [{"tag": f"{prefix}-0", "counter": prefix}], job_doc
    done = wait_until(lambda: (cluster.http("replica1", "query", "diagnostics:job", {"id": job}) or {}).get("completedTime"),
                      timeout=30, interval=0.005, message="the job to complete")
    print(f"runAfter(0) through replica1 to completion seen on replica1: {time.monotonic() - started:.3f} s")
    assert done >= job_doc["scheduledTime"]
    assert _stats(cluster, prefix) == {"counter": 1, "runs": 1, "distinct": 1, "duplicates": []}


def test_mutation_jobs_run_exactly_once_across_twenty_scheduler_kills(cluster):
    prefix = f"chaos-{uuid.uuid4().hex[:8]}"
    ids = _schedule(cluster, "writer", prefix, 500, "mutation", delay_ms=200, spread_ms=15_000)
    rng = random.Random(prefix)
    kills = 0
    progress = []
    for _ in range(20):
        _wait_for_scheduler_lease(cluster)
        time.sleep(rng.uniform(0.05, 0.6))
        _kill_and_restart_scheduler(cluster)
        kills += 1
        progress.append(_stats(cluster, prefix)["counter"])
    print(f"jobs done after each kill: {progress}")
    # The kills landed while jobs were running, not after they were all done.
    assert progress[0] < 500 and len(set(progress)) > 5, \
        f"the kills did not interleave with the jobs: {_job_report(cluster, prefix, ids, progress)}"
    try:
        wait_until(lambda: _stats(cluster, prefix)["counter"] >= 500 and _states(cluster, ids)["counts"].get("success") == 500,
                   timeout=SETTLE_TIMEOUT, message="all 500 jobs to succeed")
    except AssertionError as timeout:
        raise AssertionError(f"{timeout}: {_job_report(cluster, prefix, ids, progress)}") from None
    stats = _stats(cluster, prefix)
    assert kills == 20
    assert stats["duplicates"] == [], f"jobs ran twice: {_job_report(cluster, prefix, ids, progress)}"
    assert stats == {"counter": 500, "runs": 500, "distinct": 500, "duplicates": []}, _job_report(cluster, prefix, ids, progress)
    assert _states(cluster, ids)["counts"] == {"success": 500}, _job_report(cluster, prefix, ids, progress)


def test_action_jobs_never_run_twice_and_never_stay_in_progress_across_kills(cluster):
    prefix = f"actions-{uuid.uuid4().hex[:8]}"
    # Each action records its start through a mutation, then works 400 ms: kills land mid-action.
    ids = _schedule(cluster, "writer", prefix, 60, "action", delay_ms=200, spread_ms=6_000, sleep_ms=400)
    rng = random.Random(prefix)
    for _ in range(6):
        _wait_for_scheduler_lease(cluster)
        time.sleep(rng.uniform(0.3, 1.2))
        _kill_and_restart_scheduler(cluster)

    def settled():
        counts = _states(cluster, ids)["counts"]
        return counts.get("success", 0) + counts.get("failed", 0) == 60

    wait_until(settled, timeout=SETTLE_TIMEOUT, message="every action job to end (success or failed)")
    states = _states(cluster, ids)
    stats = _stats(cluster, prefix)
    assert stats["duplicates"] == [], f"actions ran twice: {stats['duplicates']}"
    # Every success recorded its run once; a failed one ran at most once (killed before or after its record).
    assert states["counts"].get("success", 0) <= stats["runs"] <= 60, (states, stats)
    for error in states["errors"]:
        assert "not retried" in error, f"an action failed for another reason: {error}"
    print(f"action jobs: {states['counts']}, runs recorded {stats['runs']}")


def test_cron_runs_once_per_period_across_two_scheduler_kills(cluster):
    window_start = time.time() * 1000
    time.sleep(10)
    _kill_and_restart_scheduler(cluster)
    time.sleep(10)
    _kill_and_restart_scheduler(cluster)
    time.sleep(10)
    window_end = time.time() * 1000
    # The runs due by the window's end have been scheduled and done (one lease + a little).
    wait_until(lambda: all(job["state"] == "success" for job in cluster.http("writer", "query", "diagnostics:cronStats", {})["jobs"]
                           if job["scheduledTime"] <= window_end),
               timeout=30, message="the cron runs of the window to finish")
    stats = cluster.http("writer", "query", "diagnostics:cronStats", {})
    # Read in one snapshot: a cron job's success and its recorded run commit together.
    successes = sum(1 for job in stats["jobs"] if job["state"] == "success")
    assert stats["runs"] == successes, f"{stats['runs']} recorded runs for {successes} successful cron jobs"
    times = sorted(job["scheduledTime"] for job in stats["jobs"] if window_start <= job["scheduledTime"] <= window_end)
    assert len(times) == len(set(times)), f"a period ran twice: {times}"
    assert all(t % 1000 == 0 for t in times), f"runs off the 1 s grid: {times}"
    gaps = [b - a for a, b in zip(times, times[1:])]
    # Missed periods collapse into one catch-up run: only the two kills may leave gaps.
    assert sum(1 for g in gaps if g > 1000) <= 2, f"more than two gaps in the cron runs: {gaps}"
    missed = sum(g / 1000 - 1 for g in gaps if g > 1000)
    assert len(times) >= 30 - missed - 2, f"{len(times)} runs in a 30 s window (missed {missed} periods): {times}"
    print(f"cron: {len(times)} runs in the 30 s window, {missed:.0f} periods missed during the kills")


def test_standby_scheduler_waits_for_the_lease_and_takes_over(cluster):
    wait_until(lambda: _held_by(cluster, "scheduler"), timeout=30, message="the scheduler to hold the lease")
    standby_log = cluster.watch_log("scheduler2")
    log_start = standby_log.size()
    cluster.restart("scheduler2")
    try:
        wait_until(lambda: "scheduler lease is held by scheduler-" in standby_log.text_since(log_start),
                   timeout=30, message="scheduler2 to report that it waits for the lease")
        prefix = f"standby-{uuid.uuid4().hex[:8]}"
        ids = _schedule(cluster, "replica1", prefix, 20, "mutation")
        wait_until(lambda: _states(cluster, ids)["counts"].get("success") == 20, timeout=30, message="20 jobs to succeed")
        assert _held_by(cluster, "scheduler"), _lease_holder(cluster)
        assert "scheduler lease acquired" not in standby_log.text_since(log_start), "scheduler2 took the lease while it was held"

        killed = time.monotonic()
        cluster.kill("scheduler")
        wait_until(lambda: _held_by(cluster, "scheduler2"), timeout=10 * SCHEDULER_LEASE_SECONDS,
                   interval=0.02, message="scheduler2 to take the lease over")
        took = time.monotonic() - killed
        print(f"scheduler2 took over {took:.2f} s after the kill (lease {SCHEDULER_LEASE_SECONDS} s)")
        # The dead holder's lease runs out at most one lease after its last renewal; the standby
        # polls every third of a lease. The rest is slack for a loaded 2-core CI machine.
        assert took <= SCHEDULER_LEASE_SECONDS + 1.5, f"takeover took {took:.2f} s with a {SCHEDULER_LEASE_SECONDS} s lease"
        [job] = _schedule(cluster, "writer", prefix + "-after", 1, "mutation")
        wait_until(lambda: _states(cluster, [job])["counts"].get("success") == 1, timeout=30, message="a job under scheduler2")
        # Back to one scheduler on 3212: it starts as the standby; scheduler2 stops cleanly
        # (SIGTERM) and hands the lease back instead of letting it expire.
        cluster.restart("scheduler")
        before_stop = standby_log.size()
        cluster.script("stop", "scheduler2")
        assert "scheduler lease released" in standby_log.text_since(before_stop), standby_log.text_since(before_stop)
        wait_until(lambda: _held_by(cluster, "scheduler"), timeout=30, message="the scheduler to hold the lease again")
    finally:
        cluster.script("stop", "scheduler2", check=False)
        if cluster.health("scheduler") is None:
            cluster.restart("scheduler")
