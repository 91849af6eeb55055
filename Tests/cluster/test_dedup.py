"""Mutation dedup across the cluster: a client that resends a mutation after reconnecting to
another node gets the first result, because every node forwards it to the writer, whose
transaction finds the record (`_mutation_requests`) written with the first run."""

from __future__ import annotations

import uuid

from clients import RawSocket


def mutate(cluster, node: str, session_id: str, request_id: int, value) -> str:
    sock = RawSocket(cluster.url(node).replace("http://", "ws://"), session_id=session_id)
    try:
        sock.request("Mutation", "diagnostics:echoMutation", {"value": value}, request_id=request_id)
        response, _ = sock.response(request_id)
    finally:
        sock.close()
    assert response["success"] is True, response
    return response["result"]


def test_resend_through_other_nodes_gets_the_first_result(cluster):
    session = str(uuid.uuid4())
    assert mutate(cluster, "replica1", session, 9, "first") == "first"
    assert mutate(cluster, "writer", session, 9, "resent to the writer") == "first"
    assert mutate(cluster, "scheduler", session, 9, "resent to the scheduler") == "first"
    assert mutate(cluster, "replica1", session, 10, "another request") == "another request"
