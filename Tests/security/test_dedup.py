"""Mutation dedup cannot be used to make another client's mutation silently not run, and a resend
by the same client is answered with the first result — also after the node restarts."""

from __future__ import annotations

import uuid

from clients import connect_message


def mutate(raw_socket, session_id: str, request_id: int, value, target=None, admin_key=None):
    # Connect by hand: the fixture would replace an empty sessionId with a fresh one.
    sock = raw_socket(target=target, send_connect=False)
    sock.send(connect_message(sessionId=session_id))
    if admin_key:
        sock.send({"type": "Authenticate", "baseVersion": 0, "tokenType": "Admin", "value": admin_key})
    rid = sock.request("Mutation", "diagnostics:echoMutation", {"value": value}, request_id=request_id)
    response, _ = sock.response(rid)
    sock.close()
    assert response["success"] is True, response
    return response["result"]


def test_empty_session_ids_do_not_share_results(raw_socket):
    assert mutate(raw_socket, "", 0, "first") == "first"
    assert mutate(raw_socket, "", 0, "second") == "second"


def test_same_session_id_under_another_identity_runs(raw_socket, admin_key):
    session = str(uuid.uuid4())
    assert mutate(raw_socket, session, 0, "anonymous") == "anonymous"
    assert mutate(raw_socket, session, 0, "admin", admin_key=admin_key) == "admin"


def test_resend_is_answered_with_the_first_result_across_a_restart(raw_socket, server_factory):
    node = server_factory.start("dedup")
    session = str(uuid.uuid4())
    assert mutate(raw_socket, session, 5, "first", target=node) == "first"
    node.restart()
    assert mutate(raw_socket, session, 5, "resent", target=node) == "first"
    assert mutate(raw_socket, session, 6, "next", target=node) == "next"
