"""The sync protocol on a bare WebSocket (`websockets`), message by message.

Protocol assumptions (protocol.md):
- §1.1/§1.3: `GET /api/sync` and `GET /api/<version>/sync` upgrade; one JSON object per text frame.
- §2.1: Connect comes first; optional fields (clientTs, lastCloseReason, maxObservedTimestamp) may
  be missing and unknown fields are ignored.
- §3.1/§3.2/§3.3: the first Transition on a socket starts at {querySet:0, identity:0,
  ts:"AAAAAAAAAAA="}; each later one starts at the previous endVersion; endVersion.querySet is
  the newest ModifyQuerySet newVersion included; ts is base64 of a little-endian u64 ≤ i64::MAX
  (nanoseconds since the epoch, per design.md); integer fields are JSON integers.
- §3.3/§10.3: each Add is answered by QueryUpdated/QueryFailed (with logLines) no later than the
  Transition whose endVersion.querySet includes it; Remove gives QueryRemoved; unchanged results
  are not re-sent, so a commit touching one channel sends no QueryUpdated for another channel's
  query.
- §3.5/§4/§10.4: MutationResponse (ts on success; result string and errorData only for
  ConvexError on failure), then a Transition with endVersion.ts ≥ that ts even with nothing
  subscribed; ActionResponse likewise without ts.
- §2.2/§3.7: a wrong ModifyQuerySet baseVersion is a FatalError; garbage, binary frames, unknown
  message types and oversized frames end in FatalError or a close, and never hurt other sockets.
- §1.4: a JSON {"type":"Ping"} after at most ~15 s of silence.
- §4/§10.11: a Mutation repeated with the same (sessionId, requestId) on a new socket returns the
  original result and ts without running again.
"""

from __future__ import annotations

import time
import uuid

import pytest
import requests
import websockets

from clients import (
    ZERO_TS,
    RawSocket,
    SocketClosed,
    check_state_version,
    decode_ts,
    is_int,
)

HUGE_FRAME_BYTES = 20 * 1024 * 1024


def _transition_to_query_set(version):
    return lambda m: m["type"] == "Transition" and m["endVersion"]["querySet"] >= version


def _updates(transition, query_id):
    return [mod for mod in transition.get("modifications", []) if mod.get("queryId") == query_id]


def _check_chain(transitions):
    """Every Transition starts where the previous one ended; the first starts at zero; versions
    never go backwards."""
    previous = None
    for t in transitions:
        start = check_state_version(t["startVersion"])
        end = check_state_version(t["endVersion"])
        if previous is None:
            assert t["startVersion"] == {"querySet": 0, "identity": 0, "ts": ZERO_TS}, (
                f"the first Transition must start at (0, 0, {ZERO_TS}): {t['startVersion']!r}"
            )
        else:
            assert t["startVersion"] == previous, f"Transition starts at {t['startVersion']!r}, previous ended at {previous!r}"
        assert end >= start, f"Transition goes backwards: {start} -> {end}"
        assert start[0] <= end[0] and start[1] <= end[1] and start[2] <= end[2], f"a version field decreased: {start} -> {end}"
        previous = t["endVersion"]


def _check_query_updated(mod):
    assert mod["type"] == "QueryUpdated", mod
    assert is_int(mod["queryId"])
    assert "value" in mod
    assert isinstance(mod.get("logLines"), list) and all(isinstance(l, str) for l in mod["logLines"]), (
        f"QueryUpdated needs logLines (a list of strings): {mod!r}"
    )


def _echo_roundtrip(sock: RawSocket, value="ping"):
    sock.add_query(0, "diagnostics:echo", {"value": value})
    transition, _ = sock.recv_until(_transition_to_query_set(1), timeout=20, description="the first Transition")
    [mod] = _updates(transition, 0)
    assert mod["type"] == "QueryUpdated" and mod["value"] == value, mod


def _assert_healthy(server, raw_socket):
    session = requests.Session()
    session.trust_env = False
    response = session.get(server.url + "/version", timeout=10)
    assert response.status_code < 500
    _echo_roundtrip(raw_socket())


# --- handshake and versions ---------------------------------------------------------------------------


