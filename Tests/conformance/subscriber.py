"""A helper process that subscribes to one query with the official client and prints one JSON
line per result it receives (on the original stdout, flushed; see _childproc.protocol_channel).

It runs in its own process because the client's blocking `subscribe()` iterator holds the GIL
while it waits (protocol.md §11).

    {"event": "subscribed"}                                 subscribe() returned
    {"event": "value", "seq": n, "value": <wire>}           one per yielded result
    {"event": "error", "seq": n, "error": {...}}            the iterator raised (ConvexError or
                                                            a plain error); iteration continues
    {"event": "script", "step": i, "op": "..."}             a scripted step ran (see below)

Usage: subscriber.py URL PATH ARGS_WIRE_JSON [--token TOKEN] [--script JSON]

--script is a JSON list of steps run on the same client between results, each
{"when": "any"|"null"|"nonnull", "op": "set_auth"|"clear_auth", "token"?: "..."}: step i runs
right after the first result, received after step i-1 ran, that matches "when". This is how a
test changes the auth of a live subscription (the main thread is otherwise blocked in next()).
"""

from __future__ import annotations

import argparse
import json

import _childproc

_childproc.die_with_parent()
send = _childproc.protocol_channel()

import convex  # noqa: E402
import wire  # noqa: E402


def matches(when: str, value) -> bool:
    if when == "any":
        return True
    if when == "null":
        return value is None
    if when == "nonnull":
        return value is not None
    raise ValueError(f"unknown trigger {when!r}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("path")
    parser.add_argument("args")
    parser.add_argument("--token")
    parser.add_argument("--script", default="[]")
    options = parser.parse_args()
    args = wire.decode(json.loads(options.args))
    script = json.loads(options.script)

    client = convex.ConvexClient(options.url)
    if options.token:
        client.set_auth(options.token)
    subscription = client.subscribe(options.path, args)
    send({"event": "subscribed"})

    seq = 0
    step = 0
    consecutive_errors = 0
    while True:
        try:
            value = next(subscription)
        except StopIteration:
            send({"event": "end", "seq": seq})
            return
        except BaseException as exc:  # noqa: BLE001
            send({"event": "error", "seq": seq, "error": _childproc.describe_error(exc)})
            seq += 1
            consecutive_errors += 1
            if consecutive_errors > 200:  # a dead iterator that raises at once, forever
                send({"event": "end", "seq": seq})
                return
            continue
        consecutive_errors = 0
        send({"event": "value", "seq": seq, "value": wire.encode(value)})
        seq += 1
        if step < len(script) and matches(script[step].get("when", "any"), value):
            action = script[step]
            if action["op"] == "set_auth":
                client.set_auth(action["token"])
            elif action["op"] == "clear_auth":
                client.clear_auth()
            else:
                raise ValueError(f"unknown op {action['op']!r}")
            send({"event": "script", "step": step, "op": action["op"]})
            step += 1


if __name__ == "__main__":
    main()
