"""The local cluster under test (`scripts/cluster`) and an HTTP client for its nodes.

The cluster is the real thing: `scripts/cluster start` runs a writer (clients 127.0.0.1:3210,
replication 7100), replica1 (3211) and the scheduler (3212; a standby scheduler2 on 3222) as separate
processes with data and logs under `.cluster/`. Everything here talks to those processes from
outside: through the script, `/health`, `/admin/hash` and the HTTP API.

The conformance suite's helpers (Tests/conformance: harness.py, clients.py, wire.py) are
imported, not copied; conftest.py puts that directory on sys.path.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import requests

from harness import LogSource

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "cluster"
CLUSTER_DIR = ROOT / ".cluster"
REPLICATION_PORT = 7100
#: The fixed ports scripts/cluster uses (replica2 included: test_new_replica adds it).
FIXED_PORTS = [3210, 3211, 3212, 3213, 3222, REPLICATION_PORT]
#: The scheduler lease every node of the suite's cluster gets (test_scheduler.py times takeovers by it).
SCHEDULER_LEASE_SECONDS = 1.0
#: scripts/cluster's per-node data directories and files the suite resets before starting.
NODE_PREFIXES = ("writer", "replica", "scheduler")


class ClusterError(AssertionError):
    pass


def node_port(node: str) -> int:
    """The client port scripts/cluster gives a node (its node_info)."""
    if node == "writer":
        return 3210
    if node == "replica1":
        return 3211
    if node == "scheduler":
        return 3212
    if node.startswith("scheduler") and node[len("scheduler"):].isdigit():
        return 3220 + int(node[len("scheduler"):])
    if node.startswith("replica") and node[len("replica"):].isdigit():
        return 3211 + int(node[len("replica"):])
    raise ValueError(f"unknown node {node!r}")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # loopback only; never through a proxy from the environment
    return session


def read_env_file(path: Path) -> Dict[str, str]:
    values: Dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key] = value
    return values


class Cluster:
    """Handle on the `scripts/cluster` cluster of this checkout."""

    def __init__(self, env: Dict[str, str]):
        #: Environment every scripts/cluster call (and so every node it starts) gets.
        self.env = env
        self.secrets: Dict[str, str] = {}
        self.logs: Dict[str, LogSource] = {}
        self.script_log = LogSource("scripts/cluster output", CLUSTER_DIR / "suite-scripts.out")
        self._http = threading.local()

    # -- scripts/cluster ---------------------------------------------------------------------------

    def script(self, *args: str, timeout: float = 180.0, check: bool = True) -> subprocess.CompletedProcess:
        """Runs `scripts/cluster ARGS` with the suite's environment; its output is also appended
        to .cluster/suite-scripts.out (shown when a test fails)."""
        started = time.monotonic()
        try:
            proc = subprocess.run(
                [str(SCRIPT), *args], cwd=str(ROOT), env=self.env, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
            )
        except subprocess.TimeoutExpired as exc:
            out = (exc.stdout or b"").decode("utf-8", "replace")
            self._note(args, None, out, time.monotonic() - started)
            raise ClusterError(f"scripts/cluster {' '.join(args)} did not finish within {timeout} s; output:\n{out}")
        out = proc.stdout.decode("utf-8", "replace")
        self._note(args, proc.returncode, out, time.monotonic() - started)
        proc.stdout = out
        if check and proc.returncode != 0:
            raise ClusterError(
                f"scripts/cluster {' '.join(args)} exited with status {proc.returncode}; output:\n{out}\n"
                + self.log_tails()
            )
        return proc

    def _note(self, args, status, out: str, elapsed: float) -> None:
        CLUSTER_DIR.mkdir(exist_ok=True)
        with open(self.script_log.path, "a", encoding="utf-8") as f:
            f.write(f"$ scripts/cluster {' '.join(args)}  (status {status}, {elapsed:.1f} s)\n{out}")

    def reset_state(self) -> None:
        """Removes the node data, logs, pid files and node list of a previous run (the env file
        with the secrets stays): every run starts from an empty cluster."""
        CLUSTER_DIR.mkdir(exist_ok=True)
        for entry in CLUSTER_DIR.iterdir():
            if entry.name == "env":
                continue
            if entry.name.startswith(NODE_PREFIXES) or entry.name in ("nodes", "suite-scripts.out") or entry.name.startswith("intruder"):
                if entry.is_dir():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()

    def start(self, timeout: float = 1800.0, replicas: int = 1) -> None:
        """`scripts/cluster start --replicas N` (it builds `chat` first, a no-op when up to date)."""
        self.script("start", "--replicas", str(replicas), timeout=timeout)
        self.secrets = read_env_file(CLUSTER_DIR / "env")
        for node in self.nodes():
            self.watch_log(node)

    def stop(self) -> None:
        self.script("stop", timeout=120, check=False)

    def watch_log(self, node: str) -> LogSource:
        if node not in self.logs:
            self.logs[node] = LogSource(f"{node} log (.cluster/{node}.log)", CLUSTER_DIR / f"{node}.log")
        return self.logs[node]

    def nodes(self) -> List[str]:
        path = CLUSTER_DIR / "nodes"
        return path.read_text().split() if path.exists() else ["writer", "replica1", "scheduler"]

    def add_node(self, node: str) -> None:
        """Appends `node` to .cluster/nodes, so status/hash/stop include it."""
        nodes = self.nodes()
        if node not in nodes:
            (CLUSTER_DIR / "nodes").write_text(" ".join(nodes + [node]) + "\n")
        self.watch_log(node)

    def kill(self, node: str) -> None:
        self.script("kill", node, timeout=60)

    def restart(self, node: str) -> None:
        """`scripts/cluster restart NODE`: returns once the node answers /health."""
        self.watch_log(node)
        self.script("restart", node, timeout=300)

    def hash_lines(self) -> List[Tuple[str, str, str]]:
        """`scripts/cluster hash` as (node, ts, hash) triples (hash "unavailable" when the
        node did not answer)."""
        out = self.script("hash", timeout=300).stdout
        lines = []
        for line in out.splitlines():
            parts = line.split()
            if len(parts) >= 3:
                lines.append((parts[0], parts[1], " ".join(parts[2:])))
        return lines

    def assert_hashes_equal(self, expected_nodes: Optional[List[str]] = None) -> List[Tuple[str, str, str]]:
        lines = self.hash_lines()
        text = "\n".join(" ".join(line) for line in lines)
        nodes = [line[0] for line in lines]
        expected = expected_nodes or self.nodes()
        assert sorted(nodes) == sorted(expected), f"scripts/cluster hash listed {nodes}, expected {expected}:\n{text}"
        hashes = {line[2] for line in lines}
        timestamps = {line[1] for line in lines}
        assert "unavailable" not in hashes, f"a node did not answer /admin/hash:\n{text}"
        assert len(timestamps) == 1, f"hash lines at different timestamps:\n{text}"
        assert len(hashes) == 1, f"nodes disagree about the state at the same timestamp:\n{text}"
        return lines

    # -- node status ------------------------------------------------------------------------------

    @staticmethod
    def url(node: str) -> str:
        return f"http://127.0.0.1:{node_port(node)}"

    def health(self, node: str, timeout: float = 3.0) -> Optional[Dict[str, Any]]:
        """The node's /health JSON, or None when it does not answer."""
        return health_at(self.url(node), timeout)

    def applied_ts(self, node: str) -> int:
        body = self.health(node)
        if body is None:
            raise ClusterError(f"{node} does not answer /health")
        return int(body["appliedTs"])

    def wait_caught_up(self, node: str, ts: int, timeout: float = 60.0) -> Dict[str, Any]:
        """Waits until `node`'s /health appliedTs reaches `ts`; returns that /health body."""
        deadline = time.monotonic() + timeout
        last: Optional[Dict[str, Any]] = None
        while True:
            last = self.health(node)
            if last is not None and int(last.get("appliedTs", "0")) >= ts:
                return last
            if time.monotonic() > deadline:
                raise ClusterError(
                    f"{node} did not reach applied ts {ts} within {timeout} s; last /health: {json.dumps(last)}; "
                    f"writer /health: {json.dumps(self.health('writer'))}"
                )
            time.sleep(0.05)

    def wait_all_caught_up(self, timeout: float = 60.0) -> int:
        """Waits until every node has applied the writer's current ts, and the writer's /health
        reports each replica at that ts with 0 commits of lag; returns the ts."""
        ts = self.applied_ts("writer")
        for node in self.nodes():
            if node != "writer":
                self.wait_caught_up(node, ts, timeout)
        deadline = time.monotonic() + timeout
        replicas = [n for n in self.nodes() if n != "writer"]
        while True:
            writer = self.health("writer") or {}
            reported = writer.get("replicas", {})
            behind = {
                n: reported.get(n) for n in replicas
                if n not in reported or int(reported[n]["appliedTs"]) < ts or reported[n].get("lagCommits") not in (0, None)
            }
            if not behind:
                return ts
            if time.monotonic() > deadline:
                raise ClusterError(
                    f"the writer's /health does not report every replica acknowledged at ts {ts} with lag 0 "
                    f"within {timeout} s: {json.dumps(behind)}; writer /health: {json.dumps(writer)}"
                )
            time.sleep(0.05)

    def log_tails(self, lines: int = 40) -> str:
        out = []
        for path in sorted(CLUSTER_DIR.glob("*.log")):
            src = LogSource.__new__(LogSource)  # a reader only; not registered for reports
            src.name, src.path = path.name, path
            out.append(f"--- tail of .cluster/{path.name} ---\n{src.tail(lines)}")
        return "\n".join(out)

    # -- HTTP API ---------------------------------------------------------------------------------

    def http(self, node: str, kind: str, path: str, args: Optional[dict] = None, *, token: Optional[str] = None,
             timeout: float = 60.0) -> Any:
        """POST /api/{kind} on `node` (clean JSON); returns the value, raises HttpCallError for
        an HTTP error or a function error."""
        return http_call(self._session(), self.url(node), kind, path, args, token=token, timeout=timeout)

    def _session(self) -> requests.Session:
        session = getattr(self._http, "session", None)
        if session is None:
            session = self._http.session = _session()
        return session


