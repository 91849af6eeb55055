"""HTTP actions (issue 12) on every node's client port at /http/<path>: routes, methods, 404/405,
streamed bodies, the action context; and the chat app's Clerk webhook, verified as Svix signs it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Dict, Optional

import pytest
import requests

from conftest import CLERK_WEBHOOK_SECRET

NODES = ["writer", "replica1", "scheduler"]


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    return session


@pytest.fixture
def http(cluster):
    session = _session()

    def call(node: str, method: str, path: str, **kwargs) -> requests.Response:
        return session.request(method, f"{cluster.url(node)}/http{path}", timeout=30, **kwargs)

    yield call
    session.close()


@pytest.mark.parametrize("node", NODES)
def test_routes_answer_on_every_node_with_the_request_as_sent(http, node):
    response = http(node, "POST", "/diagnostics/echo?name=Ada%20L&x=1", data=b"hello body", headers={"X-Diagnostics": "yes"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"method": "POST", "path": "/diagnostics/echo", "query": "name=Ada%20L&x=1", "name": "Ada L",
                               "header": "yes", "body": "hello body", "user": None}
    assert http(node, "GET", "/diagnostics/echo").json()["method"] == "GET"


def test_prefix_routes_unknown_paths_and_wrong_methods(http):
    files = http("replica1", "GET", "/diagnostics/files/a/b.txt")
    assert (files.status_code, files.text, files.headers["x-route"]) == (200, "file a/b.txt", "prefix")
    missing = http("replica1", "GET", "/diagnostics/nothing-here")
    assert (missing.status_code, missing.text) == (404, "No HTTP route for /diagnostics/nothing-here\n")
    wrong = http("replica1", "DELETE", "/diagnostics/echo")
    assert (wrong.status_code, wrong.headers["allow"]) == (405, "GET, POST")


def test_a_signed_in_caller_is_the_actions_identity(http, user):
    response = http("writer", "GET", "/diagnostics/echo", headers={"Authorization": f"Bearer {user.token}"})
    assert response.json()["user"] == user.sub
    refused = http("writer", "GET", "/diagnostics/echo", headers={"Authorization": "Bearer not-a-token"})
    assert refused.status_code == 401


def test_a_large_body_streams_in_chunks(http):
    chunks, size = 40, 64 * 1024
    started = time.monotonic()
    with http("scheduler", "GET", f"/diagnostics/stream?chunks={chunks}&bytes={size}", stream=True) as response:
        assert response.status_code == 200
        assert response.headers.get("transfer-encoding") == "chunked"
        parts = response.iter_content(chunk_size=None)
        first = next(parts)
        first_at = time.monotonic() - started
        total = len(first) + sum(len(part) for part in parts)
    whole = time.monotonic() - started
    assert total == chunks * size
    # The route sleeps 20 ms between chunks: the first arrived long before the last was made.
    assert first_at < whole / 2, f"first chunk after {first_at:.3f} s, whole body after {whole:.3f} s"


def test_a_route_writes_through_the_action_context_from_a_replica(cluster, http):
    prefix = f"http{uuid.uuid4().hex[:8]}"
    response = http("replica1", "POST", f"/diagnostics/record?prefix={prefix}")
    assert (response.status_code, response.text) == (200, f"recorded {prefix}-http")
    stats = cluster.http("writer", "query", "diagnostics:runStats", {"prefix": prefix})
    assert (stats["runs"], stats["counter"]) == (1, 1)


# --- the Clerk webhook -------------------------------------------------------------------------

def _sign(body: bytes, message_id: str, timestamp: int, secret: str = CLERK_WEBHOOK_SECRET) -> str:
    key = base64.b64decode(secret[len("whsec_"):])
    mac = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def _clerk_event(kind: str, clerk_id: str, first_name: str = "Ada") -> bytes:
    data: Dict = {"id": clerk_id}
    if kind != "user.deleted":
        data.update({
            "first_name": first_name, "last_name": "Lovelace", "image_url": "https://img.example/ada.png",
            "primary_email_address_id": "idn_2",
            "email_addresses": [{"id": "idn_1", "email_address": "old@example.com"}, {"id": "idn_2", "email_address": "ada@example.com"}],
        })
    else:
        data["deleted"] = True
    return json.dumps({"type": kind, "object": "event", "data": data}).encode()


def _deliver(http, node: str, body: bytes, *, message_id: Optional[str] = None, timestamp: Optional[int] = None,
             signature: Optional[str] = None, headers: Optional[Dict[str, str]] = None) -> requests.Response:
    message_id = message_id or f"msg_{uuid.uuid4().hex}"
    timestamp = int(time.time()) if timestamp is None else timestamp
    sent = {"svix-id": message_id, "svix-timestamp": str(timestamp),
            "svix-signature": signature or f"v1,bm90IGl0 {_sign(body, message_id, timestamp)}", "content-type": "application/json"}
    if headers is not None:
        sent = headers
    return http(node, "POST", "/webhooks/clerk", data=body, headers=sent)


def _user(cluster, jwks, clerk_id: str):
    return cluster.http("writer", "query", "users:getCurrentUser", {}, token=jwks.make_token(clerk_id))


def test_the_clerk_webhook_upserts_once_and_deletes(cluster, http, jwks):
    clerk_id = f"user_{uuid.uuid4().hex[:12]}"
    body = _clerk_event("user.created", clerk_id)
    message_id = f"msg_{uuid.uuid4().hex}"
    timestamp = int(time.time())
    assert _deliver(http, "replica1", body, message_id=message_id, timestamp=timestamp).status_code == 200
    created = _user(cluster, jwks, clerk_id)
    assert {k: created[k] for k in ("clerkId", "email", "name", "imageUrl")} == {
        "clerkId": clerk_id, "email": "ada@example.com", "name": "Ada Lovelace", "imageUrl": "https://img.example/ada.png"}
    # Svix redelivers the same message: nothing changes.
    assert _deliver(http, "writer", body, message_id=message_id, timestamp=timestamp).status_code == 200
    assert _user(cluster, jwks, clerk_id) == created
    assert _deliver(http, "scheduler", _clerk_event("user.updated", clerk_id, first_name="Augusta")).status_code == 200
    updated = _user(cluster, jwks, clerk_id)
    assert (updated["_id"], updated["name"]) == (created["_id"], "Augusta Lovelace")
    assert _deliver(http, "replica1", _clerk_event("user.deleted", clerk_id)).status_code == 200
    assert _user(cluster, jwks, clerk_id) is None


def test_the_clerk_webhook_refuses_unsigned_and_stale_deliveries_and_writes_nothing(cluster, http, jwks):
    clerk_id = f"user_{uuid.uuid4().hex[:12]}"
    body = _clerk_event("user.created", clerk_id)
    now = int(time.time())
    missing = _deliver(http, "replica1", body, headers={"content-type": "application/json"})
    assert (missing.status_code, missing.text) == (400, "Missing svix-id, svix-timestamp or svix-signature\n")
    bad = _deliver(http, "replica1", body, signature=_sign(body, "msg_other", now))
    assert (bad.status_code, bad.text) == (401, "No signature matches\n")
    other_secret = "whsec_" + base64.b64encode(b"another secret of some length").decode()
    wrong_key = _deliver(http, "replica1", body, message_id="msg_1", timestamp=now, signature=_sign(body, "msg_1", now, other_secret))
    assert wrong_key.status_code == 401
    old = now - 6 * 60
    stale = _deliver(http, "replica1", body, message_id="msg_2", timestamp=old, signature=_sign(body, "msg_2", old))
    assert (stale.status_code, stale.text) == (401, "svix-timestamp is more than 5 minutes away from now\n")
    assert _user(cluster, jwks, clerk_id) is None
