"""Snapshot bootstrap (issue "Cluster", item 4), against the real local cluster.

The writer is restarted with a tiny commit-log retention, so its pruner (every 0.5 s) deletes all
but the newest few commits. A brand-new replica then cannot follow the log from 0: the writer
sends it a snapshot, it installs it, follows the tail, and hashes like every other node.
The writer gets its normal retention back afterwards (the pruned log stays pruned).
"""

from __future__ import annotations

import os
import time
import uuid

from cluster import CLUSTER_DIR

CATCH_UP_TIMEOUT = float(os.environ.get("RIPPLE_CLUSTER_CATCH_UP_TIMEOUT", "120"))


def _pruned_through(cluster) -> int:
    health = cluster.health("writer") or {}
    return int(health.get("logPrunedThrough") or 0)


def test_new_replica_bootstraps_from_a_snapshot_after_pruning(cluster, user):
    saved_env = dict(cluster.env)
    cluster.env.update({"RIPPLE_LOG_RETENTION_COMMITS": "5", "RIPPLE_LOG_PRUNE_INTERVAL": "0.5"})
    try:
        cluster.restart("writer")
        before_ts = cluster.applied_ts("writer")
        channel = cluster.http("writer", "mutation", "channels:create", {"name": f"snap-{uuid.uuid4().hex[:8]}"}, token=user.token)
        assert isinstance(channel, str) and channel
        for i in range(30):
            cluster.http("writer", "mutation", "messages:sendMessage", {"channelId": channel, "content": f"before-snapshot-{i}"},
                         token=user.token)
        written_ts = cluster.applied_ts("writer")

        # The pruner keeps 5 commits: the pruned point passes the commits written above.
        deadline = time.monotonic() + 30
        while _pruned_through(cluster) <= before_ts and time.monotonic() < deadline:
            time.sleep(0.2)
        pruned = _pruned_through(cluster)
        assert pruned > before_ts, f"the writer did not prune its log: /health {cluster.health('writer')}"

        node = "replica3"
        data_dir = CLUSTER_DIR / node
        assert not data_dir.exists() or not any(data_dir.iterdir()), f"{data_dir} is not empty: not a brand-new replica"
        started = time.monotonic()
        cluster.add_node(node)
        cluster.restart(node)
        health = cluster.wait_caught_up(node, written_ts, timeout=CATCH_UP_TIMEOUT)
        seconds = time.monotonic() - started
        assert health.get("role") == "replica", f"/health: {health}"
        log = (CLUSTER_DIR / f"{node}.log").read_text(errors="replace")
        assert "installed snapshot" in log, f"{node} caught up without a snapshot although the log was pruned through {pruned}"

        cluster.wait_all_caught_up(timeout=CATCH_UP_TIMEOUT)
        args = {"channelId": channel}
        assert cluster.http(node, "query", "messages:getMessages", args) == cluster.http("writer", "query", "messages:getMessages", args)
        cluster.assert_hashes_equal(cluster.nodes())

        # The tail after the snapshot: a write through the new replica is read back from it.
        message = cluster.http(node, "mutation", "messages:sendMessage", {"channelId": channel, "content": "after-snapshot"},
                               token=user.token)
        assert message in [m["_id"] for m in cluster.http(node, "query", "messages:getMessages", args)]
        cluster.wait_all_caught_up(timeout=CATCH_UP_TIMEOUT)
        cluster.assert_hashes_equal(cluster.nodes())
        print(f"{node} bootstrapped from a snapshot (log pruned through {pruned}) in {seconds:.1f} s")
    finally:
        cluster.env.clear()
        cluster.env.update(saved_env)
        cluster.restart("writer")
