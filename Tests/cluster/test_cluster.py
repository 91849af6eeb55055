"""The cluster end to end: a writer, replica1 and the scheduler slot (a replica for now) as real
processes started by scripts/cluster, driven through the official Python client (in helper
processes, protocol.md §11) and the HTTP API.

The tests run in file order and share one cluster; each leaves every node running (the
conftest checks). test_new_replica_catches_up_from_the_log adds replica2, so it comes last.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import secrets
import sqlite3
import subprocess
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any, List, Optional, Tuple

from cluster import CLUSTER_DIR, REPLICATION_PORT, health_at, chat_binary
from harness import _die_with_parent, free_port, wait_until

#: How long a commit on the writer may take to reach a subscriber on a replica.
PROPAGATION_TIMEOUT = float(os.environ.get("RIPPLE_CLUSTER_PROPAGATION_TIMEOUT", "10"))
#: How long a restarted or new replica may take to apply what it missed.
CATCH_UP_TIMEOUT = float(os.environ.get("RIPPLE_CLUSTER_CATCH_UP_TIMEOUT", "120"))
#: Concurrent HTTP requests for the bulk writes.
WRITE_CONCURRENCY = int(os.environ.get("RIPPLE_CLUSTER_WRITE_CONCURRENCY", "8"))


def _ids(messages: Any) -> List[str]:
    assert isinstance(messages, list), f"expected a list of documents, got {messages!r}"
    return [m["_id"] for m in messages]


def _new_channel(cluster, user, node: str = "writer") -> str:
    channel = cluster.http(node, "mutation", "channels:create", {"name": f"chan-{uuid.uuid4().hex[:8]}"}, token=user.token)
    assert isinstance(channel, str) and channel, f"channels:create returned {channel!r}"
    return channel


def _send(cluster, user, node: str, channel: str, content: str) -> str:
    message = cluster.http(node, "mutation", "messages:sendMessage", {"channelId": channel, "content": content}, token=user.token)
    assert isinstance(message, str) and message, f"messages:sendMessage on {node} returned {message!r}"
    return message


# --- 1 -----------------------------------------------------------------------------------------


def test_write_on_writer_reaches_subscriber_on_replica(cluster, user, subscribe_on):
    """A subscription on replica1 gets the writer's commits pushed to it."""
    channel = _new_channel(cluster, user)
    sub = subscribe_on("replica1", "messages:getMessages", {"channelId": channel})
    sub.wait_for(lambda v: v == [], timeout=30, description="the empty channel")

    latencies = []
    sent_ids = []
    for i in range(3):
        content = f"from-writer-{i}-{uuid.uuid4().hex[:6]}"
        message = _send(cluster, user, "writer", channel, content)
        sent_at = time.time()
        sent_ids.insert(0, message)
        value = sub.wait_for(lambda v: _ids(v) == sent_ids, timeout=PROPAGATION_TIMEOUT,
                             description=f"message #{i} ({message}) written on the writer, newest first")
        assert value[0]["content"] == content
        latencies.append(sub.matched_at - sent_at)
    print(f"writer -> replica1 subscriber latencies: {', '.join(f'{l * 1000:.0f} ms' for l in latencies)}")


# --- 2 -----------------------------------------------------------------------------------------


def test_write_through_replica_reads_its_own_writes(cluster, user, client_on):
    """A mutation sent to replica1 is answered only once replica1 applied it: the next query on
    the same replica sees it (official client and HTTP API), and so does the writer."""
    channel = _new_channel(cluster, user)
    replica = client_on("replica1")
    writer = client_on("writer")
    args = {"channelId": channel}

    for i in range(10):
        content = f"via-replica-ws-{i}"
        message = replica.mutation("messages:sendMessage", {"channelId": channel, "content": content})
        assert isinstance(message, str) and message, f"messages:sendMessage through replica1 returned {message!r}"
        on_replica = replica.query("messages:getMessages", args)
        assert message in _ids(on_replica), (
            f"write #{i} through replica1 (official client) returned {message}, but the next query on replica1 "
            f"does not show it: {[m['content'] for m in on_replica]}")
        on_writer = writer.query("messages:getMessages", args)
        assert message in _ids(on_writer), f"the writer does not show {message} written through replica1"

    for i in range(10):
        content = f"via-replica-http-{i}"
        message = _send(cluster, user, "replica1", channel, content)
        on_replica = cluster.http("replica1", "query", "messages:getMessages", args, token=user.token)
        assert message in _ids(on_replica), (
            f"POST /api/mutation on replica1 returned {message}, but the next POST /api/query on replica1 "
            f"does not show it: {[m['content'] for m in on_replica]}")
        on_writer = cluster.http("writer", "query", "messages:getMessages", args, token=user.token)
        assert message in _ids(on_writer), f"the writer does not show {message} written through replica1 (HTTP)"

    final = cluster.http("writer", "query", "messages:getMessages", args)
    assert len(final) == 20, f"expected the 20 messages on the writer, got {len(final)}"


