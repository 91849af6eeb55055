"""The failover cluster (`scripts/cluster start --failover`) seen from outside: which node
leads, in which term, and a load of uniquely identified mutations whose outcomes are recorded."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from cluster import CLUSTER_DIR, Cluster, ClusterError, HttpCallError, health_at

#: etcd (client and peer), the candidates' client and replication ports, the scheduler.
FIXED_PORTS = [2379, 2380, 3212, 3231, 3232, 3233, 7131, 7132, 7133]
CANDIDATES = ["node1", "node2", "node3"]
#: How long a mutation waits for the writer's sync set before failing (the suite's setting).
SYNC_TIMEOUT_SECONDS = 4


def failover_port(node: str) -> int:
    if node == "scheduler":
        return 3212
    return 3230 + int(node[len("node"):])


class FailoverCluster(Cluster):
    @staticmethod
    def url(node: str) -> str:
        return f"http://127.0.0.1:{failover_port(node)}"

    def start_failover(self, timeout: float = 1800.0) -> None:
        self.script("start", "--failover", timeout=timeout)
        for node in CANDIDATES + ["scheduler"]:
            self.watch_log(node)

    def serving_nodes(self) -> List[str]:
        return CANDIDATES + ["scheduler"]

    def leadership(self, node: str) -> Optional[Dict[str, str]]:
        body = health_at(self.url(node), timeout=1.0)
        return None if body is None else body.get("leadership")

    def leader(self, newer_than: int = 0, exclude: Tuple[str, ...] = ()) -> Optional[Tuple[str, int]]:
        """The node whose /health says it is the writer of a term above `newer_than`."""
        for node in CANDIDATES:
            if node in exclude:
                continue
            info = self.leadership(node)
            if info and info.get("role") == "writer" and int(info["term"]) > newer_than:
                return node, int(info["term"])
        return None

    def wait_leader(self, newer_than: int = 0, exclude: Tuple[str, ...] = (), timeout: float = 30.0) -> Tuple[str, int]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.leader(newer_than, exclude)
            if found:
                return found
            time.sleep(0.02)
        raise ClusterError(f"no writer of a term above {newer_than} within {timeout} s\n" + self.log_tails())

    def wait_following(self, node: str, term: int, timeout: float = 30.0) -> None:
        """Waits until `node` serves as a replica (or scheduler) of `term`."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = self.leadership(node)
            if last and last.get("role") != "writer" and int(last["term"]) == term:
                return
            time.sleep(0.05)
        raise ClusterError(f"{node} does not follow term {term} within {timeout} s (last: {last})\n" + self.log_tails())

    def sync_members(self, node: str) -> Optional[List[str]]:
        """The writer's sync set as its /health shows it (None when it shows none)."""
        body = health_at(self.url(node), timeout=1.0)
        sync = None if body is None else body.get("syncReplication")
        return None if sync is None else list(sync.get("members", []))

    def wait_sync_set(self, writer: str, timeout: float = 30.0) -> List[str]:
        """Waits until `writer` has recorded a non-empty sync set, writing through it so a
        replica's ack can bring one in; returns the members."""
        deadline = time.monotonic() + timeout
        members: Optional[List[str]] = None
        while time.monotonic() < deadline:
            members = self.sync_members(writer)
            if members:
                return members
            try:
                self.http(writer, "mutation", "chaos:insert", {"writeId": f"fo-sync-{uuid.uuid4().hex}"}, timeout=10)
            except HttpCallError:
                pass
            time.sleep(0.05)
        raise ClusterError(f"{writer} has no sync set within {timeout} s (last: {members})\n" + self.log_tails())

    def write_count(self, node: str, write_id: str) -> int:
        return int(self.http(node, "query", "chaos:writeCount", {"writeId": write_id}))


@dataclass
class Load:
    """Clients inserting uniquely identified rows through the given nodes, recording each call
    as acknowledged, refused (a function error: nothing applied) or unknown (the connection
    failed: applied at most once)."""

    cluster: FailoverCluster
    nodes: List[str]
    #: (write id, when the call started, when it was acknowledged)
    acked: List[Tuple[str, float, float]] = field(default_factory=list)
    failed: List[Tuple[str, float]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: List[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, clients_per_node: int = 2) -> "Load":
        for node in self.nodes:
            for _ in range(clients_per_node):
                thread = threading.Thread(target=self._run, args=(node,), daemon=True)
                thread.start()
                self._threads.append(thread)
        return self

    def _run(self, node: str) -> None:
        while not self._stop.is_set():
            write_id = f"fo-{uuid.uuid4().hex}"
            started = time.monotonic()
            try:
                self.cluster.http(node, "mutation", "chaos:insert", {"writeId": write_id}, timeout=10)
            except HttpCallError:
                with self._lock:
                    self.failed.append((write_id, time.monotonic()))
                time.sleep(0.02)
                continue
            with self._lock:
                self.acked.append((write_id, started, time.monotonic()))

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def first_ack_after(self, instant: float) -> Optional[float]:
        """When the first call started after `instant` was acknowledged (a call in flight at
        `instant` may have been answered by the old writer)."""
        with self._lock:
            times = [done for _, started, done in self.acked if started > instant]
        return min(times) if times else None
