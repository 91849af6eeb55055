"""A chaos run: the real cluster (scripts/cluster: writer, replica1, replica2, scheduler), the
workload, the nemesis, and the checker after every round.

    python Tests/chaos/chaos.py [--rounds N] [--clients N] [--faults N] [--seed S] [--failover]

A round starts the workload, injects `--faults` faults one after another (every kind at least
once when there are enough), stops the workload, heals everything, waits until every node has
applied the writer's log, and checks the whole history so far. replica1 reaches the writer through
a fault-injecting proxy (7101) and keeps its data on a small tmpfs (disk-full; needs root, else
that fault is skipped and said so); the scheduler goes through a second proxy (7102); replica2
connects directly. The summary table ends with one line:

    CHAOS rounds=N kills=N acked=N failed=N unknown=N lost=N duplicated=N violations=N client_resend_duplicates=N

(`duplicated` and `violations` leave out what the official Python client's resend explains:
that is `client_resend_duplicates`, with its evidence in the table.)

`--failover` runs the cluster of `scripts/cluster start --failover` instead (a local etcd elects
the writer among node1..node3; the scheduler on 3212) with the faults of
nemesis.FAILOVER_FAULT_KINDS: the writer killed or paused until another node leads, and back as a
replica. The checker is the same, without relaxation; the summary adds, per failover, the old and
new leader, the term and how long writes were unavailable, and the CHAOS line ends with
`failovers=N unavailable_median_s=X unavailable_max_s=Y`. Exit status 0 when no violation was found, 1 otherwise, 3 when the cluster's ports are taken.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "cluster"), str(HERE.parent / "failover"), str(HERE.parent / "conformance")]

from checker import (check_balances, check_crons, check_hashes, check_jobs, check_observations,  # noqa: E402
                     check_read_your_writes, check_writes, failover_unavailability, unavailability)
from cluster import CLUSTER_DIR, FIXED_PORTS, Cluster, ClusterError, node_port, port_open  # noqa: E402
from failover import CANDIDATES, FailoverCluster, failover_port  # noqa: E402
from failover import FIXED_PORTS as FAILOVER_PORTS  # noqa: E402
from history import ACKED, ClientResend, History, Violation  # noqa: E402
from nemesis import FAILOVER_FAULT_KINDS, FAILOVERS, FAULT_KINDS, KILLS, Nemesis, leader_of, wait_leader  # noqa: E402
from proxy import FaultProxy  # noqa: E402
from workload import ACCOUNTS, INITIAL_BALANCE, Workload, account  # noqa: E402

PROXY_PORTS = {"replica1": 7101, "scheduler": 7102}
DISK_NODE = "replica1"
DISK_DIR = CLUSTER_DIR / "chaos-disk"
#: A tmpfs holds memory only for what is written. 256 MiB was too small for the long form:
#: replica1's own data filled it for good in round 42 of 50 (2026-12-02, ~270k writes).
DISK_SIZE = "1g"
NODES = ["writer", "replica1", "scheduler", "replica2"]
FAILOVER_NODES = CANDIDATES + ["scheduler"]
PORTS_BUSY_STATUS = 3
#: The summary lists the evidence of this many client resends (all are counted).
MAX_RESENDS_LISTED = 20
#: Characters of each violation's evidence logged after a round (the summary has it all).
MAX_EVIDENCE_LOGGED = 2000


def mount_disk(log: Callable[[str], None]) -> Optional[Path]:
    """A tmpfs for DISK_NODE's data (fresh every run), or None when it cannot be mounted."""
    DISK_DIR.mkdir(parents=True, exist_ok=True)
    mounted = any(line.split()[1] == str(DISK_DIR) for line in Path("/proc/mounts").read_text().splitlines())
    if mounted:
        subprocess.run(["umount", str(DISK_DIR)], check=False)
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_SIZE}", "tmpfs", str(DISK_DIR)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        log(f"disk-full fault skipped: cannot mount a tmpfs at {DISK_DIR} ({result.stdout.decode().strip()}); run as root "
            f"in a private mount namespace")
        return None
    return DISK_DIR