def test_version_endpoint(server):
    session = requests.Session()
    session.trust_env = False
    response = session.get(server.url + "/version", timeout=10)
    assert response.status_code == 200, f"GET /version: {response.status_code} {response.text[:200]!r}"


@pytest.mark.parametrize("path", ["/api/sync", "/api/1.45.0/sync", "/api/0.8.1/sync"])
def test_sync_paths(raw_socket, path):
    _echo_roundtrip(raw_socket(path))


def test_connect_with_minimal_fields_and_unknown_fields(raw_socket):
    sock = raw_socket(send_connect=False)
    sock.send({"type": "Connect", "sessionId": str(uuid.uuid4()), "connectionCount": 0, "someFutureField": {"x": 1}})
    _echo_roundtrip(sock, "minimal")


def test_version_chaining_add_and_remove(raw_socket):
    sock = raw_socket()
    sock.add_query(0, "diagnostics:echo", {"value": "first"})
    t1, _ = sock.recv_until(_transition_to_query_set(1), timeout=20, description="Transition to querySet 1")
    [mod] = _updates(t1, 0)
    _check_query_updated(mod)
    assert mod["value"] == "first"
    assert t1["endVersion"]["querySet"] == 1

    sock.add_query(1, "diagnostics:echo", {"value": 1.5})
    t2, _ = sock.recv_until(_transition_to_query_set(2), timeout=20, description="Transition to querySet 2")
    [mod] = _updates(t2, 1)
    _check_query_updated(mod)
    assert mod["value"] == 1.5
    assert t2["endVersion"]["querySet"] == 2

    sock.remove_query(0)
    t3, _ = sock.recv_until(_transition_to_query_set(3), timeout=20, description="Transition to querySet 3")
    assert {"type": "QueryRemoved", "queryId": 0} in [
        {k: m[k] for k in ("type", "queryId") if k in m} for m in t3["modifications"]
    ], f"no QueryRemoved for query 0 in {t3!r}"

    transitions = [m for m in sock.received if m["type"] == "Transition"]
    _check_chain(transitions)
    for t in transitions:
        for field in ("clientClockSkew", "serverTs"):
            assert t.get(field) is None or is_int(t[field]), f"{field} must be an integer or null: {t[field]!r}"
        assert check_state_version(t["endVersion"])[1] == 0, "no Authenticate was sent"


def test_timestamps_are_plausible_nanoseconds(raw_socket, user):
    """After a commit (the `user` fixture's upsert), snapshot timestamps are nanoseconds since the
    epoch (design.md), not a counter."""
    sock = raw_socket()
    sock.add_query(0, "diagnostics:echo", {"value": 0.0})
    transition, _ = sock.recv_until(_transition_to_query_set(1), timeout=20)
    ts = decode_ts(transition["endVersion"]["ts"])
    now_ns = time.time_ns()
    assert abs(ts - now_ns) < 24 * 3600 * 10**9, f"ts {ts} is not nanoseconds near now ({now_ns})"


def test_several_modifications_in_one_message(raw_socket):
    sock = raw_socket()
    sock.modify([
        {"type": "Add", "queryId": 5, "udfPath": "diagnostics:echo", "args": [{"value": "five"}]},
        {"type": "Add", "queryId": 6, "udfPath": "diagnostics:echo", "args": [{"value": "six"}]},
    ])
    last, before = sock.recv_until(_transition_to_query_set(1), timeout=20)
    seen = {}
    for transition in [*before, last]:
        if transition["type"] != "Transition":
            continue
        for mod in transition["modifications"]:
            if mod["type"] == "QueryUpdated":
                seen[mod["queryId"]] = mod["value"]
    # Both Adds are answered no later than the Transition that includes querySet 1.
    assert seen == {5: "five", 6: "six"}


