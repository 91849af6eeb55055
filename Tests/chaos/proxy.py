"""A fault-injecting TCP proxy between the writer's replication port and one replica.

One asyncio loop on a daemon thread; every accepted connection is piped to the upstream in both
directions, chunk by chunk (what one `read` returned). `set_fault` switches what happens to the
chunks of every current and future connection:

    pass        bytes go through unchanged
    delay       each chunk waits `delay_s` (order kept: one writer task per direction)
    drop        every live connection is closed now (both sides), new ones pass
    duplicate   a chunk is sent twice, with probability `probability`
    reorder     a chunk is held back and sent after the next one, with probability `probability`
    corrupt     one byte of a chunk is flipped, with probability `probability`
    cut         every live connection is closed and new ones are closed at once (a partition)

The replication link must survive every one of these: damaged or repeated bytes are rejected by
the frame checksum and the commit chain (the link reconnects and resumes), never applied.
"""

from __future__ import annotations

import asyncio
import random
import threading
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Set

FAULTS = ("pass", "delay", "drop", "duplicate", "reorder", "corrupt", "cut")


@dataclass
class ProxyStats:
    connections: int = 0
    chunks: int = 0
    damaged: Dict[str, int] = field(default_factory=dict)

    def count(self, fault: str) -> None:
        self.damaged[fault] = self.damaged.get(fault, 0) + 1


class FaultProxy:
    """Listens on 127.0.0.1:`port`, forwards to 127.0.0.1:`upstream_port`."""

    def __init__(self, name: str, port: int, upstream_port: int, seed: int):
        self.name = name
        self.port = port
        self.upstream_port = upstream_port
        self.rng = random.Random(seed)
        self.fault = "pass"
        self.probability = 0.0
        self.delay_s = 0.0
        self.stats = ProxyStats()
        self._writers: Set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._server: Optional[asyncio.base_events.Server] = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"proxy-{name}", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError(f"proxy {name} did not start listening on {port}")

    # -- control (any thread) ---------------------------------------------------------------------

    def set_fault(self, fault: str, probability: float = 0.0, delay_s: float = 0.0) -> None:
        assert fault in FAULTS, f"unknown proxy fault {fault!r}"
        future = asyncio.run_coroutine_threadsafe(self._set_fault(fault, probability, delay_s), self._loop)
        future.result(10)

    def close(self) -> None:
        if self._loop.is_closed():
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    # -- the loop ---------------------------------------------------------------------------------

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._accept, "127.0.0.1", self.port, reuse_address=True))
        self._ready.set()
        self._loop.run_forever()

    async def _set_fault(self, fault: str, probability: float, delay_s: float) -> None:
        self.fault, self.probability, self.delay_s = fault, probability, delay_s
        if fault in ("drop", "cut"):
            self._close_all()

    async def _shutdown(self) -> None:
        if self._server:
            self._server.close()
        self._close_all()

    def _close_all(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.stats.connections += 1
        if self.fault == "cut":
            client_writer.transport.abort()
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            client_writer.transport.abort()
            return
        self._writers.update((client_writer, upstream_writer))
        pair = [client_writer, upstream_writer]
        await asyncio.gather(
            self._pipe(client_reader, upstream_writer, pair),
            self._pipe(upstream_reader, client_writer, pair),
            return_exceptions=True,
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    pair: List[asyncio.StreamWriter]) -> None:
        held: Optional[bytes] = None
        try:
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                self.stats.chunks += 1
                out = self._damage(chunk)
                if self.fault == "reorder" and held is None and self.rng.random() < self.probability:
                    held = b"".join(out)
                    self.stats.count("reorder")
                    continue
                if self.fault == "delay" and self.delay_s > 0:
                    await asyncio.sleep(self.delay_s)
                for piece in out:
                    writer.write(piece)
                if held is not None:
                    writer.write(held)
                    held = None
                await writer.drain()
        except (ConnectionError, OSError, asyncio.CancelledError):
            pass
        finally:
            # One side gone: the whole connection goes, as a real broken link would.
            for w in pair:
                w.transport.abort()
                self._writers.discard(w)

    def _damage(self, chunk: bytes) -> List[bytes]:
        if self.fault == "duplicate" and self.rng.random() < self.probability:
            self.stats.count("duplicate")
            return [chunk, chunk]
        if self.fault == "corrupt" and self.rng.random() < self.probability:
            self.stats.count("corrupt")
            data = bytearray(chunk)
            i = self.rng.randrange(len(data))
            data[i] ^= 1 << self.rng.randrange(8)
            return [bytes(data)]
        return [chunk]