# --- 3 -----------------------------------------------------------------------------------------


def test_killed_replica_catches_up_and_its_subscriber_resumes(cluster, user, subscribe_on):
    """SIGKILL replica1, write 1,000 mutations on the writer, start replica1 again: it applies
    what it missed, its subscriber (which reconnects by itself) gets the current result, and
    every node hashes to the same state."""
    channel = _new_channel(cluster, user)
    args = {"channelId": channel}
    # Connection errors while replica1 is down are the client's business; keep them, not fail.
    sub = subscribe_on("replica1", "messages:getMessages", args, errors_ok=True)
    sub.wait_for(lambda v: v == [], timeout=30, description="the empty channel")

    cluster.kill("replica1")
    wait_until(lambda: cluster.health("replica1") is None, timeout=30, message="replica1 to stop answering /health")

    started = time.monotonic()
    with ThreadPoolExecutor(WRITE_CONCURRENCY) as pool:
        ids = list(pool.map(lambda i: _send(cluster, user, "writer", channel, f"bulk-{i:04d}"), range(1000)))
    write_seconds = time.monotonic() - started
    assert len(set(ids)) == 1000, "1,000 sendMessage calls did not return 1,000 distinct ids"
    writer_ts = cluster.applied_ts("writer")
    expected = _ids(cluster.http("writer", "query", "messages:getMessages", args))
    assert len(expected) == 50 and set(expected) <= set(ids)

    started = time.monotonic()
    cluster.restart("replica1")
    health = cluster.wait_caught_up("replica1", writer_ts, timeout=CATCH_UP_TIMEOUT)
    catch_up_seconds = time.monotonic() - started
    assert health.get("role") == "replica" and health.get("nodeId") == "replica1", f"/health: {health}"
    cluster.wait_all_caught_up(timeout=CATCH_UP_TIMEOUT)

    on_replica = _ids(cluster.http("replica1", "query", "messages:getMessages", args))
    assert on_replica == expected, "replica1 answers getMessages differently from the writer after catching up"

    started = time.monotonic()
    sub.wait_for(lambda v: isinstance(v, list) and _ids(v) == expected, timeout=60,
                 description="the 50 newest of the 1,000 messages (the writer's current result) after replica1 came back")
    resume_seconds = time.monotonic() - started
    cluster.assert_hashes_equal()
    print(f"1,000 writes with replica1 down: {write_seconds:.1f} s; restart + catch-up: {catch_up_seconds:.1f} s; "
          f"subscriber resumed {resume_seconds:.1f} s after that; subscription errors meanwhile: {len(sub.errors)}")


# --- 4 -----------------------------------------------------------------------------------------