def test_value_encoding_on_the_wire(raw_socket):
    cases = {
        0: {"$integer": "KgAAAAAAAAA="},  # Int64 42
        1: {"$float": "AAAAAAAA+H8="},  # NaN
        2: {"$float": "AAAAAAAAAIA="},  # -0.0
        3: {"$bytes": "AP8="},
        4: {"nested": [{"$integer": "//////////8="}, 2.5, None, "s"]},
    }
    sock = raw_socket()
    sock.modify([
        {"type": "Add", "queryId": qid, "udfPath": "diagnostics:echo", "args": [{"value": value}]}
        for qid, value in cases.items()
    ])
    transition, _ = sock.recv_until(_transition_to_query_set(1), timeout=20)
    values = {m["queryId"]: m["value"] for m in transition["modifications"] if m["type"] == "QueryUpdated"}
    for qid, value in cases.items():
        assert values.get(qid) == value, f"echo of {value!r} came back as {values.get(qid)!r}"


def test_query_failed_message(raw_socket):
    sock = raw_socket()
    sock.modify([
        {"type": "Add", "queryId": 0, "udfPath": "diagnostics:throwConvexError", "args": [{"data": {"code": "Q"}}]},
        {"type": "Add", "queryId": 1, "udfPath": "diagnostics:throwError", "args": [{"message": "plain failure"}]},
    ])
    transition, _ = sock.recv_until(_transition_to_query_set(1), timeout=20)
    mods = {m["queryId"]: m for m in transition["modifications"]}
    convex_error, plain = mods[0], mods[1]
    for mod in (convex_error, plain):
        assert mod["type"] == "QueryFailed", mod
        assert isinstance(mod["errorMessage"], str)
        assert isinstance(mod.get("logLines"), list)
    assert convex_error.get("errorData") == {"code": "Q"}
    assert "errorData" not in plain, "errorData only for ConvexError (an explicit null would make it one)"
    assert "plain failure" in plain["errorMessage"]


# --- reactivity ------------------------------------------------------------------------------------------


def test_commit_updates_only_the_affected_query(raw_socket, user):
    channel_a = user.create_channel()
    channel_b = user.create_channel()
    sock = raw_socket()
    sock.modify([
        {"type": "Add", "queryId": 0, "udfPath": "messages:getMessages", "args": [{"channelId": channel_a}]},
        {"type": "Add", "queryId": 1, "udfPath": "messages:getMessages", "args": [{"channelId": channel_b}]},
    ])
    sock.recv_until(_transition_to_query_set(1), timeout=20, description="the initial results")

    user.send(channel_a, "only A")
    hit_a, before = sock.recv_until(
        lambda m: m["type"] == "Transition" and any(mod.get("queryId") == 0 for mod in m["modifications"]),
        timeout=20, description="the QueryUpdated for channel A",
    )
    [mod] = _updates(hit_a, 0)
    assert [m["content"] for m in mod["value"]] == ["only A"]
    for t in [hit_a, *before]:
        if t["type"] == "Transition":
            assert not _updates(t, 1), f"channel B's query was re-sent for a write to A: {t!r}"

    user.send(channel_b, "only B")
    hit_b, before = sock.recv_until(
        lambda m: m["type"] == "Transition" and any(mod.get("queryId") == 1 for mod in m["modifications"]),
        timeout=20, description="the QueryUpdated for channel B",
    )
    for t in [hit_b, *before]:
        if t["type"] == "Transition":
            assert not _updates(t, 0), f"channel A's query was re-sent for a write to B: {t!r}"
    _check_chain([m for m in sock.received if m["type"] == "Transition"])


def test_authenticate_reruns_queries(raw_socket, make_token):
    sock = raw_socket()
    sock.add_query(0, "diagnostics:whoami", {})
    transition, _ = sock.recv_until(_transition_to_query_set(1), timeout=20)
    assert _updates(transition, 0)[0]["value"] is None
    sub = f"user_{uuid.uuid4().hex[:10]}"
    sock.authenticate(make_token(sub))
    transition, _ = sock.recv_until(
        lambda m: m["type"] in ("AuthError", "FatalError") or (m["type"] == "Transition" and m["endVersion"]["identity"] >= 1),
        timeout=20, description="the identity Transition",
    )
    assert transition["type"] == "Transition", transition
    assert transition["endVersion"]["identity"] == 1
    [mod] = _updates(transition, 0)
    assert mod["value"]["subject"] == sub, "queries rerun with the new identity in the same Transition"
    _check_chain([m for m in sock.received if m["type"] == "Transition"])


