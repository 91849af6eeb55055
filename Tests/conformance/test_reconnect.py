"""The official client survives a server restart by itself.

Uses a private server (its own port and data directory) so the restart does not disturb the
other tests.

Protocol assumptions (protocol.md §1.5, §1.6, §2.1, §3.2, design.md "Timestamps survive restarts"):
- On a lost socket the Rust/Python client reconnects with backoff (100 ms … 15 s), sends a new
  Connect (possibly with maxObservedTimestamp), re-authenticates and re-adds its queries with
  ModifyQuerySet 0→1; every socket is a fresh protocol session starting at version (0,0,0).
- The server keeps its data across a restart (same --data directory), and its timestamps do
  not go backwards, so the client's maxObservedTimestamp is not ahead of the restarted server.
- The restarted server answers the re-added query and pushes later commits to it.
"""

from __future__ import annotations

import uuid

from clients import check_state_version, connect_message, decode_ts, encode_ts

RECONNECT_TIMEOUT = 60.0


def _contents(messages):
    return [m["content"] for m in messages]


def test_subscriber_reconnects_after_server_restart(server_factory, new_user, client_factory, subscribe):
    srv = server_factory.start("restarted")
    user = new_user(target=srv)
    channel = user.create_channel()
    before = f"before-{uuid.uuid4().hex[:8]}"
    user.send(channel, before)

    sub = subscribe("messages:getMessages", {"channelId": channel}, user.token, target=srv)
    sub.wait_for(lambda v: _contents(v) == [before], timeout=30, description="the message sent before the restart")

    status = srv.stop()
    assert status is not None
    srv.start()  # same port, same data directory

    # A fresh client writes after the restart; the old subscriber must see it without help.
    writer = client_factory(user.token, srv)
    after = f"after-{uuid.uuid4().hex[:8]}"
    writer.mutation("messages:sendMessage", {"channelId": channel, "content": after}, timeout=RECONNECT_TIMEOUT)
    result = sub.wait_for(
        lambda v: isinstance(v, list) and after in _contents(v),
        timeout=RECONNECT_TIMEOUT,
        description="the message written after the restart (the client must reconnect by itself)",
    )
    assert _contents(result) == [after, before], "data from before the restart is kept and order is newest first"


def test_data_and_identity_survive_restart(server_factory, new_user, client_factory):
    srv = server_factory.start("persisted")
    user = new_user(target=srv)
    channel = user.create_channel("kept-across-restart")
    user.send(channel, "persisted message")

    srv.restart()

    client = client_factory(user.token, srv)
    assert client.query("users:getCurrentUser", {})["_id"] == user.user_id
    messages = client.query("messages:getMessages", {"channelId": channel})
    assert _contents(messages) == ["persisted message"]
    # New writes after the restart still work, on the same documents.
    assert client.mutation("users:upsertUser", {}) == user.user_id


def test_timestamps_do_not_go_backwards_across_restart(server_factory, raw_socket, make_token):
    srv = server_factory.start("monotonic")
    token = make_token()
    sock = raw_socket(target=srv)
    sock.authenticate(token)
    for path, args in (("users:upsertUser", {}), ("channels:create", {"name": "before-restart"})):
        rid = sock.request("Mutation", path, args)
        response, _ = sock.response(rid)
        assert response["success"] is True, response
    first_ts = decode_ts(response["ts"])
    sock.close()

    srv.restart()

    # A client that saw first_ts reconnects and says so (maxObservedTimestamp); the server must
    # serve it, and its next commit is later than everything before the restart.
    sock = raw_socket(target=srv, send_connect=False)
    sock.send(connect_message(connection_count=1, maxObservedTimestamp=encode_ts(first_ts)))
    sock.authenticate(token)
    rid = sock.request("Mutation", "channels:create", {"name": "after-restart"})
    response, _ = sock.response(rid, timeout=RECONNECT_TIMEOUT)
    assert response["success"] is True, response
    second_ts = decode_ts(response["ts"])
    assert second_ts > first_ts, f"commit timestamps went backwards across a restart: {second_ts} <= {first_ts}"
    transition, _ = sock.recv_until(
        lambda m: m["type"] == "Transition" and check_state_version(m["endVersion"])[2] >= second_ts,
        timeout=30, description="a Transition at or after the mutation's ts",
    )
