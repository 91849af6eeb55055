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
"""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

from cluster import CLUSTER_DIR, Cluster, ClusterError
from history import FaultRecord, History
from proxy import FaultProxy

FAULT_KINDS = (
    "kill-writer", "kill-replica", "kill-scheduler", "pause",
    "proxy-delay", "proxy-drop", "proxy-duplicate", "proxy-reorder", "proxy-corrupt", "proxy-cut",
    "wal-damage", "disk-full",
)
KILLS = ("kill-writer", "kill-replica", "kill-scheduler", "wal-damage")


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
    `disk` is the tmpfs mount holding `disk_node`'s data (None: disk-full is not possible here)."""

    def __init__(self, cluster: Cluster, history: History, rng: random.Random, proxies: Dict[str, FaultProxy],
                 disk: Optional[Path], disk_node: str, data_dirs: Dict[str, Path], log: Callable[[str], None]):
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
        kinds = [k for k in FAULT_KINDS if k != "disk-full" or self.disk is not None]
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
        node = self.rng.choice(self.cluster.nodes())
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
        for node in self.cluster.nodes():
            if self.cluster.health(node) is None:
                pid_file = CLUSTER_DIR / f"{node}.pid"
                if pid_file.exists():
                    try:
                        os.kill(int(pid_file.read_text()), signal.SIGCONT)
                    except (OSError, ValueError):
                        pass
                    if self.cluster.health(node, timeout=5) is not None:
                        continue
                self.history.violation("node-down", f"{node} was not answering /health after its fault was healed; "
                                                    f"log tail:\n{self.cluster.watch_log(node).tail(30)}")
                self._restart(node)
