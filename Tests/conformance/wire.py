"""Exact, type-preserving JSON encoding of the Python values the `convex` client produces.

The helper processes (client_worker.py, subscriber.py) send what the official client returned
to the test process as JSON lines. Plain JSON would blur the very distinctions the suite
checks (float vs int vs ConvexInt64, -0.0, NaN, bytes), so every value is tagged:

    None / bool / str      as themselves
    float                  {"$t": "float", "v": float.hex(x)}      (exact, incl. nan/inf/-0.0)
    int                    {"$t": "int", "v": "123"}               (a Python int: the client
                                                                     should never return one)
    ConvexInt64            {"$t": "int64", "v": "123"}
    bytes                  {"$t": "bytes", "v": "<base64>"}
    list / tuple           {"$t": "list", "v": [...]}
    dict                   {"$t": "dict", "v": {...}}
    anything else          {"$t": "other", "type": "...", "repr": "..."}

This module must import without the test process's conftest (it is also used by the helper
scripts) and must not import `convex` at module level in a way that prints anything.
"""

from __future__ import annotations

import base64
import math
import struct
from typing import Any


def _int64_type():
    from convex import ConvexInt64  # imported lazily: helper scripts control stdout first

    return ConvexInt64


def encode(value: Any) -> Any:
    if value is None or value is True or value is False or type(value) is str:
        return value
    if type(value) is float:
        return {"$t": "float", "v": value.hex()}
    if type(value) is int:
        return {"$t": "int", "v": str(value)}
    if type(value) is bytes:
        return {"$t": "bytes", "v": base64.standard_b64encode(value).decode("ascii")}
    if type(value) in (list, tuple):
        return {"$t": "list", "v": [encode(v) for v in value]}
    if type(value) is dict:
        return {"$t": "dict", "v": {str(k): encode(v) for k, v in value.items()}}
    if type(value).__name__ == "ConvexInt64":
        return {"$t": "int64", "v": str(value.value)}
    return {"$t": "other", "type": type(value).__name__, "repr": repr(value)}


class Opaque:
    """A value of a type the client should never produce; compares unequal to everything."""

    def __init__(self, type_name: str, text: str):
        self.type_name = type_name
        self.text = text

    def __repr__(self) -> str:
        return f"Opaque({self.type_name}: {self.text})"


def decode(obj: Any) -> Any:
    if obj is None or obj is True or obj is False or type(obj) is str:
        return obj
    if type(obj) is not dict or "$t" not in obj:
        raise ValueError(f"not a wire value: {obj!r}")
    tag = obj["$t"]
    if tag == "float":
        return float.fromhex(obj["v"])
    if tag == "int":
        return int(obj["v"])
    if tag == "int64":
        return _int64_type()(int(obj["v"]))
    if tag == "bytes":
        return base64.standard_b64decode(obj["v"])
    if tag == "list":
        return [decode(v) for v in obj["v"]]
    if tag == "dict":
        return {k: decode(v) for k, v in obj["v"].items()}
    if tag == "other":
        return Opaque(obj["type"], obj["repr"])
    raise ValueError(f"unknown wire tag {tag!r}")


# --- strict comparison -------------------------------------------------------------------------


def same_value(a: Any, b: Any) -> bool:
    """Equality that respects Convex types: Float64 vs Int64 vs Python int, -0.0 vs 0.0, NaN == NaN
    (any NaN), bytes vs str, list vs dict. Dict key order does not matter."""
    if type(a) is not type(b):
        return False
    if a is None or type(a) in (bool, str, bytes, int):
        return a == b
    if type(a) is float:
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return struct.pack("<d", a) == struct.pack("<d", b)
    if type(a) is list:
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    if type(a) is dict:
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    if type(a).__name__ == "ConvexInt64":
        return a.value == b.value
    return False


def describe(value: Any) -> str:
    """A repr that shows the types that matter (for assertion messages)."""
    if type(value) is float:
        if value == 0 and math.copysign(1.0, value) < 0:
            return "float(-0.0)"
        return f"float({value!r})"
    if type(value) is int:
        return f"int({value!r})"
    if type(value) is list:
        return "[" + ", ".join(describe(v) for v in value) + "]"
    if type(value) is dict:
        return "{" + ", ".join(f"{k!r}: {describe(v)}" for k, v in value.items()) + "}"
    return repr(value)
