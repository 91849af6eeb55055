"""The deployment's secrets (ANTHROPIC_API_KEY, CLERK_WEBHOOK_SECRET and the base64 key inside
it) never leave a node: not in any node's log, not in /metrics or /health, not in an error a
client receives — after calls that fail in every way this issue added."""

from __future__ import annotations

import json
import uuid

import requests

from cluster import CLUSTER_DIR
from conftest import AI_API_KEY, CLERK_WEBHOOK_SECRET

SECRETS = {"ANTHROPIC_API_KEY": AI_API_KEY, "CLERK_WEBHOOK_SECRET": CLERK_WEBHOOK_SECRET,
           "the webhook key": CLERK_WEBHOOK_SECRET[len("whsec_"):]}


def _leaks(text: str):
    return [name for name, value in SECRETS.items() if value in text]


def test_secrets_appear_in_no_log_metrics_or_client_error(cluster, user):
    session = requests.Session()
    session.trust_env = False
    seen = []
    conversation = cluster.http("writer", "mutation", "aiConversations:create", {"title": "secrets"}, token=user.token)
    for prompt in ("[error] leak?", "[drop] leak?"):
        response = session.post(f"{cluster.url('replica1')}/api/action", timeout=60, json={
            "path": "ai:generateAIResponse", "args": {"conversationId": conversation, "userMessage": prompt}, "format": "json"},
            headers={"Authorization": f"Bearer {user.token}"})
        assert response.json()["status"] == "error"
        seen.append(("action error", response.text))
    for headers in ({}, {"svix-id": "msg_x", "svix-timestamp": "1", "svix-signature": "v1,AAAA"}):
        response = session.post(f"{cluster.url('writer')}/http/webhooks/clerk", data=b"{}", headers=headers, timeout=30)
        assert response.status_code in (400, 401)
        seen.append(("webhook refusal", response.text))
    messages = cluster.http("writer", "query", "aiConversations:getMessages", {"conversationId": conversation}, token=user.token)
    seen.append(("stored messages", json.dumps(messages)))
    for node in cluster.nodes():
        for endpoint in ("/metrics", "/health"):
            seen.append((f"{node} {endpoint}", session.get(cluster.url(node) + endpoint, timeout=10).text))
    for log in sorted(CLUSTER_DIR.glob("*.log")):
        seen.append((str(log.name), log.read_text(errors="replace")))
    leaks = [(where, _leaks(text)) for where, text in seen if _leaks(text)]
    assert leaks == [], f"secrets found in: {leaks}"
    assert len(seen) >= 2 + 2 + 1 + 2 * len(cluster.nodes()), seen
