"""The engine's own `_system/` functions and the app's internal functions through a replica's
forwarding path: a replica refuses them for clients (admin key or not for `_system/`) exactly as
the writer does, before anything is forwarded."""

from __future__ import annotations

import uuid

import pytest

from clients import RawSocket


def not_found(path: str) -> str:
    return f"Could not find public function for '{path}'. Did you forget to define it?"


@pytest.mark.parametrize("path, args", [
    ("_system/scheduler:acquireLease", {"holder": "attacker", "durationMs": 60000}),
    ("_system/scheduler:runMutationJob", {"holder": "attacker", "id": "x"}),
    ("diagnostics:internalEcho", {"value": "secret"}),
])
@pytest.mark.parametrize("node", ["replica1", "scheduler"])
def test_system_and_internal_functions_through_a_replica(cluster, node, path, args):
    sock = RawSocket(cluster.url(node).replace("http://", "ws://"), session_id=str(uuid.uuid4()))
    try:
        request_id = sock.request("Mutation", path, args)
        response, _ = sock.response(request_id)
    finally:
        sock.close()
    assert (response["success"], response["result"]) == (False, not_found(path))
