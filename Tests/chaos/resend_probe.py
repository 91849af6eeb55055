"""What the official Python client sends when it resends a mutation after a reconnect.

A sync-protocol proxy between one `convex.ConvexClient` (clients.ClientProcess) and a node
forwards every frame, records each `Connect` (sessionId, connectionCount) and `MutationRequest`
(requestId), and cuts both connections instead of delivering the first `MutationResponse`: the
server committed, the client never learned it. The client reconnects and resends; the node then
counts how often the write took effect (`chaos:writeCount`).

    python Tests/chaos/resend_probe.py http://127.0.0.1:3210     # a node with CHAT_DIAGNOSTICS=1

The chaos checker's `resent_by_official_client` rests on what this shows (docs/reliability.md);
test_chaos.py runs it on every chaos run, so a client that starts keeping its session fails there.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "conformance")]

import requests  # noqa: E402
import websockets  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402
from websockets.asyncio.server import serve  # noqa: E402

from clients import ClientProcess  # noqa: E402


@dataclass
class ProbeReport:
    #: Each Connect the client sent: {"sessionId", "connectionCount"}.
    connects: List[Dict[str, Any]] = field(default_factory=list)
    #: Each MutationRequest: {"requestId", "udfPath", "connection"} (connection: index into connects).
    mutations: List[Dict[str, Any]] = field(default_factory=list)
    #: The MutationResponse withheld from the client before the cut.
    withheld: Optional[Dict[str, Any]] = None
    #: What the client's call returned, and how often the node holds the write afterwards.
    client_result: Any = None
    times_applied: Optional[float] = None


class DroppingProxy:
    """Forwards the sync protocol to `upstream` and cuts the first connection that is about to
    deliver a MutationResponse, recording what the client sent."""

    def __init__(self, upstream_ws: str):
        self.upstream_ws = upstream_ws
        self.report = ProbeReport()
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: Optional[asyncio.Future] = None
        self._thread = threading.Thread(target=self._run, name="resend-probe-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the probe's proxy did not start")

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        self._stop = self._loop.create_future()
        async with serve(self._relay, "127.0.0.1", 0, compression=None, max_size=None, ping_interval=None) as server:
            self.port = server.sockets[0].getsockname()[1]
            self._ready.set()
            await self._stop

    async def _relay(self, client) -> None:
        async with connect(self.upstream_ws, compression=None, max_size=None, ping_interval=None, proxy=None) as server:
            cut = asyncio.Event()

            async def from_client() -> None:
                async for frame in client:
                    message = json.loads(frame)
                    if message.get("type") == "Connect":
                        self.report.connects.append({"sessionId": message.get("sessionId"),
                                                     "connectionCount": message.get("connectionCount")})
                    elif message.get("type") == "Mutation":
                        self.report.mutations.append({"requestId": message.get("requestId"), "udfPath": message.get("udfPath"),
                                                      "connection": len(self.report.connects) - 1})
                    await server.send(frame)

            async def from_server() -> None:
                async for frame in server:
                    message = json.loads(frame)
                    if message.get("type") == "MutationResponse" and self.report.withheld is None:
                        self.report.withheld = message
                        cut.set()  # a network cut: no close frame either way
                        return
                    await client.send(frame)

            tasks = [asyncio.ensure_future(from_client()), asyncio.ensure_future(from_server()),
                     asyncio.ensure_future(cut.wait())]
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:
                task.cancel()
            if cut.is_set():
                client.transport.abort()
                server.transport.abort()

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._stop.set_result, None)
        self._thread.join(10)


def probe(node_http: str, log_dir: Path, timeout: float = 30.0) -> ProbeReport:
    """One `chaos:insert` through the official client over a DroppingProxy to `node_http`."""
    proxy = DroppingProxy(node_http.replace("http://", "ws://") + "/api/sync")
    client = ClientProcess(f"http://127.0.0.1:{proxy.port}", log_dir, name=f"resend-probe-{uuid.uuid4().hex[:6]}")
    write_id = f"resend-probe-{uuid.uuid4()}"
    try:
        proxy.report.client_result = client.mutation("chaos:insert", {"writeId": write_id}, timeout=timeout)
    finally:
        client.close()
        proxy.close()
    session = requests.Session()
    session.trust_env = False
    response = session.post(f"{node_http}/api/query", json={"path": "chaos:writeCount", "args": {"writeId": write_id},
                                                            "format": "json"}, timeout=timeout)
    proxy.report.times_applied = response.json()["value"]
    return proxy.report


def main() -> int:
    report = probe(sys.argv[1], Path(tempfile.mkdtemp(prefix="resend-probe-")))
    for connect_message in report.connects:
        print(f"Connect sessionId={connect_message['sessionId']} connectionCount={connect_message['connectionCount']}")
    for mutation in report.mutations:
        print(f"Mutation requestId={mutation['requestId']} {mutation['udfPath']} on connection {mutation['connection']}")
    print(f"withheld: {json.dumps(report.withheld)[:300]}")
    print(f"client got: {report.client_result!r}; the write took effect {report.times_applied} times")
    return 0


if __name__ == "__main__":
    sys.exit(main())