class ChaosCluster:
    """The cluster with its proxies and disk, started from an empty .cluster/; with `failover`,
    the failover cluster (etcd, node1..node3, the scheduler), without proxies or tmpfs: its
    nodes find the writer through etcd, so no fixed address can be put behind a proxy."""

    def __init__(self, seed: int, log: Callable[[str], None], failover: bool = False):
        self.seed = seed
        self.log = log
        self.failover = failover
        self.disk: Optional[Path] = None
        self.proxies: Dict[str, FaultProxy] = {}
        self.cluster: Optional[Cluster] = None
        #: The nodes that serve clients (the workload's and the checker's).
        self.nodes = FAILOVER_NODES if failover else NODES
        self.fault_kinds = FAILOVER_FAULT_KINDS if failover else FAULT_KINDS
        self.port_of: Callable[[str], int] = failover_port if failover else node_port

    def start(self) -> Cluster:
        ports = FAILOVER_PORTS if self.failover else FIXED_PORTS + list(PROXY_PORTS.values())
        busy = [port for port in ports if port_open(port)]
        if busy:
            raise PortsBusy(f"ports {busy} are in use: another cluster is running")
        env = dict(os.environ)
        for var in ("RIPPLE_DATA", "RIPPLE_LISTEN", "RIPPLE_NODE_ID", "RIPPLE_WRITER", "RIPPLE_REPLICATION_LISTEN"):
            env.pop(var, None)
        env.update({"CHAT_DIAGNOSTICS": "1", "CHAT_TEST_CRON": "1", "RIPPLE_SCHEDULER_LEASE_SECONDS": "1"})
        # A node that crashes must die: with the Swift backtracer on, a crashed node (a writer
        # stepping down, docs/reliability.md) went on half alive for minutes, holding its ports,
        # and its restart could never bind them. The runtime still logs the fatal error.
        env["SWIFT_BACKTRACE"] = "enable=no"
        if self.failover:
            return self._start_failover(env)
        for node, port in PROXY_PORTS.items():
            self.proxies[node] = FaultProxy(node, port, 7100, seed=random.Random(f"{self.seed}-{node}").randrange(1 << 32))
            env[f"RIPPLE_CLUSTER_WRITER_{node.upper()}"] = f"127.0.0.1:{port}"
        self.cluster = Cluster(env)
        self.cluster.reset_state()
        self.disk = mount_disk(self.log)
        if self.disk is not None:
            env[f"RIPPLE_CLUSTER_DATA_{DISK_NODE.upper()}"] = str(self.disk / DISK_NODE)
        self.cluster.start(replicas=2)
        self.cluster.wait_all_caught_up(timeout=120)
        self.cluster.http("writer", "mutation", "chaos:setup", {"accounts": ACCOUNTS, "balance": INITIAL_BALANCE})
        self.cluster.wait_all_caught_up(timeout=120)
        return self.cluster

    def _start_failover(self, env: Dict[str, str]) -> Cluster:
        env["RIPPLE_LEADER_LEASE_SECONDS"] = "1"
        self.cluster = FailoverCluster(env)
        self.cluster.reset_state()
        # What reset_state leaves of a failover cluster: etcd's data, the mode file, the candidates.
        for path in CLUSTER_DIR.iterdir():
            if path.name in ("etcd", "mode", "etcd.log") or path.name.startswith("node"):
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink()
        self.cluster.start_failover()
        wait_caught_up(self.cluster, timeout=120)
        self.cluster.http(writer_node(self.cluster), "mutation", "chaos:setup", {"accounts": ACCOUNTS, "balance": INITIAL_BALANCE})
        wait_caught_up(self.cluster, timeout=120)
        return self.cluster

    def data_dirs(self) -> Dict[str, Path]:
        dirs = {node: CLUSTER_DIR / node for node in self.nodes}
        if self.disk is not None:
            dirs[DISK_NODE] = self.disk / DISK_NODE
        return dirs

    def stop(self) -> None:
        if self.cluster is not None:
            self.cluster.stop()
        for proxy in self.proxies.values():
            proxy.close()
        if self.disk is not None:
            subprocess.run(["umount", str(self.disk)], check=False)


class PortsBusy(Exception):
    pass


def writer_node(cluster: Cluster) -> str:
    """The node that leads now (waits for an election in progress); the checker reads there."""
    found = wait_leader(cluster, timeout=60)
    if found is None:
        raise ClusterError("no node leads: no writer elected within 60 s\n" + cluster.log_tails(20))
    return found[0]


