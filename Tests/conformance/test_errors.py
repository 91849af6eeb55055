"""Function errors as the official clients see them.

Protocol assumptions (protocol.md §3.3, §3.5, §6, §7, §10.8):
- A ConvexError carries its data separately (`errorData` in QueryFailed / MutationResponse /
  the HTTP error body); the Python WebSocket client raises `convex.ConvexError` with `.data`
  decoded. An explicit `errorData: null` is still ConvexError data (§3.3).
- Any other error is only a message string (no `errorData`); the Python client raises a plain
  Exception with that text, which contains the thrown message ("boom").
- Unknown or internal functions are reported with Convex's wording "Could not find public
  function"; args that fail validation with "ArgumentValidationError".
- The legacy HTTP client gets `{"status":"error","errorMessage",...,"errorData"?}` (HTTP 200 or
  560) or a non-2xx `{"code","message"}`; either way its exception text carries the message.
  For ConvexError it raises `convex.ConvexError` whose `.data` is the raw (encoded) errorData.
"""

from __future__ import annotations

import pytest
from convex import ConvexError, ConvexInt64
from convex.http_client import ConvexHttpClient

import wire
from clients import RemoteError

ERROR_DATA = [
    ("object", {"code": "E_CONFORMANCE", "detail": {"n": 1.5, "list": [True, None, "x"]}}),
    ("string", "just a string"),
    ("number", 7.0),
    ("int64-and-bytes", {"big": ConvexInt64(2**62), "raw": b"\x00\x01"}),
    ("null", None),
]


def _ids(cases):
    return [c[0] for c in cases]


@pytest.mark.parametrize("name,data", ERROR_DATA, ids=_ids(ERROR_DATA))
def test_query_convex_error_data(client, name, data):
    with pytest.raises(ConvexError) as info:
        client.query("diagnostics:throwConvexError", {"data": data})
    assert wire.same_value(info.value.data, data), f"ConvexError.data: expected {wire.describe(data)}, got {wire.describe(info.value.data)}"
    assert isinstance(str(info.value), str)


@pytest.mark.parametrize("name,data", ERROR_DATA, ids=_ids(ERROR_DATA))
def test_mutation_convex_error_data(client, name, data):
    with pytest.raises(ConvexError) as info:
        client.mutation("diagnostics:failMutation", {"data": data})
    assert wire.same_value(info.value.data, data), f"ConvexError.data: expected {wire.describe(data)}, got {wire.describe(info.value.data)}"


def test_subscription_convex_error(subscribe):
    data = {"code": "E_SUBSCRIBED", "n": 2.5}
    sub = subscribe("diagnostics:throwConvexError", {"data": data}, errors_ok=True)
    error = sub.next_error(30)
    assert error["kind"] == "ConvexError", f"expected a ConvexError from the subscription, got {error!r}"
    assert wire.same_value(wire.decode(error["data"]), data)


def test_plain_error_message(client):
    with pytest.raises(RemoteError) as info:
        client.query("diagnostics:throwError", {"message": "boom"})
    assert "boom" in info.value.message
    # The failure did not break the client.
    assert client.query("diagnostics:echo", {"value": "still fine"}) == "still fine"


def test_plain_error_is_not_a_convex_error(client):
    try:
        client.query("diagnostics:throwError", {"message": "kaboom"})
    except ConvexError as exc:
        pytest.fail(f"a plain error must not carry ConvexError data (got data {exc.data!r})")
    except RemoteError as exc:
        assert "kaboom" in exc.message
    else:
        pytest.fail("diagnostics:throwError returned instead of failing")


@pytest.mark.parametrize("kind", ["query", "mutation", "action"])
def test_unknown_function(client, kind):
    with pytest.raises(RemoteError) as info:
        client.run(kind, "diagnostics:doesNotExist", {})
    assert "Could not find public function" in info.value.message


def test_unknown_module(client):
    with pytest.raises(RemoteError) as info:
        client.query("nosuchmodule:fn", {})
    assert "Could not find public function" in info.value.message


def test_internal_function_is_not_public(client):
    with pytest.raises(RemoteError) as info:
        client.query("diagnostics:internalEcho", {"value": 1.0})
    assert "Could not find public function" in info.value.message


@pytest.mark.parametrize(
    "path,args",
    [
        ("messages:getMessages", {"channelId": 5}),
        ("messages:getMessages", {}),
        ("diagnostics:echo", {"value": 1.0, "unexpected": True}),
        ("diagnostics:throwError", {"message": 3.0}),
    ],
    ids=["wrong-type", "missing-field", "extra-field", "string-expected"],
)
def test_argument_validation(client, path, args):
    with pytest.raises(RemoteError) as info:
        client.query(path, args)
    assert "ArgumentValidationError" in info.value.message


def test_mutation_argument_validation(client):
    with pytest.raises(RemoteError) as info:
        client.mutation("messages:sendMessage", {"channelId": "x", "content": 5})
    assert "ArgumentValidationError" in info.value.message


def test_wrong_function_kind_is_an_error(client):
    """Calling a query as a mutation fails (the message wording is not checked)."""
    with pytest.raises(RemoteError):
        client.mutation("diagnostics:echo", {"value": 1.0})


def test_udf_path_forms(client):
    """`mod:fn` and `mod.js:fn` name the same function (§2)."""
    assert client.query("diagnostics.js:echo", {"value": "js"}) == "js"


# --- the legacy HTTP client ---------------------------------------------------------------------------


@pytest.fixture
def http(server):
    return ConvexHttpClient(server.url)


def test_http_convex_error(http):
    data = {"code": "E_HTTP", "detail": [1.5, "x", None]}
    with pytest.raises(ConvexError) as info:
        http.query("diagnostics:throwConvexError", {"data": data})
    # Py-HTTP hands back errorData as raw Convex JSON (here plain JSON).
    assert info.value.data == data


def test_http_convex_error_string_data(http):
    with pytest.raises(ConvexError) as info:
        http.query("diagnostics:throwConvexError", {"data": "plain"})
    assert info.value.data == "plain"
    assert str(info.value) == "plain"


def test_http_mutation_convex_error(http):
    data = {"code": "E_HTTP_MUTATION"}
    with pytest.raises(ConvexError) as info:
        http.mutation("diagnostics:failMutation", {"data": data})
    assert info.value.data == data


def test_http_plain_error(http):
    with pytest.raises(Exception) as info:
        http.query("diagnostics:throwError", {"message": "boom"})
    assert not isinstance(info.value, ConvexError)
    assert "boom" in str(info.value)


@pytest.mark.parametrize("path", ["diagnostics:doesNotExist", "diagnostics:internalEcho"])
def test_http_not_public(http, path):
    with pytest.raises(Exception) as info:
        http.query(path, {"value": 1.0})
    assert "Could not find public function" in str(info.value)


def test_http_argument_validation(http):
    with pytest.raises(Exception) as info:
        http.query("messages:getMessages", {"channelId": 5})
    assert "ArgumentValidationError" in str(info.value)


def test_http_unauthenticated_mutation(http, user):
    channel = user.create_channel()
    with pytest.raises(Exception) as info:
        http.mutation("messages:sendMessage", {"channelId": channel, "content": "nope"})
    assert "Unauthenticated" in str(info.value)
