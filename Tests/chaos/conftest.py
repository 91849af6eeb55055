"""Fixtures for the chaos suite (Tests/chaos; see README.md).

- `chaos_cluster` (module): the chaos run's cluster (chaos.ChaosCluster: scripts/cluster with two
  replicas and the scheduler, replica1 and the scheduler behind fault-injecting proxies, replica1's
  data on a tmpfs), started from an empty `.cluster/` and always stopped at the end. Ports in use
  end the run with status 3, like the cluster suite.
- `failover_chaos_cluster` (module): the same for the failover cluster (`scripts/cluster start
  --failover`: etcd, node1..node3, the scheduler), for test_chaos_failover.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "cluster"), str(HERE.parent / "failover"), str(HERE.parent / "conformance")]

from chaos import PORTS_BUSY_STATUS, ChaosCluster, PortsBusy  # noqa: E402

SEED_VARIABLE = "RIPPLE_CHAOS_SEED"


@pytest.fixture(scope="module")
def chaos_cluster():
    yield from started_cluster(failover=False)


@pytest.fixture(scope="module")
def failover_chaos_cluster():
    yield from started_cluster(failover=True)


def started_cluster(failover: bool):
    import os
    import random

    seed = int(os.environ.get(SEED_VARIABLE) or random.randrange(1 << 31))
    handle = ChaosCluster(seed, lambda line: print(line, flush=True), failover=failover)
    try:
        try:
            handle.start()
        except PortsBusy as exc:
            pytest.exit(str(exc), returncode=PORTS_BUSY_STATUS)
        yield handle
    finally:
        handle.stop()
