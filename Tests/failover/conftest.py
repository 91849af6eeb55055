"""Fixtures for the writer failover suite (issue 14).

Run:  .venv/bin/python -m pytest -q -s Tests/failover      (scripts/test does, after the cluster suite)

`failover_cluster` (session): resets `.cluster/`, runs `scripts/cluster start --failover` (a local
etcd on 2379 and nodes node1..node3 that elect their writer, plus the scheduler) with a 1 s
leader lease, and always runs `scripts/cluster stop` at the end. If one of its fixed ports is
taken the run stops at once with status 3 (another cluster is running).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "conformance"))
sys.path.insert(0, str(HERE.parent / "cluster"))

from cluster import CLUSTER_DIR, port_open  # noqa: E402  (Tests/cluster)
from failover import FIXED_PORTS, SYNC_TIMEOUT_SECONDS, FailoverCluster  # noqa: E402

PORTS_BUSY_STATUS = 3


@pytest.fixture(scope="session")
def failover_cluster():
    busy = [port for port in FIXED_PORTS if port_open(port)]
    if busy:
        pytest.exit(f"ports {busy} are in use: another cluster is running; not touching it", returncode=PORTS_BUSY_STATUS)
    env = dict(os.environ)
    env["RIPPLE_LEADER_LEASE_SECONDS"] = "1"
    # Synchronous replication as `scripts/cluster` starts it, with a short wait for the sync
    # set so the test of writes without an in-sync replica is quick.
    env["RIPPLE_SYNC_REPLICAS"] = "1"
    env["RIPPLE_SYNC_TIMEOUT_SECONDS"] = str(SYNC_TIMEOUT_SECONDS)
    env["CHAT_DIAGNOSTICS"] = "1"  # the chaos:* functions the load calls
    cluster = FailoverCluster(env)
    cluster.reset_state()
    # What reset_state leaves: etcd's data, the mode file and the candidates' data and logs.
    for path in CLUSTER_DIR.iterdir():
        if path.name in ("etcd", "mode", "etcd.log") or path.name.startswith("node"):
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
    try:
        cluster.start_failover()
        yield cluster
    finally:
        cluster.stop()
