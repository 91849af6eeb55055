"""The dashboard's cluster page on a real cluster, in headless Chromium (Tests/dashboard/browser.py):
served by the writer, it shows every node, and a killed replica's lag growing on the writer's
card, back to zero once it restarts. Screenshots go to the suite's scratch directory, or to
RIPPLE_DASHBOARD_SHOTS."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "dashboard"))

from browser import DashboardBrowser, shots_directory  # noqa: E402

PEERS = "http://127.0.0.1:3211, http://127.0.0.1:3212"


@pytest.fixture
def browser(cluster, work_dir):
    page = DashboardBrowser(cluster.url("writer"), shots_directory(work_dir / "screenshots"))
    yield page
    page.close()


def lag_commits(browser, replica: str) -> int:
    return int(browser.text(f'.node-card[data-node="writer"] [data-replica="{replica}"] .lag-commits'))


def test_a_killed_replica_shows_lag_and_recovers(cluster, browser):
    browser.sign_in(cluster.secrets["RIPPLE_ADMIN_KEY"])
    browser.wait(browser.signed_in, "the dashboard after signing in")
    browser.tab("cluster")
    browser.fill("#peers", PEERS)
    browser.find("#peers-save").click()
    for node in ("writer", "replica1", "scheduler"):
        browser.wait(lambda: browser.find(f'.node-card[data-node="{node}"]'), f"{node}'s card")
    browser.wait(lambda: lag_commits(browser, "replica1") == 0, "replica1 caught up")
    browser.screenshot("cluster")

    cluster.kill("replica1")
    try:
        # The scheduler renews its lease and runs the test cron every second: the writer commits
        # while replica1 is down, and its lag grows on the writer's card.
        browser.wait(lambda: lag_commits(browser, "replica1") >= 2, "replica1's lag to grow", timeout=30)
        browser.wait(lambda: "unreachable" in browser.text('.node-card.down[data-node="127.0.0.1:3211"]'), "replica1 unreachable")
        assert int(browser.text('.node-card[data-node="writer"] [data-replica="replica1"] .lag-ms')) > 0
        browser.screenshot("cluster-replica-down")
    finally:
        cluster.restart("replica1")
    browser.wait(lambda: lag_commits(browser, "replica1") == 0, "replica1's lag back to zero", timeout=60)
    browser.wait(lambda: browser.find('.node-card[data-node="replica1"]'), "replica1's card back")
