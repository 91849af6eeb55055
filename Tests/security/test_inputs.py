"""Oversize and deeply nested inputs get a clear refusal and leave the node serving."""

from __future__ import annotations

import json

import pytest
import requests
import websockets


def nested(levels: int):
    value = 1
    for _ in range(levels):
        value = [value]
    return value


LIMIT_CASES = [
    (nested(64), "Arguments of diagnostics:echoMutation are nested too deeply (limit 64 levels)"),
    ([0] * 8193, "An array in the arguments of diagnostics:echoMutation has too many elements (8193, limit 8192)"),
    ({f"f{i}": 0 for i in range(1025)}, "An object in the arguments of diagnostics:echoMutation has too many fields (1025, limit 1024)"),
]


@pytest.mark.parametrize("value, reason", LIMIT_CASES, ids=["depth-65", "8193-elements", "1025-fields"])
def test_argument_limits_over_websocket(raw_socket, value, reason):
    sock = raw_socket()
    request_id = sock.request("Mutation", "diagnostics:echoMutation", {"value": value})
    response, _ = sock.response(request_id)
    assert (response["success"], response["result"]) == (False, "ArgumentValidationError: " + reason)
    # The socket is still usable.
    request_id = sock.request("Mutation", "diagnostics:echoMutation", {"value": nested(63)})
    response, _ = sock.response(request_id)
    assert response["success"] is True


@pytest.mark.parametrize("value, reason", LIMIT_CASES, ids=["depth-65", "8193-elements", "1025-fields"])
def test_argument_limits_over_http(server, value, reason):
    response = requests.post(server.url + "/api/mutation",
                             json={"path": "diagnostics:echoMutation", "args": {"value": value}, "format": "json"}, timeout=10)
    assert response.json() == {"status": "error", "errorMessage": "ArgumentValidationError: " + reason, "logLines": []}


def test_json_nested_beyond_the_parser_limit_is_fatal(raw_socket):
    sock = raw_socket()
    depth = 100_000
    sock.send_text('{"type":"Mutation","requestId":0,"udfPath":"diagnostics:echoMutation","args":[{"value":'
                   + "[" * depth + "]" * depth + "}]}")
    kind, message = sock.expect_error_or_close()
    assert kind == "FatalError"
    assert "nesting deeper than 128" in message["error"]


def test_message_over_the_size_limit_closes_the_socket(raw_socket):
    """The server closes with 1009 (message too big) as soon as the frame header says too much; a
    client still sending may see the connection reset before that close frame, so the exact code
    is checked when it arrives. Either way nothing is answered and the node keeps serving."""
    sock = raw_socket()
    try:
        sock.send_text(json.dumps({"type": "Mutation", "requestId": 0, "udfPath": "diagnostics:echoMutation",
                                   "args": [{"value": "x" * (16 << 20)}]}))
        kind, detail = sock.expect_error_or_close()
        assert kind == "closed", f"expected the socket closed, got {kind}: {detail}"
        code = detail.code
    except (websockets.ConnectionClosed, ConnectionResetError, BrokenPipeError) as closed:
        received = getattr(closed, "rcvd", None)
        code = received.code if received else None
    assert code in (1009, None), f"expected close code 1009 (message too big), got {code}"
    assert [m for m in sock.received if m["type"] == "MutationResponse"] == []
    fresh = raw_socket()
    response, _ = fresh.response(fresh.request("Mutation", "diagnostics:echoMutation", {"value": "still serving"}))
    assert response["result"] == "still serving"


def test_http_body_over_the_size_limit(server):
    body = b'{"path":"diagnostics:echoMutation","args":{"value":"' + b"x" * (16 << 20) + b'"}}'
    response = requests.post(server.url + "/api/mutation", data=body, headers={"Content-Type": "application/json"}, timeout=30)
    assert (response.status_code, response.json()) == (
        413, {"code": "RequestTooLarge", "message": f"Request body larger than {16 << 20} bytes (RIPPLE_MAX_MESSAGE_BYTES)"})