class HttpCallError(AssertionError):
    def __init__(self, message: str, status: Optional[int] = None, body: Any = None):
        super().__init__(message)
        self.status = status
        self.body = body


def health_at(url: str, timeout: float = 3.0) -> Optional[Dict[str, Any]]:
    try:
        response = _session().get(url + "/health", timeout=timeout)
    except requests.RequestException:
        return None
    if response.status_code != 200:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def http_call(session: requests.Session, base_url: str, kind: str, path: str, args: Optional[dict], *,
              token: Optional[str] = None, timeout: float = 60.0) -> Any:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = {"path": path, "args": args or {}, "format": "json"}
    what = f"POST {base_url}/api/{kind} {json.dumps(body)}"
    try:
        response = session.post(f"{base_url}/api/{kind}", data=json.dumps(body), headers=headers, timeout=timeout)
    except requests.RequestException as exc:
        raise HttpCallError(f"{what}: {type(exc).__name__}: {exc}") from exc
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if response.status_code != 200 or not isinstance(payload, dict):
        raise HttpCallError(f"{what} -> HTTP {response.status_code}: {response.text[:500]}", response.status_code, payload)
    if payload.get("status") != "success":
        raise HttpCallError(f"{what} -> function error: {json.dumps(payload)[:500]}", response.status_code, payload)
    return payload.get("value")


def chat_binary() -> str:
    """The `chat` executable scripts/cluster runs: RIPPLE_CHAT_BIN, else SwiftPM's bin path for
    RIPPLE_BUILD (debug by default)."""
    path = os.environ.get("RIPPLE_CHAT_BIN", "").strip()
    if not path:
        config = os.environ.get("RIPPLE_BUILD", "debug")
        out = subprocess.run(["swift", "build", "-c", config, "--show-bin-path"], cwd=str(ROOT),
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True, timeout=300)
        path = os.path.join(out.stdout.decode().strip(), "chat")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise ClusterError(f"chat executable not found at {path!r} (set RIPPLE_CHAT_BIN)")
    return os.path.abspath(path)
