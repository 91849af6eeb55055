"""Fixtures for the Ripple cluster suite.

Run:  .venv/bin/python -m pytest -q Tests/cluster      (scripts/test does, after the conformance suite)

- `cluster` (session): resets `.cluster/` (node data, logs, node list; the env file with the
  secrets stays), starts a local OIDC issuer (the conformance suite's JwksServer) and then the
  real cluster with `scripts/cluster start`, CLERK_JWT_ISSUER_DOMAIN pointing at the issuer. It
  waits until every replica follows the writer, and always runs `scripts/cluster stop` at the end,
  whatever happened (a cluster that does not come up ends the run with status 4 and the
  script output). If one of the cluster's fixed ports (3210-3213, 3222, 7100) is already in use the
  run stops at once (exit status 3) without touching anything: another cluster is running.
  Every node gets RIPPLE_SCHEDULER_LEASE_SECONDS (1 s) and CHAT_TEST_CRON=1 (the chat app's
  every-second test cron), for test_scheduler.py.
- `user` (session): a signed-in user (`sub`, `token`), users:upsertUser done on the writer.
- `client_on(node)`, `subscribe_on(node, path, args)` (function): the official client in helper
  processes (the conformance suite's ClientProcess / Subscription), connected to one node.
- `ai_standin` (session): the stand-in AI server (Tests/aistandin/server.py) in this process;
  the nodes get ANTHROPIC_BASE_URL/ANTHROPIC_API_KEY for it, CLERK_WEBHOOK_SECRET, and
  CHAT_AI_STALL_SECONDS (3 s).
- an autouse check after every test: each node of `.cluster/nodes` must still answer /health; a
  node that died is restarted (so later tests still run) and the test is reported as an error.

When a test fails, what every node logged during it (and the scripts/cluster output) is attached
to its report; scripts/test also prints the tail of `.cluster/*.log` after a failed run.
"""

from __future__ import annotations

import base64
import os
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "conformance"))

from clients import ClientProcess, Subscription  # noqa: E402  (Tests/conformance)
from harness import LogSource  # noqa: E402
from session_fixtures import jwks, scratch_directory  # noqa: E402,F401  (Tests/conformance)

from cluster import FIXED_PORTS, SCHEDULER_LEASE_SECONDS, Cluster, ClusterError, port_open  # noqa: E402

sys.path.insert(0, str(HERE.parent / "aistandin"))
from server import StandInServer  # noqa: E402  (Tests/aistandin)

#: The secrets every node gets; test_secrets.py looks for them where they must never appear.
AI_API_KEY = "sk-ant-standin-" + uuid.uuid4().hex
CLERK_WEBHOOK_SECRET = "whsec_" + base64.b64encode(os.urandom(24)).decode()
#: Seconds an unfinished AI answer may stand still before the watchdog finalises it.
AI_STALL_SECONDS = 3

PORTS_BUSY_STATUS = 3


@pytest.fixture(scope="session")
def work_dir():
    yield from scratch_directory("ripple-cluster-suite-", "RIPPLE_CLUSTER_SUITE_KEEP", "cluster suite")