def serving_nodes(cluster: Cluster) -> List[str]:
    return FAILOVER_NODES if isinstance(cluster, FailoverCluster) else cluster.nodes()


def wait_caught_up(cluster: Cluster, timeout: float) -> int:
    """Until every node has applied the writer's current ts (the plain cluster: also as the
    writer's /health reports them); returns that ts."""
    if not isinstance(cluster, FailoverCluster):
        return cluster.wait_all_caught_up(timeout=timeout)
    writer = writer_node(cluster)
    ts = cluster.applied_ts(writer)
    for node in FAILOVER_NODES:
        if node != writer:
            cluster.wait_caught_up(node, ts, timeout)
    return ts


def sample_lag(cluster: Cluster, history: History, stop: threading.Event) -> None:
    """Every 0.5 s, how far each replica is behind the writer (writer's /health view)."""
    while not stop.wait(0.5):
        found = leader_of(cluster)
        writer = cluster.health(found[0], timeout=1) if found else None
        if not writer:
            continue
        writer_ts = int(writer["appliedTs"])
        for node, view in (writer.get("replicas") or {}).items():
            history.sample_lag({"node": node, "at": time.time(), "commits": view.get("lagCommits") or 0,
                                "ms": max(0, (writer_ts - int(view["appliedTs"])) / 1e6)})


def read_final_state(cluster: Cluster) -> Dict[str, Any]:
    writer = writer_node(cluster)
    effects: Counter = Counter()
    after = ""
    while True:
        page = cluster.http(writer, "query", "chaos:writes", {"after": after, "limit": 5000})
        effects.update(page)
        if len(page) < 5000:
            break
        after = page[-1]
    accounts = cluster.http(writer, "query", "chaos:accounts", {})
    counters = cluster.http(writer, "query", "chaos:counters", {"prefix": "chaos-ctr"})
    return {"effects": effects, "balances": accounts["balances"], "counters": counters}


def check_scheduled(cluster: Cluster, history: History, first_operation: int = 0,
                    timeout: float = 90.0) -> Tuple[List[Violation], List[ClientResend]]:
    """The batches of `history.operations[first_operation:]` (one query or two per batch: the
    rounds before the last check only their own, the last round all) and the crons."""
    batches = [op for op in history.operations[first_operation:] if op.kind == "schedule"]
    writer = writer_node(cluster)
    deadline = time.monotonic() + timeout
    results = []
    for op in batches:
        states = None
        if op.outcome == ACKED and isinstance(op.value, list):
            while True:
                states = cluster.http(writer, "query", "diagnostics:jobStatesOf", {"ids": op.value})["counts"]
                if not (states.get("pending") or states.get("inProgress")) or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
        stats = cluster.http(writer, "query", "diagnostics:runStats", {"prefix": op.args["prefix"]})
        results.append((op, stats, states))
    violations, resends = check_jobs(results)
    return violations + check_crons(cluster.http(writer, "query", "diagnostics:cronStats", {})), resends


def check_round(cluster: Cluster, history: History, first_scheduled: int = 0) -> Dict[str, Any]:
    """The checker over the whole history (scheduled batches from `first_scheduled` on, see
    check_scheduled). "client_resends": writeId -> evidence of the official client's resends."""
    wait_caught_up(cluster, timeout=180)
    final = read_final_state(cluster)
    write_violations, counts, resends = check_writes(history.operations, final["effects"])
    read_violations, read_resends = check_read_your_writes(history.operations, final["effects"])
    initial = {account(i): INITIAL_BALANCE for i in range(ACCOUNTS)}
    violations = list(history.violations) + write_violations + read_violations
    violations += check_balances(history.operations, final["effects"], initial, final["balances"], final["counters"])
    violations += check_observations(history.observations, INITIAL_BALANCE * ACCOUNTS)
    job_violations, job_resends = check_scheduled(cluster, history, first_scheduled)
    violations += job_violations
    client_resends: Dict[str, List[str]] = defaultdict(list)
    for resend in resends + read_resends + job_resends:
        client_resends[resend.write_id].append(resend.evidence)
    wait_caught_up(cluster, timeout=180)
    try:
        violations += check_hashes(cluster.hash_lines(), serving_nodes(cluster))
    except ClusterError as exc:
        violations.append(Violation("hashes", str(exc)[:2000]))
    return {"violations": violations, "client_resends": dict(client_resends), **counts}


