"""One address opening many sockets and subscribing to many queries must not stop the node from
serving another client. Where the node has per-client limits, the flood is refused clearly
(FatalError or a closed socket with a reason); either way the other client is served throughout."""

from __future__ import annotations

import time

import websockets

from clients import RawSocket

SOCKETS = 120
QUERIES_PER_SOCKET = 200
# What the other client may wait for one answer while the flood runs.
SERVED_WITHIN = 5.0


def test_flood_of_sockets_and_queries_does_not_starve_another_client(server, client_factory):
    other = client_factory()
    assert other.mutation("diagnostics:echoMutation", {"value": "before"}) == "before"
    flood = []
    refusals = []
    try:
        for n in range(SOCKETS):
            try:
                sock = RawSocket(server.ws_url)
            except (OSError, websockets.InvalidStatus, websockets.InvalidHandshake) as exc:
                refusals.append(f"connect refused: {exc}")
                continue
            flood.append(sock)
            sock.modify([{"type": "Add", "queryId": q, "udfPath": "diagnostics:echo", "args": [{"value": f"{n}-{q}"}]}
                         for q in range(QUERIES_PER_SOCKET)])
            if n % 10 == 0:
                started = time.monotonic()
                assert other.mutation("diagnostics:echoMutation", {"value": n}) == n
                assert time.monotonic() - started < SERVED_WITHIN, f"the other client waited {time.monotonic() - started:.1f} s"
        # Every flood socket ends up either served or clearly refused — never silently stuck.
        for sock in flood:
            message, _ = sock.recv_until(
                lambda m: m["type"] in ("Transition", "FatalError"), timeout=60, description="a result or a refusal")
            if message["type"] == "FatalError":
                assert message["error"], "a refusal must say why"
                refusals.append(message["error"])
        started = time.monotonic()
        assert other.query("diagnostics:echo", {"value": "after"}) == "after"
        assert time.monotonic() - started < SERVED_WITHIN
    finally:
        for sock in flood:
            sock.close()
    print(f"{len(flood)} flood sockets served or refused; {len(refusals)} refusals")