@pytest.fixture(scope="session")
def ai_standin():
    """The stand-in AI server (Tests/aistandin) in this process, on an ephemeral loopback port;
    every node gets its URL and key (ANTHROPIC_BASE_URL, ANTHROPIC_API_KEY)."""
    server = StandInServer(0, AI_API_KEY).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def cluster(jwks, ai_standin):
    busy = [port for port in FIXED_PORTS if port_open(port)]
    if busy:
        pytest.exit(
            f"ports {busy} are in use: another cluster (or server) is running. Stop it first "
            f"(scripts/cluster stop, if it is this checkout's); the cluster suite needs 3210-3213, 3222 and 7100.",
            returncode=PORTS_BUSY_STATUS,
        )
    env = dict(os.environ)
    env["CLERK_JWT_ISSUER_DOMAIN"] = jwks.base_url
    # The scheduler tests: a short lease, so a killed scheduler's successor takes over within a
    # second, and the chat app's test cron that runs every second.
    env["RIPPLE_SCHEDULER_LEASE_SECONDS"] = str(SCHEDULER_LEASE_SECONDS)
    env["CHAT_TEST_CRON"] = "1"
    env["CHAT_DIAGNOSTICS"] = "1"  # the diagnostics:* functions the tests call
    # Actions that reach out (test_actions.py, test_http_actions.py): the stand-in AI server, the
    # Clerk webhook secret, and a short stall watchdog so an abandoned answer is finalised quickly.
    env["ANTHROPIC_BASE_URL"] = ai_standin.url
    env["ANTHROPIC_API_KEY"] = AI_API_KEY
    env["CLERK_WEBHOOK_SECRET"] = CLERK_WEBHOOK_SECRET
    env["CHAT_AI_STALL_SECONDS"] = str(AI_STALL_SECONDS)
    for var in ("RIPPLE_DATA", "RIPPLE_LISTEN", "RIPPLE_NODE_ID", "RIPPLE_WRITER", "RIPPLE_REPLICATION_LISTEN"):
        env.pop(var, None)
    handle = Cluster(env)
    handle.reset_state()
    try:
        try:
            handle.start()
            # Every replica has connected and applied what the writer has.
            handle.wait_all_caught_up(timeout=120)
        except ClusterError as exc:
            # One clear message instead of the same setup error repeated for every test.
            text = str(exc)
            lines = text.splitlines()
            if len(lines) > 120:
                text = "\n".join(lines[:3] + [f"... ({len(lines) - 103} lines omitted; all in .cluster/suite-scripts.out)"] + lines[-100:])
            pytest.exit(f"the cluster did not come up:\n{text}", returncode=4)
        yield handle
    finally:
        handle.stop()


@dataclass
class SignedInUser:
    sub: str
    token: str
    user_id: str


@pytest.fixture(scope="session")
def user(cluster, jwks) -> SignedInUser:
    sub = f"user_{uuid.uuid4().hex[:12]}"
    token = jwks.make_token(sub)
    user_id = cluster.http("writer", "mutation", "users:upsertUser", {}, token=token)
    assert isinstance(user_id, str) and user_id, f"users:upsertUser returned {user_id!r}"
    return SignedInUser(sub, token, user_id)


@pytest.fixture
def client_on(cluster, work_dir, user):
    """client_on(node, token=<the session user's>) -> ClientProcess connected to that node."""
    made: List[ClientProcess] = []

    def new_client(node: str, token: Optional[str] = "default") -> ClientProcess:
        client = ClientProcess(cluster.url(node), work_dir, name=f"client-{node}-{uuid.uuid4().hex[:4]}")
        made.append(client)
        token = user.token if token == "default" else token
        if token:
            client.set_auth(token)
        return client

    yield new_client
    for client in made:
        client.close()


@pytest.fixture
def subscribe_on(cluster, work_dir, user):
    """subscribe_on(node, path, args=None, token=<the session user's>, **kwargs) -> Subscription."""
    made: List[Subscription] = []

    def new_subscription(node: str, path: str, args: Optional[dict] = None, token: Optional[str] = "default",
                         **kwargs: Any) -> Subscription:
        token = user.token if token == "default" else token
        sub = Subscription(cluster.url(node), path, args, token, log_dir=work_dir,
                           name=f"sub-{node}-{path.replace(':', '.')}-{uuid.uuid4().hex[:4]}", **kwargs)
        made.append(sub)
        return sub

    yield new_subscription
    for sub in made:
        sub.close()


@pytest.fixture(autouse=True)
def _nodes_still_up(request):
    """After each test, every node of .cluster/nodes must still answer /health. A node that died
    is restarted for the next tests and the test gets an error with the node's log tail."""
    yield
    if "cluster" not in request.fixturenames:
        return
    handle: Cluster = request.getfixturevalue("cluster")
    dead = [node for node in handle.nodes() if handle.health(node) is None]
    if not dead:
        return
    report = [f"after the test, {dead} did not answer /health"]
    for node in dead:
        report.append(f"--- .cluster/{node}.log (tail) ---\n{handle.watch_log(node).tail(40)}")
        try:
            handle.restart(node)
            report.append(f"restarted {node} for the next tests")
        except ClusterError as exc:
            report.append(f"could not restart {node}: {exc}")
    pytest.fail("\n".join(report), pytrace=False)


# --- failure reports: hooks shared with the other suite --------------------------------------

from log_reports import pytest_runtest_makereport, pytest_runtest_setup  # noqa: E402,F401