def failover_lines(failovers: List[Dict[str, Any]]) -> List[str]:
    """The summary's table of the faults that moved the writer."""
    lines = ["", f"{'failover':<22} {'old leader':<10} {'new leader':<10} {'term':>5} {'elected after s':>16} {'writes unavailable s':>21}"]
    for f in failovers:
        elected = f"{f['elected_s']:.2f}" if f["elected_s"] is not None else "never"
        lines.append(f"{f['kind']:<22} {f['old_leader']:<10} {f['new_leader'] or '-':<10} {f['term'] or '-':>5} {elected:>16} "
                     f"{f['seconds']:>21.2f}")
    return lines


def summary(history: History, rounds: int, result: Dict[str, Any], seed: int, kinds: Tuple[str, ...] = FAULT_KINDS,
            failover: bool = False) -> str:
    outcomes = history.outcomes()
    counts = Counter(f.kind for f in history.faults)
    per_kind: Dict[str, List[float]] = defaultdict(list)
    for u in unavailability(history):
        per_kind[u["kind"]].append(u["seconds"])
    lines = [f"seed {seed}", "", f"{'fault':<22} {'count':>5} {'writes unavailable s (median / max)':>38}"]
    for kind in kinds:
        values = per_kind.get(kind, [])
        stat = f"{statistics.median(values):.2f} / {max(values):.2f}" if values else "-"
        lines.append(f"{kind:<22} {counts.get(kind, 0):>5} {stat:>38}")
    failovers = failover_unavailability(history, FAILOVERS) if failover else []
    if failover:
        lines += failover_lines(failovers)
        first, last = result.get("terms", (None, None))
        if first is not None and last is not None:
            lines.append(f"terms {first} -> {last}: {last - first} elections, {len(failovers)} failover faults")
    lag = max((s["ms"] for s in history.lag_samples), default=0.0)
    lag_commits = max((s["commits"] for s in history.lag_samples), default=0)
    by_kind = Counter((op.kind, op.outcome) for op in history.operations)
    lines += ["", f"{'mutation':<10} {'acked':>8} {'refused':>8} {'unknown':>8}"]
    for kind in ("insert", "transfer", "increment", "schedule"):
        lines.append(f"{kind:<10} {by_kind[(kind, 'acked')]:>8} {by_kind[(kind, 'refused')]:>8} {by_kind[(kind, 'unknown')]:>8}")
    observations = len(history.observations)
    lines += ["", f"subscriber results checked: {observations}; max replication lag: {lag:.0f} ms ({lag_commits} commits)",
              f"violations: {len(result['violations'])}"]
    lines += [f"  {v}" for v in result["violations"]]
    resends = result.get("client_resends", {})
    lines.append(f"client_resend_duplicates: {len(resends)} (official Python client writers applied twice by its resend "
                 f"under a new session id; not violations, docs/reliability.md)")
    lines += [f"  {write_id}: {' | '.join(evidence)}" for write_id, evidence in sorted(resends.items())[:MAX_RESENDS_LISTED]]
    if len(resends) > MAX_RESENDS_LISTED:
        lines.append(f"  … and {len(resends) - MAX_RESENDS_LISTED} more")
    kills = sum(counts.get(k, 0) for k in KILLS)
    line = (f"CHAOS rounds={rounds} kills={kills} acked={outcomes['acked']} failed={outcomes['refused']} "
            f"unknown={outcomes['unknown']} lost={result.get('lost', 0)} duplicated={result.get('duplicated', 0)} "
            f"violations={len(result['violations'])} client_resend_duplicates={len(resends)}")
    if failover:
        unavailable = [f["seconds"] for f in failovers]
        median = statistics.median(unavailable) if unavailable else 0.0
        line += f" failovers={len(failovers)} unavailable_median_s={median:.2f} unavailable_max_s={max(unavailable, default=0.0):.2f}"
    lines.append(line)
    return "\n".join(lines)


