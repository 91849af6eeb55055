"""The nemesis: one fault at a time, chosen and timed by a seeded random generator, each healed
before the next. The seed is printed; the same seed replays the same faults in the same order
with the same timings (what the cluster does in between is up to the scheduler of the machine).

Fault kinds (every one is healed: nodes restarted, processes continued, proxies back to pass,
disk freed):
    kill-writer, kill-replica, kill-scheduler   SIGKILL, restart after a random delay
    pause                                       SIGSTOP a random node, SIGCONT after a while
    proxy-delay, proxy-drop, proxy-duplicate,   the fault-injecting proxy between the writer and
    proxy-reorder, proxy-corrupt, proxy-cut     a replica (or the scheduler), see proxy.py
    wal-damage                                  SIGKILL a replica, truncate or overwrite the tail
                                                of its SQLite WAL, restart it
    disk-full                                   fill the replica's small tmpfs data dir, then free it

With failover (`scripts/cluster start --failover`: etcd elects the writer among node1..node3),
the faults are those that make sense without a fixed writer address (no proxies, no tmpfs), and
two that move the writer:
    kill-writer-failover                        SIGKILL whoever leads now, keep it down until a
                                                replica leads in a newer term, restart it (it
                                                rejoins as a replica)
    pause-writer-failover                       SIGSTOP whoever leads now until a replica leads in
                                                a newer term, SIGCONT (fenced, it rejoins as a replica)
kill-replica, wal-damage and pause then pick among the nodes that do not lead.
"""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from cluster import CLUSTER_DIR, Cluster, ClusterError
from failover import CANDIDATES, FailoverCluster
from history import FaultRecord, History
from proxy import FaultProxy

FAULT_KINDS = (
    "kill-writer", "kill-replica", "kill-scheduler", "pause",
    "proxy-delay", "proxy-drop", "proxy-duplicate", "proxy-reorder", "proxy-corrupt", "proxy-cut",
    "wal-damage", "disk-full",
)
#: Faults that move the writer to another node (failover mode).
FAILOVERS = ("kill-writer-failover", "pause-writer-failover")
FAILOVER_FAULT_KINDS = FAILOVERS + ("kill-replica", "kill-scheduler", "pause", "wal-damage")
KILLS = ("kill-writer", "kill-replica", "kill-scheduler", "wal-damage", "kill-writer-failover")
#: Longest a failover may take (lease expiry + election) before it counts as a violation; the
#: target is 3 s on loopback with a 1 s lease (docs/operations.md), this allows a loaded machine.
ELECTION_TIMEOUT_S = 30.0
#: Longest a restarted or resumed old writer may take to serve as a replica of the new term.
REJOIN_TIMEOUT_S = 60.0
#: Longest a running node may take to answer /health again once the faults are healed. A node
#: that follows a new leader restarts its servers only after its applier stops, which waits for
#: a snapshot being installed: node1 answered nothing for 8 s that way (seed 20261207, round 19,
#: load ~20) and was taken for down and killed.
HEAL_TIMEOUT_S = REJOIN_TIMEOUT_S


def leader_of(cluster: Cluster) -> Optional[Tuple[str, int]]:
    """Who leads now, and in which term: the fixed writer of the plain cluster (term 0), or the
    failover cluster's node whose /health says it is the writer in the highest term (an old
    writer resumed after a pause may still say so for a moment, in its older term); None while
    no node leads."""
    if not isinstance(cluster, FailoverCluster):
        return "writer", 0
    claims = []
    for node in CANDIDATES:
        info = cluster.leadership(node)
        if info and info.get("role") == "writer":
            claims.append((int(info["term"]), node))
    if not claims:
        return None
    term, node = max(claims)
    return node, term


