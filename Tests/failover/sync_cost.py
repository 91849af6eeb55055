"""What synchronous replication costs, measured in one sitting: the local cluster (writer,
replica1, scheduler) is started with --sync-replicas 0, then 1, and the same HTTP mutation load
(CLIENTS threads inserting rows on the writer for SECONDS) runs against each. Prints throughput
and p50/p99 latency per setting and the ratios.

Run:  .venv/bin/python Tests/failover/sync_cost.py [SECONDS] [CLIENTS]    (no other cluster running)
"""

from __future__ import annotations

import os
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Dict, List

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "conformance"))
sys.path.insert(0, str(HERE.parent / "cluster"))

from cluster import Cluster, HttpCallError  # noqa: E402


def percentile(sorted_values: List[float], share: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(share * len(sorted_values)))]


def measure(sync_replicas: int, seconds: float, clients: int) -> Dict[str, float]:
    env = dict(os.environ)
    env["RIPPLE_SYNC_REPLICAS"] = str(sync_replicas)
    env["CHAT_DIAGNOSTICS"] = "1"  # chaos:insert
    cluster = Cluster(env)
    cluster.reset_state()
    try:
        cluster.start()
        # Warm up, and with sync 1 let the replica join the sync set.
        for _ in range(50):
            cluster.http("writer", "mutation", "chaos:insert", {"writeId": f"warm-{uuid.uuid4().hex}"})
        latencies: List[float] = []
        failures = [0]
        lock = threading.Lock()
        stop_at = time.monotonic() + seconds

        def run() -> None:
            mine: List[float] = []
            while time.monotonic() < stop_at:
                started = time.monotonic()
                try:
                    cluster.http("writer", "mutation", "chaos:insert", {"writeId": f"cost-{uuid.uuid4().hex}"})
                except HttpCallError:
                    failures[0] += 1
                    continue
                mine.append(time.monotonic() - started)
            with lock:
                latencies.extend(mine)

        threads = [threading.Thread(target=run) for _ in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        latencies.sort()
        return {
            "throughput": len(latencies) / seconds,
            "p50_ms": percentile(latencies, 0.5) * 1000,
            "p99_ms": percentile(latencies, 0.99) * 1000,
            "failures": failures[0],
        }
    finally:
        cluster.stop()


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
    clients = int(sys.argv[2]) if len(sys.argv) > 2 else 16
    results = {n: measure(n, seconds, clients) for n in (0, 1)}
    for n, r in results.items():
        print(f"SYNC_COST sync-replicas={n} clients={clients} seconds={seconds:g}: {r['throughput']:.0f} mutations/s, "
              f"p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, failures {r['failures']}")
    a, b = results[0], results[1]
    print(f"SYNC_COST ratio 1/0: throughput {b['throughput'] / a['throughput']:.2f}, "
          f"p50 {b['p50_ms'] / a['p50_ms']:.2f}, p99 {b['p99_ms'] / a['p99_ms']:.2f}")


if __name__ == "__main__":
    main()
