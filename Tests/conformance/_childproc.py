"""Shared start-up for the helper processes (client_worker.py, subscriber.py).

The official client's Rust core prints its log records to stdout, and its blocking calls hold
the GIL, so a helper process must (1) keep its protocol channel apart from stdout and (2) die
with the test process even while it is blocked inside the client.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
import time


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent exits (the main thread may be stuck in
    Rust holding the GIL, so no Python-level watchdog could do it)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except Exception:  # not Linux: the test process kills us explicitly anyway
        pass


def protocol_channel():
    """Returns a line-oriented writer on the original stdout and points fd 1 at stderr, so that
    anything the client library prints cannot corrupt the protocol."""
    sys.stdout.flush()
    fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    out = os.fdopen(fd, "w", buffering=1, encoding="utf-8")

    def send(message: dict) -> None:
        message.setdefault("t", time.time())
        out.write(json.dumps(message, separators=(",", ":")) + "\n")
        out.flush()

    return send


def describe_error(exc: BaseException) -> dict:
    import wire
    from convex import ConvexError

    error = {"class": type(exc).__name__, "message": str(exc)}
    if isinstance(exc, ConvexError):
        error["kind"] = "ConvexError"
        error["data"] = wire.encode(exc.data)
    else:
        error["kind"] = "Exception"
    return error