def wait_leader(cluster: Cluster, newer_than: int = -1, timeout: float = ELECTION_TIMEOUT_S) -> Optional[Tuple[str, int]]:
    """`leader_of` once a node leads in a term above `newer_than`; None after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        found = leader_of(cluster)
        if found and found[1] > newer_than:
            return found
        if time.monotonic() > deadline:
            return None
        time.sleep(0.02)


def unsynced_wal_offset(wal: Path) -> Optional[int]:
    """Where the part of a SQLite WAL that a power loss could lose begins: after the frames the
    last checkpoint copied into the database (SQLite syncs the WAL before a checkpoint, so those
    are durable; damaging them would model a broken disk, not a crash). Read from the wal-index
    (`-shm`: nBackfill at byte 96) and the WAL header (page size, big-endian, at byte 8)."""
    shm = wal.with_name(wal.name[: -len("-wal")] + "-shm")
    if not wal.exists() or not shm.exists():
        return None
    header = wal.read_bytes()[:32]
    index = shm.read_bytes()[:100]
    if len(header) < 32 or len(index) < 100:
        return None
    page_size = int.from_bytes(header[8:12], "big")
    backfilled = int.from_bytes(index[96:100], "little")
    return 32 + backfilled * (24 + page_size)


class Nemesis:
    """Injects faults into `cluster`; `proxies` maps a node to the proxy on its replication link;
    `disk` is the tmpfs mount holding `disk_node`'s data (None: disk-full is not possible here);
    `kinds` the faults it plans from; `nodes` the nodes that serve clients (all but etcd)."""

    def __init__(self, cluster: Cluster, history: History, rng: random.Random, proxies: Dict[str, FaultProxy],
                 disk: Optional[Path], disk_node: str, data_dirs: Dict[str, Path], log: Callable[[str], None],
                 kinds: Sequence[str] = FAULT_KINDS, nodes: Optional[List[str]] = None):
        self.kinds = kinds
        self.nodes = nodes if nodes is not None else cluster.nodes()
        self.failover = isinstance(cluster, FailoverCluster)
        self.cluster = cluster
        self.history = history
        self.rng = rng
        self.proxies = proxies
        self.disk = disk
        self.disk_node = disk_node
        self.data_dirs = data_dirs
        self.log = log

    def plan(self, count: int) -> List[str]:
        """`count` faults covering every kind it can (each at least once when count allows)."""
        kinds = [k for k in self.kinds if k != "disk-full" or self.disk is not None]
        faults = list(kinds) if count >= len(kinds) else []
        while len(faults) < count:
            faults.append(self.rng.choice(kinds))
        self.rng.shuffle(faults)
        return faults

    def inject(self, kind: str) -> FaultRecord:
        if kind.startswith("proxy-"):
            return self._proxy(kind[len("proxy-"):])
        return getattr(self, "_" + kind.replace("-", "_"))()

    # -- kills and pauses --------------------------------------------------------------------------

    def _replicas(self) -> List[str]:
        """The nodes that replicate the writer's log and are not the scheduler."""
        if self.failover:
            leader = leader_of(self.cluster)
            return [n for n in CANDIDATES if leader is None or n != leader[0]]
        return [n for n in self.cluster.nodes() if n.startswith("replica")]

    def _kill_and_restart(self, kind: str, node: str, before_restart: Optional[Callable[[], str]] = None) -> FaultRecord:
        delay = self.rng.uniform(0.5, 4.0)
        record = self.history.fault(FaultRecord(kind, node, time.time()))
        self.cluster.kill(node)
        time.sleep(delay)
        if before_restart is not None:
            record.detail = before_restart()
        self._restart(node)
        record.healed = time.time()
        record.detail = (record.detail + f"; down {delay:.1f} s").lstrip("; ")
        return record

    def _restart(self, node: str) -> None:
        for attempt in range(3):
            try:
                self.cluster.restart(node)
                return
            except ClusterError as exc:
                self.history.violation("node-restart", f"{node} did not come back after a fault (attempt {attempt + 1}): {str(exc)[:2000]}")
                time.sleep(1)

    def _kill_writer(self) -> FaultRecord:
        return self._kill_and_restart("kill-writer", "writer")

    def _kill_replica(self) -> FaultRecord:
        return self._kill_and_restart("kill-replica", self.rng.choice(self._replicas()))

    def _kill_scheduler(self) -> FaultRecord:
        return self._kill_and_restart("kill-scheduler", "scheduler")

    def _pause(self) -> FaultRecord:
        # With failover, a pause of the writer is pause-writer-failover's (it moves the writer).
        node = self.rng.choice(self._replicas() + ["scheduler"] if self.failover else self.nodes)
        pid = int((CLUSTER_DIR / f"{node}.pid").read_text())
        hold = self.rng.uniform(0.5, 4.0)
        record = self.history.fault(FaultRecord("pause", node, time.time(), detail=f"SIGSTOP {hold:.1f} s"))
        os.kill(pid, signal.SIGSTOP)
        try:
            time.sleep(hold)
        finally:
            os.kill(pid, signal.SIGCONT)
        record.healed = time.time()
        return record

    # -- failovers --------------------------------------------------------------------------------

    def _kill_writer_failover(self) -> FaultRecord:
        """SIGKILL whoever leads; once a replica leads in a newer term (the lease expired), the
        old writer stays down a little longer, then restarts and must rejoin as a replica."""
        def restart_later(node: str, pid: int) -> None:
            time.sleep(self.rng.uniform(0.5, 3.0))
            self._restart(node)

        return self._failover("kill-writer-failover", lambda node, pid: self.cluster.kill(node), restart_later)

    def _pause_writer_failover(self) -> FaultRecord:
        """SIGSTOP whoever leads until a replica leads in a newer term, then SIGCONT: the old
        writer must find itself fenced (its lease gone) and rejoin as a replica."""
        return self._failover("pause-writer-failover", lambda node, pid: os.kill(pid, signal.SIGSTOP),
                              lambda node, pid: os.kill(pid, signal.SIGCONT))

    def _failover(self, kind: str, fail: Callable[[str, int], None], recover: Callable[[str, int], None]) -> FaultRecord:
        """Fails the current writer with `fail`, waits for the election, recovers it with
        `recover` and waits until it follows. A missing election or rejoin is a violation."""
        found = wait_leader(self.cluster)
        if found is None:
            self.history.violation("failover", f"{kind}: no node leads before the fault")
            return self.history.fault(FaultRecord(kind, "-", time.time(), time.time(), "no leader to fail"))
        leader, term = found
        pid = int((CLUSTER_DIR / f"{leader}.pid").read_text())
        record = self.history.fault(FaultRecord(kind, leader, time.time(), detail=f"term {term}"))
        try:
            fail(leader, pid)
            elected = wait_leader(self.cluster, newer_than=term)
            if elected is None:
                self.history.violation("failover", f"{kind}: no node leads in a term above {term} within {ELECTION_TIMEOUT_S} s "
                                                   f"of failing {leader}\n{self.cluster.log_tails(20)}")
            else:
                record.new_leader, record.term, record.elected = elected[0], elected[1], time.time()
        finally:
            recover(leader, pid)
        self._await_rejoined(leader, record)
        record.healed = time.time()
        elected_after = f"{record.elected - record.started:.1f} s" if record.elected else "never"
        record.detail = f"term {term} -> {record.new_leader or '?'} term {record.term or '?'} after {elected_after}"
        return record

    def _await_rejoined(self, node: str, record: FaultRecord) -> None:
        deadline = time.monotonic() + REJOIN_TIMEOUT_S
        last = None
        while time.monotonic() < deadline:
            last = self.cluster.leadership(node)
            if last and last.get("role") != "writer" and int(last["term"]) >= record.term:
                return
            time.sleep(0.05)
        self.history.violation("failover-rejoin", f"{record.kind}: the old writer {node} does not serve as a replica of "
                                                  f"term {record.term} within {REJOIN_TIMEOUT_S} s (last: {last})")

    def _wait_serving(self, node: str, timeout: float) -> Optional[float]:
        """Seconds until `node` answered /health, or None when it did not within `timeout`."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.cluster.health(node, timeout=5) is not None:
                return time.monotonic() - started
            time.sleep(0.2)
        return None

    def _wal_damage(self) -> FaultRecord:
        node = self.rng.choice(self._replicas())

        def damage() -> str:
            wal = self.data_dirs[node] / "ripple.sqlite3-wal"
            size = wal.stat().st_size if wal.exists() else 0
            start = unsynced_wal_offset(wal)
            if start is None or start >= size:
                return f"{wal.name}: {size} bytes, all checkpointed (synced): nothing a power loss could lose"
            start = max(start, size - 64 * 1024)
            cut = self.rng.randint(start, size - 1)
            if self.rng.random() < 0.5:
                os.truncate(wal, cut)
                return f"WAL truncated from {size} to {cut} bytes (unsynced tail from {start})"
            with open(wal, "r+b") as f:
                f.seek(cut)
                f.write(bytes(self.rng.randrange(256) for _ in range(min(size - cut, 32))))
            return f"WAL of {size} bytes: {min(size - cut, 32)} random bytes written at {cut} (unsynced tail from {start})"

        return self._kill_and_restart("wal-damage", node, damage)

    # -- the replication link ---------------------------------------------------------------------

    def _proxy(self, fault: str) -> FaultRecord:
        node = self.rng.choice(sorted(self.proxies))
        proxy = self.proxies[node]
        hold = self.rng.uniform(1.0, 5.0)
        probability = self.rng.uniform(0.05, 0.5)
        delay = self.rng.uniform(0.05, 0.5)
        detail = {"delay": f"{delay * 1000:.0f} ms a chunk", "duplicate": f"p={probability:.2f}", "reorder": f"p={probability:.2f}",
                  "corrupt": f"p={probability:.2f}", "drop": "connections closed", "cut": "link cut"}[fault]
        record = self.history.fault(FaultRecord(f"proxy-{fault}", node, time.time(), detail=f"{detail} for {hold:.1f} s"))
        if fault == "drop":
            # Close the live connections a few times while the fault lasts.
            end = time.time() + hold
            while time.time() < end:
                proxy.set_fault("drop")
                proxy.set_fault("pass")
                time.sleep(self.rng.uniform(0.2, 1.0))
        else:
            proxy.set_fault(fault, probability=probability, delay_s=delay)
            time.sleep(hold)
            proxy.set_fault("pass")
        record.healed = time.time()
        return record

    # -- the disk ---------------------------------------------------------------------------------

    def _disk_full(self) -> FaultRecord:
        assert self.disk is not None
        hold = self.rng.uniform(1.0, 5.0)
        ballast = self.disk / "ballast"
        record = self.history.fault(FaultRecord("disk-full", self.disk_node, time.time()))
        written = 0
        try:
            with open(ballast, "wb") as f:
                chunk = b"\0" * (1 << 20)
                while True:
                    try:
                        f.write(chunk)
                        f.flush()
                        written += len(chunk)
                    except OSError:
                        break
        except OSError:
            pass
        time.sleep(hold)
        ballast.unlink(missing_ok=True)
        record.healed = time.time()
        record.detail = f"{written >> 20} MiB ballast, full for {hold:.1f} s"
        return record

    def heal(self) -> None:
        """Everything back to normal: proxies pass, ballast gone, every node running."""
        for proxy in self.proxies.values():
            proxy.set_fault("pass")
        if self.disk is not None:
            (self.disk / "ballast").unlink(missing_ok=True)
        for node in self.nodes:
            if self.cluster.health(node) is None:
                pid_file = CLUSTER_DIR / f"{node}.pid"
                if pid_file.exists():
                    try:
                        os.kill(int(pid_file.read_text()), signal.SIGCONT)
                    except (OSError, ValueError):
                        pass
                    waited = self._wait_serving(node, HEAL_TIMEOUT_S)
                    if waited is not None:
                        self.log(f"  heal: {node} answered /health after {waited:.1f} s")
                        continue
                self.history.violation("node-down", f"{node} was not answering /health after its fault was healed; "
                                                    f"log tail:\n{self.cluster.watch_log(node).tail(30)}")
                self._restart(node)