def test_replica_with_wrong_secret_is_refused(cluster, work_dir):
    """`chat replica` with a wrong --cluster-secret: the writer refuses the handshake and logs
    why; the replica logs each refusal, applies nothing, and keeps retrying with backoff (a
    refusal carries no proof of the secret, so anyone on the path could forge one: a replica that
    gave up on it could be stopped for good, issue 11 #9)."""
    node_id = f"intruder-{uuid.uuid4().hex[:6]}"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = CLUSTER_DIR / f"{node_id}.log"
    log = cluster.watch_log(node_id)
    writer_log = cluster.watch_log("writer")
    writer_mark = writer_log.size()
    command = [
        chat_binary(), "replica", "--data", str(work_dir / node_id), "--listen", f"127.0.0.1:{port}",
        "--writer", f"127.0.0.1:{REPLICATION_PORT}", "--node-id", node_id,
        "--cluster-secret", "wrong-" + secrets.token_hex(16),
        # The right cluster id, so that the secret is the only thing wrong.
        "--cluster-id", cluster.secrets.get("RIPPLE_CLUSTER_ID", "ripple"),
    ]
    env = dict(cluster.env)
    env.pop("RIPPLE_CLUSTER_SECRET", None)
    with open(log_path, "ab") as out:
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
                                preexec_fn=_die_with_parent)
    observed: List[dict] = []

    def refusals() -> int:
        body = health_at(url, timeout=1)
        if body is not None:
            observed.append(body)
        return log.tail(400).count("writer refused this replica")

    try:
        wait_until(lambda: proc.poll() is not None or refusals() >= 3, timeout=30,
                   message=f"the replica with a wrong secret to be refused three times")
        running = proc.poll() is None
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)

    replica_text = log.tail(60)
    applied = sorted({body.get("appliedTs") for body in observed})
    assert all(body.get("appliedTs") == "0" for body in observed), (
        f"the refused replica reported applied timestamps {applied} on /health; it must apply nothing")
    assert running, f"the replica with a wrong secret exited (status {proc.returncode}) instead of retrying:\n{replica_text}"

    # Nothing from the writer reached its database (read after the process is gone; the
    # tables are the storage layer's, see Sources/RippleStorage/Store.swift).
    database = work_dir / node_id / "ripple.sqlite3"
    rows: dict = {}
    if database.exists():
        with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            rows = {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("commit_log", "documents") if t in tables}
        assert not any(rows.values()), f"the refused replica's database holds rows: {rows}"

    pattern = re.compile(r"refused replica")
    wait_until(lambda: any(pattern.search(line) and node_id in line and "authentication failed" in line
                           for line in writer_log.text_since(writer_mark).splitlines()),
               timeout=10, message=f"the writer's log to mention refusing {node_id} (authentication failed)")
    writer_health = cluster.health("writer") or {}
    assert node_id not in writer_health.get("replicas", {}), f"the writer lists the refused replica: {writer_health}"
    print(f"refused replica kept retrying; /health answered {len(observed)} times, "
          f"appliedTs {applied}; its database: {rows if database.exists() else 'not created'}")


# --- 5 -----------------------------------------------------------------------------------------


def _pair(value: Any, a: str, b: str) -> Optional[Tuple[float, float]]:
    """memberCount of channels a and b in a channels:list result (None when either is missing)."""
    if not isinstance(value, list):
        return None
    counts = {doc.get("_id"): doc.get("memberCount") for doc in value if isinstance(doc, dict)}
    if a not in counts or b not in counts:
        return None
    return counts[a], counts[b]


