"""The chaos suite against the real cluster (conftest.py's `chaos_cluster`).

1. One bounded chaos round (chaos.run): at least one fault of every kind (kills of all three
   roles, pauses, the proxy's link faults, WAL damage, a full disk) under load, then the checker
   over the whole history; any violation fails the test with its evidence and the seed.
2. A writer killed without failover: mutations on every other node fail fast with the documented
   "may or may not have been applied" error while it is down, and succeed again within seconds of
   its restart; queries and subscriptions on the replicas go on throughout. (After the round: its
   probe writes are no part of the round's history.)

3. A mutation resent with its session after its answer was lost is applied once, also after a
   writer restart (the dedup record commits with the mutation, `_mutation_requests`).
4. The official Python client resends an unanswered mutation under a new session id
   (resend_probe.py): what the checker's client_resend_duplicates rests on.

RIPPLE_CHAOS_SEED replays a round; RIPPLE_CHAOS_CLIENTS (8) sets its writers.
"""

from __future__ import annotations

import json
import os
import time
import uuid

import pytest
import requests

from chaos import run
from clients import RawSocket, Subscription
from cluster import node_port
from harness import wait_until
from nemesis import FAULT_KINDS, KILLS
from resend_probe import probe
from workload import ACCOUNTS, INITIAL_BALANCE, MAYBE_APPLIED

#: Longest a write may take to fail while the writer is down (it must not hang until a timeout).
FAIL_FAST_SECONDS = 2.0
#: Longest after the writer answers /health again until writes through a replica succeed.
RECOVERY_SECONDS = 10.0


def _post(node: str, kind: str, path: str, args: dict, timeout: float = 30.0):
    session = requests.Session()
    session.trust_env = False
    response = session.post(f"http://127.0.0.1:{node_port(node)}/api/{kind}", timeout=timeout,
                            data=json.dumps({"path": path, "args": args, "format": "json"}),
                            headers={"Content-Type": "application/json"})
    return response.status_code, response.json()


def test_bounded_chaos_round(chaos_cluster):
    clients = int(os.environ.get("RIPPLE_CHAOS_CLIENTS", "8"))
    # Writers over the HTTP API only: the official Python client resends an unanswered mutation
    # under a new session id after a reconnect, so it may apply twice (docs/reliability.md) — the
    # long form (scripts/chaos) keeps those writers and reports what they cause.
    result = run(1, clients, len(FAULT_KINDS), chaos_cluster.seed, ws_share=0.0, log=lambda line: print(line, flush=True),
                 chaos=chaos_cluster)
    print(result["summary"])
    history = result["history"]
    kinds = {f.kind for f in history.faults}
    expected = set(FAULT_KINDS) if chaos_cluster.disk is not None else set(FAULT_KINDS) - {"disk-full"}
    assert kinds == expected, f"fault kinds injected {sorted(kinds)}, expected {sorted(expected)}"
    assert len(history.faults) >= 10 and sum(1 for f in history.faults if f.kind in KILLS) >= 3
    assert history.outcomes()["acked"] > 100, f"too little load to mean anything: {history.outcomes()}"
    assert not result["violations"], f"seed {chaos_cluster.seed}:\n{result['summary']}"


def test_writer_kill_without_failover(chaos_cluster, tmp_path):
    cluster = chaos_cluster.cluster
    others = ["replica1", "replica2", "scheduler"]
    subscription = Subscription(f"http://127.0.0.1:{node_port('replica2')}", "chaos:accounts", {}, log_dir=tmp_path,
                                name="writer-kill-sub", errors_ok=True)
    try:
        subscription.wait_for(lambda v: isinstance(v, dict) and v.get("total") == ACCOUNTS * INITIAL_BALANCE, timeout=30,
                              description="the accounts")
        cluster.kill("writer")
        down_since = time.monotonic()
        failures = []
        while time.monotonic() - down_since < 3.0:
            for node in others:
                started = time.monotonic()
                status, payload = _post(node, "mutation", "diagnostics:echoMutation", {"value": "probe"})
                elapsed = time.monotonic() - started
                assert (status, payload.get("code")) == (503, "Unavailable") and MAYBE_APPLIED in payload.get("message", ""), (
                    f"a mutation through {node} with the writer down answered HTTP {status} {payload}")
                assert elapsed < FAIL_FAST_SECONDS, f"the failing mutation through {node} took {elapsed:.1f} s"
                failures.append(elapsed)
                status, payload = _post(node, "query", "chaos:accounts", {})
                assert status == 200 and payload["value"]["total"] == ACCOUNTS * INITIAL_BALANCE, (
                    f"a query on {node} with the writer down answered HTTP {status} {payload}")
        assert not subscription.errors, f"the subscription on replica2 got errors while the writer was down: {subscription.errors}"

        cluster.restart("writer")
        healthy_at = time.monotonic()

        def write_succeeds() -> bool:
            return all(_post(node, "mutation", "diagnostics:echoMutation", {"value": "after"})[1].get("status") == "success"
                       for node in others)

        wait_until(write_succeeds, timeout=RECOVERY_SECONDS, interval=0.1,
                   message=f"writes through {others} to succeed after the writer restarted")
        recovered = time.monotonic() - healthy_at
        # The subscription on the replica kept going: a transfer after the restart reaches it.
        balances = _post("writer", "query", "chaos:accounts", {})[1]["value"]["balances"]
        source = max(balances, key=balances.get)
        target = min(balances, key=balances.get)
        status, payload = _post("writer", "mutation", "chaos:transfer", {"writeId": "writer-kill", "from": source, "to": target, "amount": 1.0})
        assert payload.get("status") == "success", payload
        subscription.wait_for(lambda v: isinstance(v, dict) and v["balances"][target] == balances[target] + 1, timeout=30,
                              description=f"the transfer to {target} after the writer restarted")
        assert not subscription.errors, f"the subscription on replica2 got errors: {subscription.errors}"
        print(f"writer down: {len(failures)} writes failed in at most {max(failures) * 1000:.0f} ms each; "
              f"writes succeed {recovered:.2f} s after the writer answered /health again")
    finally:
        subscription.close()