def run(rounds: int, clients: int, faults: int, seed: int, ws_share: float = 0.2,
        log: Callable[[str], None] = print, chaos: Optional[ChaosCluster] = None, failover: bool = False) -> Dict[str, Any]:
    """Runs the chaos rounds on `chaos` (started here and stopped at the end when None; its
    `failover` then decides which cluster); returns {"violations", "summary", "history", "lost",
    "duplicated"}."""
    failover = chaos.failover if chaos is not None else failover
    log(f"chaos: seed {seed} (replay with --seed {seed}{' --failover' if failover else ''}); {rounds} rounds of {faults} faults; "
        f"{clients} clients")
    rng = random.Random(seed)
    history = History()
    owned = chaos is None
    result: Dict[str, Any] = {"violations": []}
    rounds_run = 0
    first_leader = None
    work_dir = Path(tempfile.mkdtemp(prefix="ripple-chaos-"))
    lag_stop = threading.Event()
    try:
        if chaos is None:
            chaos = ChaosCluster(seed, log, failover)
            chaos.start()
        cluster = chaos.cluster
        nemesis = Nemesis(cluster, history, rng, chaos.proxies, chaos.disk, DISK_NODE, chaos.data_dirs(), log,
                          kinds=chaos.fault_kinds, nodes=chaos.nodes)
        threading.Thread(target=sample_lag, args=(cluster, history, lag_stop), daemon=True).start()
        first_leader = leader_of(cluster)
        for round_number in range(1, rounds + 1):
            round_start = len(history.operations)
            workload = Workload(history, chaos.nodes, seed * 1000 + round_number, clients, ws_share, work_dir, label=f"r{round_number}",
                                port_of=chaos.port_of)
            workload.start()
            time.sleep(2)
            for kind in nemesis.plan(faults):
                time.sleep(rng.uniform(0.5, 2.0))
                record = nemesis.inject(kind)
                log(f"  round {round_number} at {record.started:.3f}: {record.kind} {record.target} ({record.detail}) "
                    f"{record.healed - record.started:.1f} s")
            time.sleep(2)
            stopping = time.monotonic()
            workload.stop()
            nemesis.heal()
            checking = time.monotonic()
            rounds_run = round_number
            try:
                result = check_round(cluster, history, 0 if round_number == rounds else round_start)
            except ClusterError as exc:
                # A node that never caught up ends the run, as a violation; the summary still comes out.
                result = {"violations": [Violation("catch-up", str(exc)[:2000])], "client_resends": result.get("client_resends", {})}
                log(f"round {round_number}: the check could not run: {exc}")
                break
            # Earlier rounds' scheduled batches are checked again only by the last round.
            checks = sorted({v.check for v in result["violations"]})
            log(f"round {round_number}: {history.outcomes()}, violations in this check: {len(result['violations'])} {checks}, "
                f"client resends: {len(result['client_resends'])} "
                f"(workload stopped and healed in {checking - stopping:.1f} s, checked in {time.monotonic() - checking:.1f} s)")
            # The evidence now: a later round's check may find the same state healed (a job that ran late).
            for violation in result["violations"]:
                log(f"  {str(violation)[:MAX_EVIDENCE_LOGGED]}")
        if failover and first_leader:
            # Terms the cluster went through: the nemesis's failovers and those the load caused
            # (a writer that could not renew its 1 s lease in time).
            last_leader = leader_of(cluster)
            result["terms"] = (first_leader[1], last_leader[1] if last_leader else None)
    finally:
        lag_stop.set()
        if owned and chaos is not None:
            chaos.stop()
    result["summary"] = summary(history, rounds_run, result, seed, FAILOVER_FAULT_KINDS if failover else FAULT_KINDS, failover)
    result["history"] = history
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--faults", type=int, default=None, help="faults per round (default: one of every kind)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--official-writers", type=float, default=0.2,
                        help="share of the writers that use the official Python client (the rest: HTTP API)")
    parser.add_argument("--failover", action="store_true",
                        help="the failover cluster (scripts/cluster start --failover) and its faults, writer kills that move the writer")
    options = parser.parse_args()
    faults = options.faults if options.faults is not None else len(FAILOVER_FAULT_KINDS if options.failover else FAULT_KINDS)
    seed = options.seed if options.seed is not None else random.randrange(1 << 31)
    try:
        result = run(options.rounds, options.clients, faults, seed, options.official_writers, log=lambda s: print(s, flush=True),
                     failover=options.failover)
    except PortsBusy as exc:
        print(exc, flush=True)
        return PORTS_BUSY_STATUS
    print(result["summary"], flush=True)
    return 1 if result["violations"] else 0


if __name__ == "__main__":
    sys.exit(main())
