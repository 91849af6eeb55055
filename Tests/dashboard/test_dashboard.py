"""The dashboard driven in a real headless Chromium against a `chat dev` node: sign in, browse
and edit a table (the edit reaching a subscribed official client), run a function, watch the
log, see scheduling; a wrong key sees nothing. Each page is screenshotted."""

from __future__ import annotations

import json

import requests

DATA = "#tab-data"


def sign_in(browser, admin_key):
    browser.sign_in(admin_key)
    browser.wait(browser.signed_in, "the dashboard after signing in")


def test_wrong_key_sees_nothing(browser, server):
    browser.sign_in("not-the-admin-key")
    browser.wait(lambda: "refused" in browser.text("#signin-error"), "the refusal")
    assert not browser.find("#app").is_displayed()
    assert browser.driver.execute_script("return sessionStorage.getItem('ripple.adminKey')") is None
    assert browser.find_all("#tables button") == []
    response = requests.get(server.url + "/api/dashboard/tables", headers={"Authorization": "Convex not-the-admin-key"})
    assert response.status_code == 401
    assert response.json() == {"code": "Unauthenticated", "message": "admin key required"}
    browser.screenshot("signin")


def test_browse_insert_and_edit_reach_a_subscribed_client(browser, admin_key, subscribe, server):
    sign_in(browser, admin_key)
    subscription = subscribe("diagnostics:runStats", {"prefix": "dashboard"})
    subscription.wait_for(lambda v: v["counter"] == 0, description="no counter yet")

    browser.wait(lambda: browser.find("#table-counters"), "the counters table in the list").click()
    browser.wait(lambda: browser.text("#table-title") == "counters", "the counters table to open")
    browser.find("#insert-open").click()
    browser.fill("#editor-text", json.dumps({"name": "dashboard", "value": 1}))
    browser.find("#editor-save").click()
    inserted = browser.wait(lambda: browser.text("#editor-ok").startswith("Inserted "), "the insert to be confirmed")
    assert inserted
    subscription.wait_for(lambda v: v["counter"] == 1, description="the inserted counter")

    # A write the schema refuses: the error is shown inline, nothing changes.
    row = browser.wait(lambda: browser.find('#documents tr[data-id]'), "the new document's row")
    row.click()
    browser.fill("#editor-text", json.dumps({"name": "dashboard", "value": "ten"}))
    browser.find("#editor-save").click()
    error = browser.wait(lambda: browser.text("#editor-error"), "the schema error")
    assert 'in table "counters" because it does not match the schema' in error, error

    browser.fill("#editor-text", json.dumps({"name": "dashboard", "value": 42}))
    browser.find("#editor-save").click()
    browser.wait(lambda: browser.text("#editor-ok").startswith("Saved at ts "), "the edit to be confirmed")
    subscription.wait_for(lambda v: v["counter"] == 42, description="the edited counter in the subscribed client")
    # Every dashboard write leaves an audit line in the node's log, refused ones too.
    log = browser.wait(lambda: "dashboard audit: replace by admin" in server.log_path.read_text() and server.log_path.read_text(),
                       "the audit lines")
    assert "dashboard audit: replace by admin refused" in log
    assert "dashboard audit: insert by admin" in log
    assert browser.text("#table-counters .count") == "1"

    # The filter goes through the by_name index.
    browser.fill("#filter-field", "name")
    browser.fill("#filter-value", "dashboard")
    browser.find("#filter-apply").click()
    browser.wait(lambda: browser.text("#index-used") == "index: by_name", "the index used by the filter")
    assert len(browser.find_all("#documents tr")) == 1
    browser.screenshot("data")


def test_run_a_function_subscribe_it_and_see_the_log(browser, admin_key):
    sign_in(browser, admin_key)
    browser.tab("functions")
    browser.wait(lambda: browser.find('#functions tr[data-path="diagnostics:echo"]'), "diagnostics:echo in the list").click()
    browser.fill("#run-args", json.dumps({"value": "hello from the dashboard"}))
    browser.find("#run").click()
    browser.wait(lambda: browser.text("#run-result") == '"hello from the dashboard"', "the function's result")

    browser.find('#functions tr[data-path="diagnostics:throwError"]').click()
    browser.fill("#run-args", json.dumps({"message": "dashboard says no"}))
    browser.find("#run").click()
    browser.wait(lambda: "dashboard says no" in browser.text("#run-result"), "the function's error")

    # A live query over the node's own sync protocol, updated by a mutation run from the page.
    browser.find('#functions tr[data-path="diagnostics:runStats"]').click()
    browser.fill("#run-args", json.dumps({"prefix": "live"}))
    browser.find("#subscribe").click()
    browser.wait(lambda: '"counter": 0' in browser.text("#live-result"), "the live query's first value")
    browser.find('#functions tr[data-path="diagnostics:recordRun"]').click()
    browser.fill("#run-args", json.dumps({"tag": "live-1", "counter": "live"}))
    browser.find("#run").click()
    browser.wait(lambda: '"counter": 1' in browser.text("#live-result"), "the live query's update")
    browser.screenshot("functions")

    browser.tab("logs")
    browser.wait(lambda: browser.find('#logs tr[data-path="diagnostics:echo"]'), "the echo call in the log")
    failure = browser.wait(lambda: browser.find('#logs tr[data-path="diagnostics:throwError"]'), "the failed call in the log")
    assert "failure" in failure.text and "dashboard says no" in failure.text
    browser.fill("#log-filter", "throwError")
    browser.wait(lambda: not browser.find_all('#logs tr[data-path="diagnostics:echo"]'), "the filter to hide other calls")
    browser.fill("#log-filter", "")
    browser.screenshot("logs")


def test_scheduling_and_cluster_pages(browser, admin_key, server):
    sign_in(browser, admin_key)
    response = requests.post(server.url + "/api/mutation", json={
        "path": "diagnostics:scheduleRuns",
        "args": {"prefix": "dashboard-later", "count": 3, "delayMs": 3_600_000, "kind": "mutation"}})
    jobs = response.json()["value"]
    assert len(jobs) == 3, response.text
    browser.tab("scheduling")
    browser.wait(lambda: "held by" in browser.text("#lease"), "the scheduler lease holder")
    browser.wait(lambda: browser.text("#crons").startswith("generate-daily-summaries"), "the app's crons")
    browser.wait(lambda: len(browser.find_all("#jobs tr")) == 3, "the three pending jobs")
    browser.find("#jobs tr button.danger").click()
    browser.wait(lambda: len(browser.find_all("#jobs tr")) == 2, "the canceled job to leave the pending list")
    browser.screenshot("scheduling")
    browser.tab("cluster")
    browser.wait(lambda: browser.find('.node-card[data-node="dev"]'), "this node's card")
    assert browser.text('.node-card[data-node="dev"] h2') == "dev · dev"
    browser.screenshot("cluster-dev")
