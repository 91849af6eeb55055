"""A replica prunes its own commit log (issue 11, item 8), against the real local cluster.

replica1 is restarted with a tiny retention (5 commits, a pass every 0.5 s); after 30 mutations
on the writer its `/health` `logPrunedThrough` passes the commits written before them, while it
keeps following the writer. It gets the normal retention back afterwards.
"""

from __future__ import annotations

import time
import uuid


def _pruned_through(cluster, node: str) -> int:
    health = cluster.health(node) or {}
    return int(health.get("logPrunedThrough") or 0)


def test_replica_prunes_its_commit_log(cluster, user):
    node = "replica1"
    saved_env = dict(cluster.env)
    cluster.env.update({"RIPPLE_LOG_RETENTION_COMMITS": "5", "RIPPLE_LOG_PRUNE_INTERVAL": "0.5"})
    try:
        cluster.restart(node)
        before_ts = cluster.applied_ts("writer")
        cluster.wait_caught_up(node, before_ts)
        channel = cluster.http("writer", "mutation", "channels:create", {"name": f"prune-{uuid.uuid4().hex[:8]}"}, token=user.token)
        for i in range(30):
            cluster.http("writer", "mutation", "messages:sendMessage", {"channelId": channel, "content": f"prune-{i}"}, token=user.token)
        written_ts = cluster.applied_ts("writer")
        cluster.wait_caught_up(node, written_ts)

        deadline = time.monotonic() + 30
        while _pruned_through(cluster, node) <= before_ts and time.monotonic() < deadline:
            time.sleep(0.2)
        pruned = _pruned_through(cluster, node)
        assert pruned > before_ts, f"{node} did not prune its log: /health {cluster.health(node)}"
        assert pruned < written_ts, f"{node} pruned through {pruned}, past its newest commit {written_ts}"
        args = {"channelId": channel}
        assert cluster.http(node, "query", "messages:getMessages", args) == cluster.http("writer", "query", "messages:getMessages", args)
    finally:
        cluster.env.clear()
        cluster.env.update(saved_env)
        cluster.restart(node)