def test_transfers_never_show_a_state_the_writer_did_not_have(cluster, user, subscribe_on):
    """~300 diagnostics:transferMembers between two channels (random amount and direction, half
    through the writer, half through replica1, concurrently): every result a subscriber on
    replica1 receives has memberCount summing to 2, and the final state is the writer's."""
    a = _new_channel(cluster, user)
    b = _new_channel(cluster, user)
    sub = subscribe_on("replica1", "channels:list", {})
    sub.wait_for(lambda v: _pair(v, a, b) == (1, 1), timeout=30, description="both new channels with memberCount 1")
    wait_until(lambda: _pair(cluster.http("scheduler", "query", "channels:list", {}), a, b) == (1, 1), timeout=30,
               message="both new channels on the scheduler node")

    seed = int(os.environ.get("RIPPLE_CLUSTER_SEED", str(random.randrange(1 << 30))))
    rng = random.Random(seed)
    plan = []
    for _ in range(300):
        node = rng.choice(["writer", "replica1"])
        source, target = (a, b) if rng.random() < 0.5 else (b, a)
        plan.append((node, source, target, rng.randint(1, 9)))
    expected_a = 1 + sum(amount if target == a else -amount for _, _, target, amount in plan)
    expected = (expected_a, 2 - expected_a)

    def transfer(step):
        node, source, target, amount = step
        result = cluster.http(node, "mutation", "diagnostics:transferMembers",
                              {"from": source, "to": target, "amount": amount}, token=user.token)
        assert result is None, f"transferMembers returned {result!r}"

    # Queries on the replicas while the transfers run: snapshots the subscription may have
    # coalesced away (the client yields only the latest result it has).
    polled: List[Tuple[str, Any]] = []
    stop = threading.Event()

    def poll():
        while not stop.is_set():
            for node in ("replica1", "scheduler"):
                polled.append((node, _pair(cluster.http(node, "query", "channels:list", {}), a, b)))

    started = time.monotonic()
    with ThreadPoolExecutor(1) as poller:
        polling = poller.submit(poll)
        try:
            with ThreadPoolExecutor(WRITE_CONCURRENCY) as pool:
                list(pool.map(transfer, plan))
        finally:
            stop.set()
        polling.result()
    seconds = time.monotonic() - started

    on_writer = _pair(cluster.http("writer", "query", "channels:list", {}), a, b)
    assert on_writer == expected, f"the writer has {on_writer}, expected {expected} after the 300 transfers (seed {seed})"
    sub.wait_for(lambda v: _pair(v, a, b) == expected, timeout=PROPAGATION_TIMEOUT + 20,
                 description=f"the final state {expected} (seed {seed})")

    states = [_pair(v, a, b) for v in sub.values]
    broken = [(i, s) for i, s in enumerate(states) if s is None or s[0] + s[1] != 2]
    assert not broken, (
        f"replica1's subscriber received states the writer never had (seed {seed}), "
        f"(update index, (a, b)): {broken[:10]} of {len(states)} updates")
    broken = [(node, s) for node, s in polled if s is None or s[0] + s[1] != 2]
    assert not broken, (
        f"queries on the replicas during the transfers returned states the writer never had (seed {seed}): "
        f"{broken[:10]} of {len(polled)} queries")
    distinct = {s for s in states} | {s for _, s in polled}
    assert len(distinct) >= 3, (
        f"the replicas showed only {sorted(distinct)}: too few states for the check to mean anything")

    cluster.wait_all_caught_up(timeout=CATCH_UP_TIMEOUT)
    on_replica = _pair(cluster.http("replica1", "query", "channels:list", {}), a, b)
    assert on_replica == expected, f"replica1 answers {on_replica}, the writer {expected}"
    cluster.assert_hashes_equal()
    print(f"300 transfers in {seconds:.1f} s (seed {seed}); replica1 subscriber: {len(states)} results, "
          f"{len(set(states))} distinct; {len(polled)} queries on replica1/scheduler, "
          f"{len({s for _, s in polled})} distinct; all summing to 2")


# --- 6 -----------------------------------------------------------------------------------------


def test_new_replica_catches_up_from_the_log(cluster, user):
    """replica2, started with an empty data directory after the other tests wrote data, applies
    the whole log from the writer and hashes like every other node."""
    channel = _new_channel(cluster, user)
    for i in range(20):
        _send(cluster, user, "writer", channel, f"before-replica2-{i}")
    data_dir = CLUSTER_DIR / "replica2"
    assert not data_dir.exists() or not any(data_dir.iterdir()), f"{data_dir} is not empty: not a brand-new replica"
    writer_ts = cluster.applied_ts("writer")

    started = time.monotonic()
    cluster.add_node("replica2")
    cluster.restart("replica2")  # stop (nothing) + start + wait for /health
    health = cluster.wait_caught_up("replica2", writer_ts, timeout=CATCH_UP_TIMEOUT)
    seconds = time.monotonic() - started
    assert health.get("role") == "replica" and health.get("nodeId") == "replica2", f"/health: {health}"
    cluster.wait_all_caught_up(timeout=CATCH_UP_TIMEOUT)

    args = {"channelId": channel}
    assert cluster.http("replica2", "query", "messages:getMessages", args) == cluster.http("writer", "query", "messages:getMessages", args)
    assert cluster.http("replica2", "query", "channels:list", {}) == cluster.http("writer", "query", "channels:list", {})
    cluster.assert_hashes_equal(["writer", "replica1", "scheduler", "replica2"])

    # It is a full member: a write through it is read back from it.
    message = _send(cluster, user, "replica2", channel, "through-replica2")
    assert message in _ids(cluster.http("replica2", "query", "messages:getMessages", args))
    print(f"replica2 caught up from an empty data directory to ts {writer_ts} in {seconds:.1f} s")
