"""CORS: any origin may call the API (as Convex allows), but never with the browser's
credentials (cookies, HTTP auth): requests carry their token in `Authorization` instead."""

from __future__ import annotations

import requests


def test_preflight_allows_the_origin_without_credentials(server):
    response = requests.options(server.url + "/api/mutation", headers={
        "Origin": "https://evil.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type, authorization",
    }, timeout=10)
    assert response.headers.get("Access-Control-Allow-Origin") == "https://evil.example"
    assert "Access-Control-Allow-Credentials" not in response.headers, dict(response.headers)


def test_simple_request_carries_no_credentials_grant(server):
    response = requests.post(server.url + "/api/query", json={"path": "diagnostics:echo", "args": {"value": 1}},
                             headers={"Origin": "https://evil.example"}, timeout=10)
    assert response.status_code == 200
    assert "Access-Control-Allow-Credentials" not in response.headers, dict(response.headers)
