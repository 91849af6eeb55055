"""Scheduled functions through the official client, against `chat dev` (its own scheduler).

A job's `_scheduled_functions` document is readable by queries (`ctx.db.system`), so a client
subscribes to a job's status like to any query: pending, then success. Scheduling mistakes
reach the client as errors of the scheduling mutation.
"""

from __future__ import annotations

import uuid

import pytest

from clients import RemoteError


def test_client_subscribes_to_a_job_until_it_succeeds(client_factory, subscribe):
    client = client_factory()
    prefix = f"sub-{uuid.uuid4().hex[:8]}"
    # Due in 5 s: the subscriber's helper process starts well before that, even on a loaded machine.
    [job] = client.mutation("diagnostics:scheduleRuns", {"prefix": prefix, "count": 1, "delayMs": 5_000, "kind": "mutation"})
    sub = subscribe("diagnostics:job", {"id": job})
    first = sub.next_value(30)
    assert first["state"] == {"kind": "pending"}, first
    assert first["name"] == "diagnostics:recordRun"
    done = sub.wait_for(lambda doc: doc and doc["state"]["kind"] == "success", timeout=30, description="the job to succeed")
    assert done["completedTime"] >= done["scheduledTime"]
    assert client.query("diagnostics:runStats", {"prefix": prefix}) == {"counter": 1, "runs": 1, "distinct": 1, "duplicates": []}


def test_failed_job_status_carries_the_error(client_factory, subscribe):
    client = client_factory()
    [job] = client.mutation("diagnostics:scheduleRuns", {"prefix": f"fail-{uuid.uuid4().hex[:8]}", "count": 1, "delayMs": 0, "kind": "failing"})
    sub = subscribe("diagnostics:job", {"id": job})
    failed = sub.wait_for(lambda doc: doc and doc["state"]["kind"] == "failed", timeout=30, description="the job to fail")
    assert "failed on purpose" in failed["state"]["error"], failed


def test_canceled_job_shows_canceled(client_factory):
    client = client_factory()
    [job] = client.mutation("diagnostics:scheduleRuns", {"prefix": f"cancel-{uuid.uuid4().hex[:8]}", "count": 1, "delayMs": 60_000, "kind": "mutation"})
    client.mutation("diagnostics:cancelJob", {"id": job})
    assert client.query("diagnostics:job", {"id": job})["state"] == {"kind": "canceled"}


def test_rolled_back_mutation_leaves_no_job(client_factory):
    client = client_factory()
    with pytest.raises(RemoteError) as error:
        client.mutation("diagnostics:scheduleThenFail", {"tag": f"never-{uuid.uuid4().hex[:8]}"})
    assert "failing on purpose after scheduling" in str(error.value)


def test_job_id_of_another_table_is_refused(client_factory, user):
    client = client_factory()
    with pytest.raises(RemoteError) as error:
        client.query("diagnostics:job", {"id": user.user_id})
    assert "ArgumentValidationError" in str(error.value) or "_scheduled_functions" in str(error.value)