# --- mutations and actions ----------------------------------------------------------------------------------


def test_mutation_response_then_transition_with_nothing_subscribed(raw_socket):
    sock = raw_socket()
    rid = sock.request("Mutation", "diagnostics:echoMutation", {"value": "x"})
    response, _ = sock.response(rid)
    assert response["type"] == "MutationResponse"
    assert response["requestId"] == rid and is_int(response["requestId"])
    assert response["success"] is True
    assert response["result"] == "x"
    assert isinstance(response.get("logLines"), list), "MutationResponse needs logLines"
    ts = decode_ts(response["ts"])
    transition, _ = sock.recv_until(
        lambda m: m["type"] == "Transition" and decode_ts(m["endVersion"]["ts"]) >= ts,
        timeout=20, description="a Transition with endVersion.ts >= the mutation's ts (Python's mutation() waits for it)",
    )
    _check_chain([m for m in sock.received if m["type"] == "Transition"])
    assert transition["endVersion"]["querySet"] == 0


def test_mutation_that_writes_is_visible_in_the_next_transition(raw_socket, make_token):
    sock = raw_socket()
    sock.authenticate(make_token())
    rid = sock.request("Mutation", "users:upsertUser", {})
    response, _ = sock.response(rid)
    assert response["success"] is True, response
    user_id = response["result"]
    sock.add_query(0, "users:getCurrentUser", {})
    transition, _ = sock.recv_until(_transition_to_query_set(1), timeout=20)
    [mod] = _updates(transition, 0)
    assert mod["value"]["_id"] == user_id, "read-your-writes: the query sees the committed mutation"
    assert decode_ts(transition["endVersion"]["ts"]) >= decode_ts(response["ts"])


def test_failed_mutations(raw_socket):
    sock = raw_socket()
    rid = sock.request("Mutation", "diagnostics:failMutation", {"data": {"code": "M"}})
    response, _ = sock.response(rid)
    assert response["success"] is False
    assert isinstance(response["result"], str), "a failed mutation's result is the message string"
    assert response.get("errorData") == {"code": "M"}
    assert response.get("ts") is None
    assert isinstance(response.get("logLines"), list)
    sock.recv_until(lambda m: m["type"] == "Transition", timeout=20, description="a Transition after the failed mutation")

    rid = sock.request("Mutation", "messages:sendMessage", {"channelId": "nope", "content": "x"})
    response, _ = sock.response(rid)
    assert response["success"] is False
    assert isinstance(response["result"], str)
    assert "errorData" not in response


def test_mutations_answer_in_order(raw_socket):
    sock = raw_socket()
    ids = [sock.request("Mutation", "diagnostics:echoMutation", {"value": float(i)}) for i in range(10)]
    responses = []
    while len(responses) < len(ids):
        message, _ = sock.recv_until(lambda m: m["type"] == "MutationResponse", timeout=20)
        responses.append(message)
    assert [r["requestId"] for r in responses] == ids, "mutations on one socket run one at a time, in order"
    assert [r["result"] for r in responses] == [float(i) for i in range(10)]
    stamps = [decode_ts(r["ts"]) for r in responses]
    assert stamps == sorted(stamps)


def test_action_response(raw_socket):
    sock = raw_socket()
    rid = sock.request("Action", "diagnostics:echoAction", {"value": [1.5, "a"]})
    response, _ = sock.response(rid)
    assert response["type"] == "ActionResponse"
    assert response["success"] is True
    assert response["result"] == [1.5, "a"]
    assert isinstance(response.get("logLines"), list)


def test_request_ids_shared_by_mutations_and_actions(raw_socket):
    sock = raw_socket()
    a = sock.request("Mutation", "diagnostics:echoMutation", {"value": "m"})
    b = sock.request("Action", "diagnostics:echoAction", {"value": "a"})
    assert (a, b) == (0, 1)
    for rid, kind, value in ((a, "MutationResponse", "m"), (b, "ActionResponse", "a")):
        response, _ = sock.response(rid)
        assert response["type"] == kind and response["result"] == value