def test_duplicated_link_bytes_never_apply_a_forwarded_mutation_twice(chaos_cluster):
    """Every chunk replica1 and the writer exchange is sent twice: a repeated forward frame
    passes the checksum, and the writer ran it again (chaos seed 372832604). Now it ends the
    link: each call through replica1 is applied at most once, and once acknowledged exactly once."""
    proxy = chaos_cluster.proxies["replica1"]
    outcomes = {}
    proxy.set_fault("duplicate", probability=1.0)
    try:
        for i in range(40):
            write_id = f"dup-{i}-{uuid.uuid4().hex[:6]}"
            try:
                status, payload = _post("replica1", "mutation", "chaos:insert", {"writeId": write_id}, timeout=15)
                outcomes[write_id] = "acked" if payload.get("status") == "success" else "failed"
            except requests.RequestException:
                outcomes[write_id] = "unknown"
    finally:
        proxy.set_fault("pass")
    chaos_cluster.cluster.wait_all_caught_up(timeout=120)
    counts = {write_id: _write_count(write_id) for write_id in outcomes}
    twice = {w: (outcomes[w], n) for w, n in counts.items() if n > 1}
    lost = [w for w, n in counts.items() if outcomes[w] == "acked" and n != 1]
    assert not twice and not lost, f"applied more than once: {twice}; acknowledged but absent: {lost}"
    # "At most once" says nothing when no call reached the writer at all.
    assert sum(counts.values()) > 0, f"no insert through replica1 reached the writer: {outcomes}"
    print(f"40 inserts through replica1 with every link chunk duplicated: {sorted(outcomes.values())}")


# --- exactly once across a lost answer ---------------------------------------------------------


def _write_count(write_id: str) -> float:
    return _post("writer", "query", "chaos:writeCount", {"writeId": write_id})[1]["value"]


def _send_unanswered(node: str, session: str, write_id: str) -> None:
    """A Mutation whose answer the client never reads (its socket closes at once); returns once
    the writer has it."""
    first = RawSocket(f"ws://127.0.0.1:{node_port(node)}", session_id=session)
    first.request("Mutation", "chaos:insert", {"writeId": write_id}, request_id=0)
    first.close()
    wait_until(lambda: _write_count(write_id) == 1, timeout=30, message=f"{write_id} to be applied")


def _resend(node: str, session: str, write_id: str) -> dict:
    again = RawSocket(f"ws://127.0.0.1:{node_port(node)}", session_id=session, connection_count=1)
    try:
        again.request("Mutation", "chaos:insert", {"writeId": write_id}, request_id=0)
        response, _ = again.response(0)
        return response
    finally:
        again.close()


def test_mutation_resent_with_its_session_is_applied_once(chaos_cluster):
    """What a client that keeps its sessionId across reconnects (the JS client) relies on: the
    resend of an unanswered mutation gets the first outcome, and nothing runs twice — sent to
    the writer, and through a replica."""
    for node in ("writer", "replica2"):
        session, write_id = str(uuid.uuid4()), f"resend-{node}-{uuid.uuid4().hex[:6]}"
        _send_unanswered(node, session, write_id)
        response = _resend(node, session, write_id)
        assert response.get("success") is True, response
        assert _write_count(write_id) == 1, f"the resend through {node} was applied again"


def test_mutation_resent_after_a_writer_restart_is_applied_once(chaos_cluster):
    cluster = chaos_cluster.cluster
    session, write_id = str(uuid.uuid4()), f"resend-restart-{uuid.uuid4().hex[:6]}"
    _send_unanswered("writer", session, write_id)
    cluster.kill("writer")
    cluster.restart("writer")
    response = _resend("writer", session, write_id)
    assert response.get("success") is True, response
    assert _write_count(write_id) == 1, "the resend after the writer restarted was applied a second time"


def test_official_client_resends_under_a_new_session(chaos_cluster, tmp_path):
    """The premise of the checker's client_resend_duplicates (resent_by_official_client): the
    official Python client, its answer cut after the commit, reconnects under a NEW sessionId and
    resends the same requestId, so the node cannot deduplicate it and the write takes effect twice.
    When a client release keeps its session, this fails: then its duplicates are ours again."""
    report = probe(f"http://127.0.0.1:{node_port('writer')}", tmp_path)
    assert report.withheld is not None and report.withheld["success"] is True, report
    assert [c["connectionCount"] for c in report.connects] == [0, 1], report.connects
    assert report.connects[0]["sessionId"] != report.connects[1]["sessionId"], report.connects
    assert [(m["requestId"], m["connection"]) for m in report.mutations] == [(0, 0), (0, 1)], report.mutations
    assert report.times_applied == 2, report
