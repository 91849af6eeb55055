"""The HTTP API with plain `requests` (what the legacy Python and JS HTTP clients send).

Protocol assumptions (protocol.md §6, §5):
- POST /api/query|mutation|action take {"path", "args", "format"}; args is `[obj]` (JS) or a bare
  object (Py-HTTP); success is {"status":"success","value",...}; a function error is
  {"status":"error","errorMessage","errorData"?} with HTTP 200 (or 560).
- `"format":"convex_encoded_json"` gives Convex JSON; Float64 values are written with a decimal
  point or exponent (`5.0`), never as JSON integer literals (Py-HTTP rejects those).
- POST /api/run/{a/b/fn} takes {"args"} and defaults to the clean `json` format.
- Other failures are non-2xx with a JSON body holding `code` and `message` (Py-HTTP needs both).
- POST /api/query_ts returns {"ts": <base64 u64>}.
"""

from __future__ import annotations

import json

import pytest
import requests

from clients import decode_ts

ENCODED = "convex_encoded_json"


@pytest.fixture
def http(server):
    session = requests.Session()
    session.trust_env = False
    session.headers.update({"Convex-Client": "npm-1.45.0"})

    def post(route, body, **kwargs):
        return session.post(server.url + route, json=body, timeout=30, **kwargs)

    post.session = session
    post.url = server.url
    return post


@pytest.mark.parametrize("args", [[{"value": "arr"}], {"value": "arr"}], ids=["array-args", "object-args"])
@pytest.mark.parametrize("route,path", [("/api/query", "diagnostics:echo"), ("/api/mutation", "diagnostics:echoMutation"), ("/api/action", "diagnostics:echoAction")])
def test_function_routes(http, route, path, args):
    response = http(route, {"path": path, "args": args, "format": ENCODED})
    assert response.status_code == 200, response.text[:300]
    body = response.json()
    assert body["status"] == "success", body
    assert body["value"] == "arr"


def test_float64_written_with_decimal_point(http):
    response = http("/api/query", {"path": "diagnostics:echo", "args": {"value": 5.0}, "format": ENCODED})
    body = json.loads(response.text)
    assert type(body["value"]) is float, f"Float64 5.0 must not be written as an integer literal: {response.text[:200]!r}"


def test_encoded_special_values(http):
    value = {"i": {"$integer": "KgAAAAAAAAA="}, "n": {"$float": "AAAAAAAA+H8="}, "b": {"$bytes": "AP8="}}
    response = http("/api/query", {"path": "diagnostics:echo", "args": {"value": value}, "format": ENCODED})
    assert response.json()["value"] == value


def test_run_route_defaults_to_clean_json(http):
    response = http("/api/run/diagnostics/echo", {"args": {"value": {"s": "x", "f": 1.5}}})
    assert response.status_code == 200, response.text[:300]
    body = response.json()
    assert body["status"] == "success"
    assert body["value"] == {"s": "x", "f": 1.5}


def test_function_error_body(http):
    response = http("/api/query", {"path": "diagnostics:throwError", "args": {"message": "boom"}, "format": ENCODED})
    assert response.status_code in (200, 560), response.status_code
    body = response.json()
    assert body["status"] == "error"
    assert "boom" in body["errorMessage"]
    assert "errorData" not in body


def test_convex_error_body(http):
    response = http("/api/query", {"path": "diagnostics:throwConvexError", "args": {"data": {"k": "v"}}, "format": ENCODED})
    assert response.status_code in (200, 560)
    body = response.json()
    assert body["status"] == "error"
    assert body["errorData"] == {"k": "v"}
    assert isinstance(body["errorMessage"], str)


def test_bad_request_has_code_and_message(http):
    response = http.session.post(http.url + "/api/query", data=b"{not json", headers={"Content-Type": "application/json"}, timeout=30)
    assert 400 <= response.status_code < 500, response.status_code
    body = response.json()
    assert isinstance(body.get("code"), str) and isinstance(body.get("message"), str), body


def test_bad_bearer_token_is_401(http):
    response = http("/api/query", {"path": "diagnostics:whoami", "args": {}, "format": ENCODED},
                    headers={"Authorization": "Bearer not-a-jwt"})
    assert response.status_code == 401, response.status_code
    body = response.json()
    assert isinstance(body.get("code"), str) and isinstance(body.get("message"), str), body


def test_query_ts(http):
    response = http("/api/query_ts", None)
    assert response.status_code == 200, response.text[:200]
    decode_ts(response.json()["ts"])


def test_root_says_running(http):
    response = http.session.get(http.url + "/", timeout=10)
    assert response.status_code == 200
