"""Every Convex value type round-trips through a query, a mutation and an action.

Protocol assumptions (protocol.md §2, §3.5, §5, §6):
- args travel as `[{"value": X}]` in Convex JSON; results come back in Convex JSON
  (`$integer`, `$float` for NaN/±Inf/-0, `$bytes`), and the official client decodes them.
- Python's client turns a Python `int` into a Float64 before sending (`coerce_args_to_convex`);
  an Int64 is sent with `convex.ConvexInt64` and must come back as a `ConvexInt64`, not a float.
- The legacy HTTP client (`convex.http_client.ConvexHttpClient`, POST /api/query|mutation|action,
  args as a bare object, `"format":"convex_encoded_json"`) gets the same values back. Its decoder
  rejects a JSON integer literal, so Float64 results must be written with a decimal point (§5).
"""

from __future__ import annotations

import math

import pytest
from convex import ConvexInt64
from convex.http_client import ConvexHttpClient

import wire
from clients import ClientProcess

KINDS = [("query", "diagnostics:echo"), ("mutation", "diagnostics:echoMutation"), ("action", "diagnostics:echoAction")]

# (id, value sent, value expected back; None means "the same")
VALUES = [
    ("null", None, None),
    ("true", True, None),
    ("false", False, None),
    ("int64-zero", ConvexInt64(0), None),
    ("int64-one", ConvexInt64(1), None),
    ("int64-minus-one", ConvexInt64(-1), None),
    ("int64-min", ConvexInt64(-(2**63)), None),
    ("int64-max", ConvexInt64(2**63 - 1), None),
    ("int64-2^53+1", ConvexInt64(2**53 + 1), None),
    ("python-int-is-float64", 42, 42.0),
    ("python-int-2^53-is-float64", 2**53, float(2**53)),
    ("python-negative-int-is-float64", -7, -7.0),
    ("float-1.5", 1.5, None),
    ("float-integral", 5.0, None),
    ("float-zero", 0.0, None),
    ("float-negative-zero", -0.0, None),
    ("float-nan", float("nan"), None),
    ("float-inf", float("inf"), None),
    ("float-minus-inf", float("-inf"), None),
    ("float-tiny-subnormal", 5e-324, None),
    ("float-max", 1.7976931348623157e308, None),
    ("float-pi", math.pi, None),
    ("float-big-integral", 1e21, None),
    ("bytes-empty", b"", None),
    ("bytes-00ff", b"\x00\xff", None),
    ("bytes-all", bytes(range(256)), None),
    ("string-empty", "", None),
    ("string-ascii", "hello", None),
    ("string-unicode", "héllo wörld — ☃ 日本語", None),
    ("string-emoji", "emoji 🎉 👩‍👩‍👧 🏳️‍🌈", None),
    ("string-escapes", 'quote " backslash \\ newline \n tab \t nul \x00 bell \x07', None),
    ("string-dollar", "$integer", None),
    ("list-empty", [], None),
    ("list-mixed", [1.5, "x", None, True, [False, b"\x01"], ConvexInt64(3)], None),
    ("list-python-ints", [1, 2, 3], [1.0, 2.0, 3.0]),
    ("dict-empty", {}, None),
    (
        "dict-nested",
        {
            "a": 1.5,
            "nested": {"list": [ConvexInt64(7), -0.0, float("nan")], "bytes": b"\x02\x03", "none": None},
            "_underscore": "allowed in values",
            "with space": "ok",
            "emoji": "🚀",
        },
        None,
    ),
    ("deep", {"l1": [{"l2": [{"l3": [{"l4": "bottom"}]}]}]}, None),
]


def _ids(cases):
    return [case[0] for case in cases]


@pytest.fixture(scope="module")
def echo_client(server, work_dir):
    client = ClientProcess(server.url, work_dir, name="echo-client")
    yield client
    client.close()


def _check(result, expected, how):
    assert wire.same_value(result, expected), (
        f"{how}: expected {wire.describe(expected)}, got {wire.describe(result)}"
    )


@pytest.mark.parametrize("kind,path", KINDS, ids=[k for k, _ in KINDS])
@pytest.mark.parametrize("name,value,expected", VALUES, ids=_ids(VALUES))
def test_echo_round_trip(echo_client, kind, path, name, value, expected):
    expected = value if expected is None else expected
    result = echo_client.run(kind, path, {"value": value})
    _check(result, expected, f"{kind} {path} with {name}")


@pytest.mark.parametrize("kind,path", KINDS, ids=[k for k, _ in KINDS])
def test_negative_zero_keeps_its_sign(echo_client, kind, path):
    result = echo_client.run(kind, path, {"value": -0.0})
    assert type(result) is float and result == 0.0
    assert math.copysign(1.0, result) == -1.0, "-0.0 came back as +0.0"


@pytest.mark.parametrize("kind,path", KINDS, ids=[k for k, _ in KINDS])
def test_int64_extremes_stay_int64(echo_client, kind, path):
    for value in (-(2**63), 2**63 - 1):
        result = echo_client.run(kind, path, {"value": ConvexInt64(value)})
        assert type(result) is ConvexInt64, f"Int64 {value} came back as {wire.describe(result)}"
        assert result.value == value


def test_object_keys_round_trip_exactly(echo_client):
    """An object round-trips with exactly its keys: nothing added, nothing dropped."""
    value = {"b": 1.0, "a": "x", "c": {"z": [], "y": {}}}
    result = echo_client.query("diagnostics:echo", {"value": value})
    assert set(result) == {"a", "b", "c"}
    _check(result, value, "object keys")


# --- the legacy HTTP client ---------------------------------------------------------------------

HTTP_KINDS = [("query", "diagnostics:echo"), ("mutation", "diagnostics:echoMutation"), ("action", "diagnostics:echoAction")]

# Py-HTTP's encoder sends Python ints as floats too; its decoder returns floats, ConvexInt64, bytes.
HTTP_VALUES = [v for v in VALUES if v[0] not in ("deep",)]


@pytest.fixture(scope="module")
def http_client(server):
    return ConvexHttpClient(server.url)


@pytest.mark.parametrize("kind,path", HTTP_KINDS, ids=[k for k, _ in HTTP_KINDS])
@pytest.mark.parametrize("name,value,expected", HTTP_VALUES, ids=_ids(HTTP_VALUES))
def test_http_echo_round_trip(http_client, kind, path, name, value, expected):
    expected = value if expected is None else expected
    result = getattr(http_client, kind)(path, {"value": value})
    _check(result, expected, f"HTTP {kind} {path} with {name}")
