"""Internal functions and the engine's own `_system/` functions are not callable by clients: not
over the WebSocket, not over HTTP. Admins may call internal functions, never `_system/` ones."""

from __future__ import annotations

import pytest
import requests


def not_found(path: str) -> str:
    return f"Could not find public function for '{path}'. Did you forget to define it?"


SYSTEM_MUTATIONS = [
    ("_system/scheduler:acquireLease", {"holder": "attacker", "durationMs": 60000}),
    ("_system/scheduler:runMutationJob", {"holder": "attacker", "id": "x"}),
    ("_system/scheduler:schedule", {"name": "messages:sendMessage", "args": {}}),
]


@pytest.mark.parametrize("path, args", SYSTEM_MUTATIONS, ids=[p for p, _ in SYSTEM_MUTATIONS])
@pytest.mark.parametrize("as_admin", [False, True], ids=["anonymous", "admin"])
def test_system_mutation_over_websocket(raw_socket, admin_key, path, args, as_admin):
    sock = raw_socket()
    if as_admin:
        sock.send({"type": "Authenticate", "baseVersion": 0, "tokenType": "Admin", "value": admin_key})
    request_id = sock.request("Mutation", path, args)
    response, _ = sock.response(request_id)
    assert response["success"] is False
    assert response["result"] == not_found(path)


def test_internal_query_over_websocket_and_with_admin_key(raw_socket, admin_key):
    sock = raw_socket()
    sock.add_query(0, "diagnostics:internalEcho", {"value": "secret"})
    message, _ = sock.recv_until(lambda m: m["type"] == "Transition" and m["modifications"], description="the query's result")
    assert message["modifications"][0]["type"] == "QueryFailed"
    assert message["modifications"][0]["errorMessage"] == not_found("diagnostics:internalEcho")
    admin = raw_socket()
    admin.send({"type": "Authenticate", "baseVersion": 0, "tokenType": "Admin", "value": admin_key})
    admin.add_query(0, "diagnostics:internalEcho", {"value": "secret"})
    message, _ = admin.recv_until(lambda m: m["type"] == "Transition" and m["modifications"], description="the query's result")
    assert message["modifications"][0]["type"] == "QueryUpdated"
    assert message["modifications"][0]["value"] == "secret"


@pytest.mark.parametrize("route, path, args", [
    ("/api/mutation", "_system/scheduler:acquireLease", {"holder": "attacker", "durationMs": 60000}),
    ("/api/query", "_system/scheduler:jobsInState", {"state": "pending"}),
    ("/api/query", "diagnostics:internalEcho", {"value": "secret"}),
    ("/api/function", "diagnostics:internalEcho", {"value": "secret"}),
])
def test_internal_and_system_functions_over_http(server, route, path, args):
    response = requests.post(server.url + route, json={"path": path, "args": args, "format": "json"}, timeout=10)
    assert response.status_code == 200
    assert response.json() == {"status": "error", "errorMessage": not_found(path), "logLines": []}


def test_system_function_over_http_with_admin_key(server, admin_key):
    path = "_system/scheduler:acquireLease"
    response = requests.post(
        server.url + "/api/mutation", json={"path": path, "args": {"holder": "attacker", "durationMs": 60000}, "format": "json"},
        headers={"Authorization": f"Convex {admin_key}"}, timeout=10)
    assert response.json() == {"status": "error", "errorMessage": not_found(path), "logLines": []}


def test_admin_endpoint_without_and_with_a_wrong_key(server, admin_key):
    expected = {"code": "Unauthenticated", "message": "admin key required"}
    for headers in [{}, {"Authorization": "Convex wrong-" + admin_key}, {"Authorization": "Bearer " + admin_key},
                    {"Authorization": "Convex " + admin_key[:-1]}]:
        response = requests.get(server.url + "/admin/hash?ts=1", headers=headers, timeout=10)
        assert (response.status_code, response.json()) == (401, expected), headers
    response = requests.get(server.url + "/admin/hash?ts=1", headers={"Authorization": f"Convex {admin_key}"}, timeout=40)
    assert response.status_code != 401


def test_wrong_admin_key_on_the_websocket(raw_socket, admin_key):
    sock = raw_socket()
    sock.send({"type": "Authenticate", "baseVersion": 0, "tokenType": "Admin", "value": admin_key + "x"})
    kind, message = sock.expect_error_or_close()
    assert (kind, message) == ("AuthError", {
        "type": "AuthError", "error": "The admin key is not valid for this deployment", "baseVersion": 0, "authUpdateAttempted": True,
    })


def test_wrong_admin_key_over_http(server, admin_key):
    response = requests.post(server.url + "/api/query", json={"path": "diagnostics:internalEcho", "args": {"value": 1}},
                             headers={"Authorization": "Convex nope"}, timeout=10)
    assert (response.status_code, response.json()) == (
        401, {"code": "Unauthenticated", "message": "The admin key is not valid for this deployment"})
