"""Fixtures for the dashboard suite: a real `chat dev` node and a headless Chromium on its
/dashboard page.

Run:  RIPPLE_CHAT_BIN=$(swift build --show-bin-path)/chat .venv/bin/python -m pytest -q Tests/dashboard
Screenshots of every page go to the suite's scratch directory, or to RIPPLE_DASHBOARD_SHOTS
(`RIPPLE_DASHBOARD_SHOTS=docs/images` refreshes the set committed for docs/operations.md).
The cluster half (a replica's lag on the cluster page) is Tests/cluster/test_dashboard.py.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "conformance"))

from browser import DashboardBrowser, shots_directory  # noqa: E402
from clients import Subscription  # noqa: E402  (Tests/conformance)
from harness import ChatServer, ServerError, new_admin_key, server_env  # noqa: E402
from session_fixtures import jwks, scratch_directory  # noqa: E402,F401


@pytest.fixture(scope="session")
def work_dir():
    yield from scratch_directory("ripple-dashboard-", "RIPPLE_DASHBOARD_KEEP", "dashboard suite")


@pytest.fixture(scope="session")
def admin_key() -> str:
    return new_admin_key()


@pytest.fixture(scope="session")
def server(work_dir, jwks, admin_key):
    binary = os.environ.get("RIPPLE_CHAT_BIN", "").strip()
    if not binary:
        pytest.exit("RIPPLE_CHAT_BIN is not set: point it at the `chat` executable", returncode=2)
    node = ChatServer(binary, data_dir=work_dir / "dev-data", log_path=work_dir / "dev.log",
                      env=server_env(jwks.base_url, admin_key), name="dev")
    try:
        node.start()
    except ServerError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield node
    node.stop()


@pytest.fixture(scope="session")
def shots(work_dir) -> Path:
    return shots_directory(work_dir / "screenshots")


@pytest.fixture
def browser(server, shots):
    page = DashboardBrowser(server.url, shots)
    yield page
    page.close()


@pytest.fixture
def subscribe(server, work_dir):
    made = []

    def new_subscription(path, args=None):
        sub = Subscription(server.url, path, args, None, log_dir=work_dir)
        made.append(sub)
        return sub

    yield new_subscription
    for sub in made:
        sub.close()
