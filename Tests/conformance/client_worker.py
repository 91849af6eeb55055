"""A persistent helper process owning one `convex.ConvexClient` (the official PyPI client).

The test process cannot call the client itself: its blocking calls hold the GIL, so a call that
never returns (e.g. after a refused token, protocol.md §11) would freeze the whole test run with
no way to time out. Instead the test sends one JSON command per line on stdin and reads one JSON
reply per line (on the original stdout; see _childproc.protocol_channel), with its own timeout.

    {"id": 1, "op": "query"|"mutation"|"action", "path": "...", "args": <wire>}
    {"id": 2, "op": "set_auth", "token": "..."|null}
    {"id": 3, "op": "clear_auth"}
    {"id": 4, "op": "set_admin_auth", "key": "..."}
    ->
    {"id": 1, "ok": true, "value": <wire>}
    {"id": 1, "ok": false, "error": {"kind": "ConvexError"|"Exception", "class", "message", "data"?}}

Usage: client_worker.py URL
"""

from __future__ import annotations

import json
import sys

import _childproc

_childproc.die_with_parent()
send = _childproc.protocol_channel()

import convex  # noqa: E402  (after the stdout redirection: importing it sets up Rust logging)
import wire  # noqa: E402


def main() -> None:
    url = sys.argv[1]
    client = convex.ConvexClient(url)
    send({"event": "ready"})
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        command = json.loads(line)
        reply = {"id": command.get("id")}
        try:
            op = command["op"]
            if op in ("query", "mutation", "action"):
                args = wire.decode(command.get("args")) if command.get("args") is not None else None
                value = getattr(client, op)(command["path"], args)
                reply.update(ok=True, value=wire.encode(value))
            elif op == "set_auth":
                client.set_auth(command["token"])
                reply.update(ok=True, value=None)
            elif op == "clear_auth":
                client.clear_auth()
                reply.update(ok=True, value=None)
            elif op == "set_admin_auth":
                client.set_admin_auth(command["key"])
                reply.update(ok=True, value=None)
            else:
                raise ValueError(f"unknown op {op!r}")
        except BaseException as exc:  # noqa: BLE001 - everything goes back to the test
            reply.update(ok=False, error=_childproc.describe_error(exc))
        send(reply)


if __name__ == "__main__":
    main()