def test_mutation_dedup_by_session_and_request_id(raw_socket, make_token):
    token = make_token()
    session_id = str(uuid.uuid4())
    first = raw_socket(session_id=session_id)
    first.authenticate(token)
    response, _ = first.response(first.request("Mutation", "users:upsertUser", {}))
    assert response["success"] is True, response
    create = {"name": f"dedup-{uuid.uuid4().hex[:6]}"}
    rid = first.request("Mutation", "channels:create", create)
    original, _ = first.response(rid)
    assert original["success"] is True, original
    first.close()

    # Like JS after a reconnect: same sessionId, same requestId, same mutation.
    second = raw_socket(session_id=session_id, connection_count=1)
    second.authenticate(token)
    second.send({"type": "Mutation", "requestId": rid, "udfPath": "channels:create", "args": [create]})
    repeated, _ = second.response(rid)
    assert repeated["success"] is True
    assert repeated["result"] == original["result"], "a resent mutation must not run again"
    assert repeated["ts"] == original["ts"], "a resent mutation returns its original commit ts"


# --- misuse -----------------------------------------------------------------------------------------------------


def test_wrong_base_version_is_fatal(raw_socket):
    sock = raw_socket()
    sock.send({"type": "ModifyQuerySet", "baseVersion": 5, "newVersion": 6, "modifications": []})
    kind, detail = sock.expect_error_or_close()
    assert kind == "FatalError", f"a wrong ModifyQuerySet baseVersion must produce FatalError, got {kind}: {detail!r}"
    assert isinstance(detail["error"], str) and detail["error"]


def test_duplicate_query_id_is_refused(raw_socket):
    sock = raw_socket()
    sock.add_query(0, "diagnostics:echo", {"value": 1.0})
    sock.add_query(0, "diagnostics:echo", {"value": 2.0})
    sock.expect_error_or_close()


def test_garbage_frame_then_other_sockets_work(raw_socket, server):
    sock = raw_socket()
    sock.send_text("this is {not json")
    sock.expect_error_or_close()
    _assert_healthy(server, raw_socket)


def test_binary_frame_is_refused(raw_socket, server):
    sock = raw_socket()
    sock.send_bytes(b'{"type":"Connect"}')
    sock.expect_error_or_close()
    _assert_healthy(server, raw_socket)


def test_unknown_message_type(raw_socket, server):
    sock = raw_socket()
    sock.send({"type": "NoSuchMessage", "x": 1})
    sock.expect_error_or_close()
    _assert_healthy(server, raw_socket)


def test_message_before_connect(raw_socket, server):
    sock = raw_socket(send_connect=False)
    sock.send({"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": []})
    # Either refused or tolerated; the server must stay up.
    try:
        sock.recv(timeout=3)
    except (TimeoutError, SocketClosed):
        pass
    _assert_healthy(server, raw_socket)


def test_huge_frame_is_refused_and_server_survives(raw_socket, server):
    sock = raw_socket()
    padding = "x" * HUGE_FRAME_BYTES
    frame = '{"type":"Mutation","requestId":0,"udfPath":"diagnostics:echoMutation","args":[{"value":"' + padding + '"}]}'
    try:
        sock.send_text(frame)
    except (websockets.ConnectionClosed, OSError):
        pass  # the server closed while we were still sending: refused
    else:
        try:
            message, _ = sock.recv_until(
                lambda m: m["type"] in ("FatalError", "MutationResponse"), timeout=60,
                description="a refusal of the 20 MiB frame",
            )
            if message["type"] == "MutationResponse":
                assert message["success"] is False, "a 20 MiB message must be refused"
        except AssertionError as exc:
            if "socket closed" not in str(exc):
                raise
    _assert_healthy(server, raw_socket)


# --- heartbeats ---------------------------------------------------------------------------------------


def test_json_ping_after_silence(raw_socket):
    sock = raw_socket()
    _echo_roundtrip(sock)
    start = time.monotonic()
    while True:
        message = sock.recv(timeout=25, skip_pings=False)
        if message["type"] == "Ping":
            break
    assert time.monotonic() - start < 25
