"""A node's graceful shutdown, on a `chat dev` node of its own (free port, own data directory;
the shared cluster is not used): SIGTERM under a mutation load ends the process with status 0
within a bound, the log shows the shutdown steps in their order, and after a restart on the
same data every mutation the node acknowledged is there.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import List

import requests

from cluster import chat_binary, health_at
from harness import _die_with_parent, free_port, wait_until

#: How long a SIGTERMed node may take to exit: the lifecycle's own limit (30 s) plus start-up slack.
SHUTDOWN_BOUND = float(os.environ.get("RIPPLE_SHUTDOWN_BOUND", "40"))
#: Concurrent writers during the shutdown.
WRITERS = 8


class DevNode:
    def __init__(self, data: Path, log: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        env = dict(os.environ, CHAT_DIAGNOSTICS="1", RIPPLE_DATA=str(data), RIPPLE_LISTEN=f"127.0.0.1:{self.port}")
        with open(log, "ab") as out:
            self.proc = subprocess.Popen([chat_binary(), "dev"], env=env, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        wait_until(lambda: health_at(self.url) is not None or self.proc.poll() is not None, timeout=120,
                   message=f"the dev node on {self.url} to answer /health")
        assert self.proc.poll() is None, f"the dev node exited with {self.proc.returncode}:\n{log.read_text()}"

    def mutation(self, path: str, args: dict, timeout: float = 10) -> dict:
        response = requests.post(f"{self.url}/api/mutation", json={"path": path, "args": args, "format": "json"}, timeout=timeout)
        return response.json()

    def query(self, path: str, args: dict):
        body = requests.post(f"{self.url}/api/query", json={"path": path, "args": args, "format": "json"}, timeout=30).json()
        assert body.get("status") == "success", f"{path} failed: {body}"
        return body["value"]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=SHUTDOWN_BOUND)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _all_writes(node: DevNode) -> List[str]:
    found: List[str] = []
    after = ""
    while True:
        page = node.query("chaos:writes", {"after": after, "limit": 1000})
        found.extend(page)
        if len(page) < 1000:
            return found
        after = page[-1]


def test_sigterm_under_load_exits_zero_in_order_and_keeps_every_acknowledged_mutation(tmp_path):
    data = tmp_path / "data"
    log = tmp_path / "node.log"
    node = DevNode(data, log)
    acknowledged: List[str] = []
    lock = threading.Lock()
    done = threading.Event()

    def write_until_stopped() -> None:
        while not done.is_set():
            write_id = uuid.uuid4().hex
            try:
                reply = node.mutation("chaos:insert", {"writeId": write_id})
            except (requests.RequestException, ValueError):
                # Refused or cut off by the shutdown: not acknowledged, so not counted.
                time.sleep(0.01)
                continue
            if reply.get("status") == "success":
                with lock:
                    acknowledged.append(write_id)

    threads = [threading.Thread(target=write_until_stopped, daemon=True) for _ in range(WRITERS)]
    try:
        for thread in threads:
            thread.start()
        wait_until(lambda: len(acknowledged) >= 100, timeout=120, message="100 acknowledged mutations before the SIGTERM")
        signalled = time.monotonic()
        node.proc.send_signal(signal.SIGTERM)
        status = node.proc.wait(timeout=SHUTDOWN_BOUND)
        took = time.monotonic() - signalled
    finally:
        done.set()
        for thread in threads:
            thread.join(timeout=30)
        node.stop()
    text = log.read_text(errors="replace")
    assert status == 0, f"the node exited with {status} after SIGTERM:\n{text[-4000:]}"
    print(f"SIGTERM under {WRITERS} writers: exited 0 in {took:.2f} s; {len(acknowledged)} mutations acknowledged")

    steps = [(int(number), bool(done)) for number, done in
             re.findall(r"shutdown step (\d)/8: [^(\n]+ \([^)\n]*\)( done)?$", text, re.MULTILINE)]
    # Each step begins after the one before it is done: clients, then the scheduler, then the
    # mutations in flight (a dev node has no election, replication, leadership or pruner steps).
    assert steps == [(2, False), (2, True), (3, False), (3, True), (4, False), (4, True)], \
        "shutdown steps (number, done) in log order: " + repr(steps) + "\n" + text[-4000:]
    assert "shutdown complete" in text

    restarted = DevNode(data, tmp_path / "restarted.log")
    try:
        present = set(_all_writes(restarted))
    finally:
        restarted.stop()
    missing = [write_id for write_id in acknowledged if write_id not in present]
    assert not missing, f"{len(missing)} of {len(acknowledged)} acknowledged mutations are missing after the restart, e.g. {missing[:5]}"
