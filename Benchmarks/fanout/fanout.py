#!/usr/bin/env python3
"""Fanout benchmark: commit -> subscriber latency with many WebSocket subscribers on one node.

Run through `scripts/bench fanout [options]`, which builds `chat` in release mode and passes
`--chat-bin`. This script:

1. starts `chat dev --listen 127.0.0.1:<free port> --data <tmpdir>` with a random
   RIPPLE_ADMIN_KEY, and always stops it at the end (SIGTERM, then SIGKILL after 10 s);
2. creates a user (admin key acting as a user, over the sync WebSocket) and N channels;
3. opens S subscriber sockets (asyncio + websockets, one process), each subscribed to
   `messages:getMessages {channelId}` for channel i % N, and waits for every initial Transition;
4. measures the baseline (below) with every subscriber connected and idle;
5. has a writer socket send `messages:sendMessage` to random channels at a steady rate, records
   each commit `ts` from its MutationResponse, and times every subscriber's receipt of the new
   message: latency = time.time_ns() at receipt - commit ts (both the same machine's wall clock);
6. measures the baseline again, reads `ripple_subscription_reruns_total` from /metrics before
   and after the writes, and prints a summary with ratios against the baseline.

The baseline is a round trip that does no subscription work, measured in the same run, by the
same process and event loop, against the same server: `POST /api/query diagnostics:echo` over a
keep-alive HTTP connection (half the samples before the writes, half after). A WebSocket
`diagnostics:echoMutation` round trip is printed as a second reference.

Every loop is bounded and the whole run has a time limit (--time-limit, default 150 s).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime
import json
import logging
import math
import os
import random
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from typing import Any, Callable, Dict, List, Optional, Tuple

from websockets.asyncio.client import connect

ZERO_VERSION = {"querySet": 0, "identity": 0, "ts": "AAAAAAAAAAA="}


def log(text: str) -> None:
    stamp = time.strftime("%H:%M:%S")
    print(f"[{stamp}] {text}", flush=True)


def decode_ts(text: str) -> int:
    """A protocol timestamp: base64 of the 8 little-endian bytes of a u64 (protocol.md §3.2)."""
    raw = base64.b64decode(text)
    if len(raw) != 8:
        raise ValueError(f"timestamp {text!r} is not 8 bytes")
    return int.from_bytes(raw, "little")


def percentile(sorted_values: List[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(p / 100.0 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


class Stats:
    """Latencies in nanoseconds, reported in milliseconds."""

    def __init__(self, values_ns: List[int]):
        self.values = sorted(v / 1e6 for v in values_ns)

    @property
    def n(self) -> int:
        return len(self.values)

    def p(self, q: float) -> float:
        return percentile(self.values, q)

    @property
    def max(self) -> float:
        return self.values[-1] if self.values else float("nan")

    def line(self) -> str:
        if not self.values:
            return "no samples"
        return (f"p50 {self.p(50):8.3f} ms  p90 {self.p(90):8.3f} ms  p99 {self.p(99):8.3f} ms  "
                f"max {self.max:8.3f} ms  (n={self.n})")


def ratio(a: float, b: float) -> str:
    if not (b > 0) or math.isnan(a):
        return "n/a"
    return f"{a / b:.1f}x"


# --- a tiny keep-alive HTTP/1.1 client on the same event loop -----------------------------------


class HttpConn:
    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: Optional[asyncio.StreamReader] = None
        self.writer: Optional[asyncio.StreamWriter] = None

    async def _ensure(self) -> None:
        if self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def request(self, method: str, path: str, body: Optional[bytes] = None,
                      headers: Optional[Dict[str, str]] = None, timeout: float = 10.0) -> Tuple[int, bytes]:
        return await asyncio.wait_for(self._request(method, path, body, headers or {}), timeout)

    async def _request(self, method: str, path: str, body: Optional[bytes], headers: Dict[str, str]) -> Tuple[int, bytes]:
        await self._ensure()
        assert self.reader and self.writer
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", "Connection: keep-alive"]
        for k, v in headers.items():
            lines.append(f"{k}: {v}")
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")
        self.writer.write(data)
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ")[1])
        hdrs = {}
        for h in header_lines:
            if ":" in h:
                k, v = h.split(":", 1)
                hdrs[k.strip().lower()] = v.strip()
        if "content-length" in hdrs:
            payload = await self.reader.readexactly(int(hdrs["content-length"]))
        elif hdrs.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
                if size == 0:
                    await self.reader.readuntil(b"\r\n")
                    break
                parts.append(await self.reader.readexactly(size))
                await self.reader.readexactly(2)
            payload = b"".join(parts)
        else:
            payload = await self.reader.read()
            self.close()
        if hdrs.get("connection", "").lower() == "close":
            self.close()
        return status, payload

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


# --- one sync protocol socket ------------------------------------------------------------------


class ProtocolProblem(Exception):
    pass


class SyncConn:
    """A raw sync-protocol socket: Connect on open; a reader task that timestamps every message
    on arrival, answers mutation futures and hands Transitions to `on_transition`.

    While `defer` is set, arriving messages are only timestamped and kept (`backlog`); they are
    parsed by `process_backlog()`. Subscribers defer during the writes, so that parsing a burst of
    Transitions does not delay the receipt timestamps of the ones behind it."""

    def __init__(self, name: str, problems: List[str]):
        self.name = name
        self.problems = problems
        self.ws: Any = None
        self.next_request = 0
        self.pending: Dict[int, asyncio.Future] = {}
        self.version = dict(ZERO_VERSION)
        self.on_transition: Optional[Callable[[int, Dict[str, Any]], None]] = None
        self.identity_events: Dict[int, asyncio.Event] = {}
        self.reader_task: Optional[asyncio.Task] = None
        self.closed_reason: Optional[str] = None
        self.transitions = 0
        self.defer = False
        self.backlog: List[Tuple[int, str]] = []
        self.last_arrival = 0.0

    async def open(self, url: str) -> None:
        self.ws = await connect(url, proxy=None, compression=None, ping_interval=None, max_size=None,
                                open_timeout=20, close_timeout=2,
                                additional_headers={"Convex-Client": "ripple-fanout-bench"})
        await self.send({"type": "Connect", "sessionId": str(uuid.uuid4()), "connectionCount": 0,
                         "lastCloseReason": "InitialConnect", "clientTs": 0})
        self.reader_task = asyncio.create_task(self._read(), name=f"reader-{self.name}")

    async def send(self, message: Dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message, separators=(",", ":")))

    async def authenticate_as(self, admin_key: str, subject: str, name: str, email: str, base: int = 0) -> None:
        event = self.identity_events.setdefault(base + 1, asyncio.Event())
        await self.send({"type": "Authenticate", "baseVersion": base, "tokenType": "Admin", "value": admin_key,
                         "impersonating": {"subject": subject, "issuer": "https://bench.local", "name": name,
                                           "email": email}})
        await asyncio.wait_for(event.wait(), 30)

    async def mutation(self, path: str, args: Dict[str, Any], timeout: float = 60.0) -> Tuple[int, int, Dict[str, Any]]:
        """(send ns, receive ns, MutationResponse). Raises on a failed mutation."""
        if self.closed_reason is not None:
            raise ProtocolProblem(f"{self.name} is closed: {self.closed_reason}")
        request_id = self.next_request
        self.next_request += 1
        future = asyncio.get_running_loop().create_future()
        self.pending[request_id] = future
        sent = time.time_ns()
        await self.send({"type": "Mutation", "requestId": request_id, "udfPath": path, "args": [args]})
        received, response = await asyncio.wait_for(future, timeout)
        if not response.get("success"):
            raise RuntimeError(f"{path} failed: {response.get('result')!r}")
        return sent, received, response

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                now = time.time_ns()
                if self.defer:
                    self.backlog.append((now, raw))
                    self.last_arrival = time.monotonic()
                    continue
                if self.backlog:
                    self.process_backlog()
                self._handle(now, raw)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # connection dropped
            if self.closed_reason is None:
                self.closed_reason = f"{type(exc).__name__}: {exc}"
        finally:
            self._fail(self.closed_reason or "socket closed")

    def process_backlog(self) -> None:
        backlog, self.backlog = self.backlog, []
        for now, raw in backlog:
            self._handle(now, raw)

    def _handle(self, now: int, raw: str) -> None:
        message = json.loads(raw)
        kind = message.get("type")
        if kind == "Transition":
            self.transitions += 1
            if message.get("startVersion") != self.version:
                self.problems.append(
                    f"{self.name}: Transition startVersion {message.get('startVersion')} != previous "
                    f"endVersion {self.version}")
            self.version = message.get("endVersion", self.version)
            identity = self.version.get("identity", 0)
            for level, event in self.identity_events.items():
                if identity >= level:
                    event.set()
            if self.on_transition is not None:
                self.on_transition(now, message)
        elif kind == "MutationResponse":
            future = self.pending.pop(message.get("requestId"), None)
            if future is None:
                self.problems.append(f"{self.name}: response for unknown requestId {message.get('requestId')}")
            elif not future.done():
                future.set_result((now, message))
        elif kind in ("AuthError", "FatalError"):
            self.problems.append(f"{self.name}: {kind}: {message}")
            self._fail(f"{kind}: {message}")
        elif kind == "Ping":
            pass
        else:
            self.problems.append(f"{self.name}: unexpected message type {kind!r}")

    def _fail(self, reason: str) -> None:
        if self.closed_reason is None:
            self.closed_reason = reason
        for future in self.pending.values():
            if not future.done():
                future.set_exception(ProtocolProblem(f"{self.name}: {reason}"))
        self.pending.clear()

    async def close(self) -> None:
        if self.ws is not None:
            try:
                await self.ws.close()
            except Exception:
                pass
        if self.reader_task is not None:
            self.reader_task.cancel()
            try:
                await self.reader_task
            except BaseException:
                pass


# --- the server --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, chat_bin: str, admin_key: str, keep_data: bool):
        self.chat_bin = chat_bin
        self.admin_key = admin_key
        self.keep_data = keep_data
        self.port = free_port()
        self.data = tempfile.mkdtemp(prefix="ripple-fanout-")
        self.log_path = os.path.join(self.data, "server.log")
        self.proc: Optional[subprocess.Popen] = None
        self._lock = threading.Lock()
        self.stop_seconds: Optional[float] = None
        self.killed = False

    def start(self) -> None:
        env = dict(os.environ)
        env["RIPPLE_ADMIN_KEY"] = self.admin_key
        env["CHAT_DIAGNOSTICS"] = "1"  # diagnostics:echo is the benchmark's baseline
        env.pop("RIPPLE_DATA", None)
        env.pop("RIPPLE_LISTEN", None)
        self.log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [self.chat_bin, "dev", "--listen", f"127.0.0.1:{self.port}", "--data", os.path.join(self.data, "db")],
            stdin=subprocess.DEVNULL, stdout=self.log_file, stderr=subprocess.STDOUT, env=env,
            start_new_session=True)

    def stop(self) -> Optional[int]:
        """SIGTERM, then SIGKILL after 10 s. Safe to call more than once and from any thread."""
        with self._lock:
            proc, self.proc = self.proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            started = time.monotonic()
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                log("server did not stop within 10 s of SIGTERM; killing it")
                self.killed = True
                proc.kill()
                proc.wait(10)
            self.stop_seconds = time.monotonic() - started
        self.log_file.close()
        return proc.returncode

    def alive(self) -> bool:
        proc = self.proc
        return proc is not None and proc.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def cleanup(self) -> None:
        if self.keep_data:
            log(f"kept the data directory {self.data}")
        else:
            shutil.rmtree(self.data, ignore_errors=True)


# --- the benchmark -----------------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace, server: Server):
        self.args = args
        self.server = server
        self.url = f"ws://127.0.0.1:{server.port}/api/sync"
        self.problems: List[str] = []
        self.phase = "startup"
        self.run_id = secrets.token_hex(4)
        # write seq -> commit ts / channel; content -> seq
        self.content_to_seq: Dict[str, int] = {}
        self.commit_ts: Dict[int, int] = {}
        self.write_channel: Dict[int, int] = {}
        self.write_rtt: List[int] = []
        self.response_at: Dict[int, int] = {}  # write seq -> when the writer got its MutationResponse
        self.write_failures: List[str] = []
        # deliveries: (seq, subscriber, receipt ns)
        self.deliveries: List[Tuple[int, int, int]] = []
        self.duplicates = 0
        self.unknown_messages = 0
        self.results: Dict[str, Any] = {}
        self.subscribers: List[SyncConn] = []
        self.writer: Optional[SyncConn] = None
        self.loop_lag: List[Tuple[float, float]] = []
        self.http = HttpConn("127.0.0.1", server.port)

    def set_phase(self, phase: str) -> None:
        self.phase = phase
        log(phase)

    async def wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if not self.server.alive():
                raise RuntimeError("chat dev exited during startup:\n" + self.server.log_tail())
            try:
                status, _ = await HttpConn("127.0.0.1", self.server.port).request("GET", "/health", timeout=2)
                if status == 200:
                    return
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"chat dev not healthy after {timeout:.0f} s:\n" + self.server.log_tail())
            await asyncio.sleep(0.1)

    async def metric(self, name: str) -> int:
        status, body = await self.http.request("GET", "/metrics")
        if status != 200:
            raise RuntimeError(f"GET /metrics: HTTP {status}")
        # Counters print as integers, gauges as floats ("ripple_live_queries 1000.0").
        m = re.search(rf"^{re.escape(name)} ([0-9.eE+-]+)\s*$", body.decode(), re.M)
        if not m:
            raise RuntimeError(f"/metrics has no {name}")
        return int(float(m.group(1)))

    # -- setup

    async def admin_socket(self, name: str) -> SyncConn:
        conn = SyncConn(name, self.problems)
        await conn.open(self.url)
        await conn.authenticate_as(self.server.admin_key, "bench", "Bench", "b@bench.local")
        return conn

    async def create_channels(self, count: int) -> List[str]:
        lanes = [await self.admin_socket(f"setup-{i}") for i in range(min(8, count))]
        try:
            await lanes[0].mutation("users:upsertUser", {})
            ids: List[Optional[str]] = [None] * count

            async def lane(k: int) -> None:
                for i in range(k, count, len(lanes)):
                    _, _, response = await lanes[k].mutation("channels:create", {"name": f"bench-{self.run_id}-{i}"})
                    ids[i] = response["result"]

            await asyncio.gather(*(lane(k) for k in range(len(lanes))))
            return [i for i in ids if i is not None]
        finally:
            await asyncio.gather(*(c.close() for c in lanes))

    async def open_subscribers(self, channel_ids: List[str]) -> List[SyncConn]:
        count = self.args.subscribers
        subscribers: List[Optional[SyncConn]] = [None] * count
        initial = [asyncio.Event() for _ in range(count)]
        self.sub_channel = [i % len(channel_ids) for i in range(count)]
        self.seen: List[set] = [set() for _ in range(count)]
        gate = asyncio.Semaphore(32)

        def handler(index: int) -> Callable[[int, Dict[str, Any]], None]:
            def on_transition(now: int, message: Dict[str, Any]) -> None:
                for mod in message.get("modifications", []):
                    if mod.get("queryId") != 0:
                        continue
                    if mod.get("type") == "QueryFailed":
                        self.problems.append(f"sub-{index}: QueryFailed {mod.get('errorMessage')}")
                        continue
                    if mod.get("type") != "QueryUpdated":
                        continue
                    if not initial[index].is_set():
                        initial[index].set()
                        # Messages already there before the writes start are not deliveries.
                    seen = self.seen[index]
                    for doc in mod.get("value") or []:
                        seq = self.content_to_seq.get(doc.get("content")) if isinstance(doc, dict) else None
                        if seq is None:
                            continue
                        if seq in seen:
                            continue
                        seen.add(seq)
                        self.deliveries.append((seq, index, now))
            return on_transition

        async def open_one(index: int) -> None:
            async with gate:
                conn = SyncConn(f"sub-{index}", self.problems)
                conn.on_transition = handler(index)
                await conn.open(self.url)
                if self.args.subscriber_identity == "per-subscriber":
                    # Each subscriber its own user: Ripple keys live queries by identity too.
                    await conn.authenticate_as(self.server.admin_key, f"sub-{index}", f"Sub {index}",
                                               f"sub-{index}@bench.local")
                await conn.send({"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": [
                    {"type": "Add", "queryId": 0, "udfPath": "messages:getMessages",
                     "args": [{"channelId": channel_ids[self.sub_channel[index]]}]}]})
                subscribers[index] = conn

        started = time.monotonic()
        await asyncio.gather(*(open_one(i) for i in range(count)))
        opened = time.monotonic()
        pending = [e.wait() for e in initial]
        try:
            await asyncio.wait_for(asyncio.gather(*pending), self.args.setup_timeout)
        except asyncio.TimeoutError:
            missing = [i for i, e in enumerate(initial) if not e.is_set()]
            raise RuntimeError(f"{len(missing)} of {count} subscribers got no initial Transition with their query "
                               f"result within {self.args.setup_timeout:.0f} s (first: {missing[:10]})")
        done = time.monotonic()
        self.results["connect_s"] = opened - started
        self.results["initial_s"] = done - started
        return [s for s in subscribers if s is not None]

    # -- measurements

    async def baseline_http(self, samples: int, rate: float) -> List[int]:
        body = json.dumps({"path": "diagnostics:echo", "args": {"value": "ping"}, "format": "json"}).encode()
        headers = {"Content-Type": "application/json"}
        await self.http.request("POST", "/api/query", body, headers)  # warm the connection
        out = []
        start = time.monotonic()
        for i in range(samples):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            t0 = time.time_ns()
            status, payload = await self.http.request("POST", "/api/query", body, headers)
            t1 = time.time_ns()
            if status != 200 or json.loads(payload).get("status") != "success":
                raise RuntimeError(f"baseline query failed: HTTP {status} {payload[:200]!r}")
            out.append(t1 - t0)
        return out

    async def baseline_ws(self, conn: SyncConn, samples: int, rate: float) -> List[int]:
        out = []
        start = time.monotonic()
        for i in range(samples):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            sent, received, _ = await conn.mutation("diagnostics:echoMutation", {"value": "ping"})
            out.append(received - sent)
        return out

    async def write_phase(self, writer: SyncConn, channel_count: int) -> float:
        rate, writes = self.args.rate, int(round(self.args.rate * self.args.duration))
        rng = random.Random(self.args.seed)
        tasks = []

        async def one(seq: int, channel_id: str) -> None:
            content = f"fanout {self.run_id} #{seq}"
            try:
                sent, received, response = await writer.mutation(
                    "messages:sendMessage", {"channelId": channel_id, "content": content})
                self.commit_ts[seq] = decode_ts(response["ts"])
                self.response_at[seq] = received
                self.write_rtt.append(received - sent)
            except Exception as exc:
                self.write_failures.append(f"#{seq}: {exc}")

        start = time.monotonic()
        for seq in range(writes):
            delay = start + seq / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            channel = rng.randrange(channel_count)
            self.write_channel[seq] = channel
            self.content_to_seq[f"fanout {self.run_id} #{seq}"] = seq
            tasks.append(asyncio.create_task(one(seq, self.channel_ids[channel])))
        sent_for = time.monotonic() - start
        await asyncio.wait_for(asyncio.gather(*tasks), 60)
        self.results["writes"] = writes
        self.results["write_span_s"] = sent_for
        return sent_for

    async def watch_loop_lag(self) -> None:
        """Records how late a 10 ms sleep wakes up: if the event loop (which timestamps every
        receipt) is busy, measured latencies include client-side queueing."""
        while True:
            before = time.monotonic()
            await asyncio.sleep(0.01)
            self.loop_lag.append((before, time.monotonic() - before - 0.01))

    def cpu_seconds(self) -> Tuple[float, float]:
        """(server, this process) CPU seconds so far."""
        ticks = os.sysconf("SC_CLK_TCK")
        server = float("nan")
        pid = self.server.proc.pid if self.server.proc else None
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            server = (int(fields[11]) + int(fields[12])) / ticks
        except (OSError, IndexError, ValueError):
            pass
        t = os.times()
        return server, t.user + t.system

    async def run(self) -> None:
        monitor = asyncio.create_task(self.watch_loop_lag())
        try:
            await self._run()
        finally:
            monitor.cancel()
            # Close every socket we opened, even after a failure, so the server stops promptly.
            conns = list(self.subscribers) + ([self.writer] if self.writer else [])
            if conns:
                log(f"closing {len(conns)} sockets")
                try:
                    await asyncio.wait_for(asyncio.gather(*(c.close() for c in conns), return_exceptions=True), 20)
                except asyncio.TimeoutError:
                    log("closing sockets took more than 20 s; going on")
            self.http.close()

    async def _run(self) -> None:
        args = self.args
        self.set_phase(f"starting chat dev on 127.0.0.1:{self.server.port} (data {self.server.data})")
        await self.wait_healthy()

        self.set_phase(f"creating a user and {args.channels} channels")
        t = time.monotonic()
        self.channel_ids = await self.create_channels(args.channels)
        self.results["channels_s"] = time.monotonic() - t
        log(f"  {len(self.channel_ids)} channels in {self.results['channels_s']:.1f} s")

        writer = self.writer = await self.admin_socket("writer")
        half = args.baseline_samples // 2
        self.set_phase(f"reference with no subscribers yet: {half} HTTP diagnostics:echo + {half} WS echoMutation "
                       "round trips")
        self.results["http_idle"] = await self.baseline_http(half, args.baseline_rate)
        self.results["ws_idle"] = await self.baseline_ws(writer, half, args.baseline_rate)

        self.set_phase(f"opening {args.subscribers} subscriber sockets")
        subscribers = self.subscribers = await self.open_subscribers(self.channel_ids)
        log(f"  connected in {self.results['connect_s']:.1f} s; every initial Transition in "
            f"{self.results['initial_s']:.1f} s")

        self.set_phase(f"baseline (before writes): {half} HTTP diagnostics:echo + {half} WS echoMutation round trips")
        http_before = await self.baseline_http(half, args.baseline_rate)
        ws_before = await self.baseline_ws(writer, half, args.baseline_rate)

        live_before = await self.metric("ripple_live_queries")
        reruns_before = await self.metric("ripple_subscription_reruns_total")
        writes = int(round(args.rate * args.duration))
        self.set_phase(f"writing: {writes} messages:sendMessage at {args.rate:g}/s to random channels")
        cpu_start, wall_start = self.cpu_seconds(), time.monotonic()
        for sub in subscribers:
            sub.defer = True
        await self.write_phase(writer, len(self.channel_ids))
        writes_end = time.monotonic()

        expected = sum(self.subs_per_channel[self.write_channel[s]] for s in self.commit_ts)
        self.set_phase(f"draining: waiting up to {args.drain_timeout:g} s for {expected} deliveries")
        deadline = time.monotonic() + args.drain_timeout
        while True:
            # Parse what has arrived once the subscribers have been quiet for 0.3 s.
            quiet = time.monotonic() - max(s.last_arrival for s in subscribers) >= 0.3
            late = time.monotonic() >= deadline
            if quiet or late:
                for sub in subscribers:
                    sub.process_backlog()
                if len(self.deliveries) >= expected or late:
                    break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)  # let anything still in flight (e.g. duplicates) arrive
        for sub in subscribers:
            sub.defer = False
            sub.process_backlog()
        cpu_end, wall_end = self.cpu_seconds(), time.monotonic()
        self.results["cpu_server"] = (cpu_end[0] - cpu_start[0]) / (wall_end - wall_start)
        self.results["cpu_client"] = (cpu_end[1] - cpu_start[1]) / (wall_end - wall_start)
        self.results["lag"] = [lag for t, lag in self.loop_lag if wall_start <= t <= writes_end]
        reruns_after = await self.metric("ripple_subscription_reruns_total")

        self.set_phase(f"baseline (after writes): {half} + {half} round trips")
        http_after = await self.baseline_http(half, args.baseline_rate)
        ws_after = await self.baseline_ws(writer, half, args.baseline_rate)

        self.results.update(
            http_before=http_before, http_after=http_after, ws_before=ws_before, ws_after=ws_after,
            reruns=reruns_after - reruns_before, live_queries=live_before, expected=expected,
            sessions=await self.metric("ripple_sync_sessions"))
        dropped = [f"{s.name} ({s.closed_reason})" for s in subscribers if s.closed_reason is not None]
        if dropped:
            self.problems.append(f"{len(dropped)} subscriber sockets closed during the run (first: {dropped[:3]})")

    @property
    def subs_per_channel(self) -> List[int]:
        counts = [0] * len(self.channel_ids)
        for c in self.sub_channel:
            counts[c] += 1
        return counts

    # -- report

    def report(self) -> bool:
        args, r = self.args, self.results
        latencies, missing_by_seq = [], {}
        got = {(seq, sub) for seq, sub, _ in self.deliveries}
        after_response = []
        per_write: Dict[int, List[int]] = {}
        for seq, sub, t in self.deliveries:
            if seq in self.commit_ts:
                latencies.append(t - self.commit_ts[seq])
                after_response.append(t - self.response_at[seq])
                per_write.setdefault(seq, []).append(t - self.commit_ts[seq])
        negative = sum(1 for v in latencies if v < 0)
        by_channel: Dict[int, List[int]] = {}
        for sub, c in enumerate(self.sub_channel):
            by_channel.setdefault(c, []).append(sub)
        missing = []
        for seq in self.commit_ts:
            for sub in by_channel.get(self.write_channel[seq], []):
                if (seq, sub) not in got:
                    missing.append((seq, sub))
        fan = Stats(latencies)
        http = Stats(r["http_before"] + r["http_after"])
        http_b, http_a = Stats(r["http_before"]), Stats(r["http_after"])
        ws = Stats(r["ws_before"] + r["ws_after"])
        wrt = Stats(self.write_rtt)
        writes = r["writes"]
        ok_writes = len(self.commit_ts)
        spc = self.subs_per_channel
        shared = args.subscribers / max(1, len(self.channel_ids))
        reruns_per_write = r["reruns"] / ok_writes if ok_writes else float("nan")
        expected_reruns = 1.0 if args.subscriber_identity == "anonymous" else shared

        w = 78
        print()
        print("=" * w)
        print(f" Fanout benchmark — {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}, "
              f"{os.cpu_count()} CPUs, one node, fresh database")
        print(f" server        {args.chat_bin} dev")
        print("=" * w)
        print(f" subscribers   {args.subscribers} WebSockets in one asyncio process, each subscribed to "
              f"messages:getMessages")
        print(f"               over {len(self.channel_ids)} channels ({min(spc)}–{max(spc)} subscribers per channel), "
              f"identity: {args.subscriber_identity}")
        print(f"               live queries on the server: {r['live_queries']}; sync sessions: {r['sessions']}")
        print(f"               setup: connect {r['connect_s']:.1f} s, all initial Transitions after "
              f"{r['initial_s']:.1f} s")
        print(f" writes        {writes} messages:sendMessage to random channels at {args.rate:g}/s over "
              f"{r['write_span_s']:.1f} s, one writer socket")
        print(f"               {ok_writes} committed, {len(self.write_failures)} failed")
        print(f" deliveries    {len(self.deliveries)} received / {r['expected']} expected "
              f"(writes x subscribers on the channel); {len(missing)} missing")
        print()
        print(" Fanout latency: commit ts (from the MutationResponse) -> subscriber receives the Transition")
        print(f"   {fan.line()}")
        if max(spc) > 1 and per_write:
            first = Stats([min(v) for v in per_write.values()])
            last = Stats([max(v) for v in per_write.values()])
            print(f"   per write, first subscriber of the channel: p50 {first.p(50):.3f} ms p99 {first.p(99):.3f} ms; "
                  f"last: p50 {last.p(50):.3f} ms p99 {last.p(99):.3f} ms")
        if negative:
            print(f"   ({negative} deliveries had receipt before the commit ts: clock problem)")
        print(" Baseline: POST /api/query diagnostics:echo round trip (keep-alive HTTP, same process and event")
        print("   loop, same server with every subscriber connected and idle; no commit, no subscription work),")
        print(f"   {len(r['http_before'])} samples before and {len(r['http_after'])} after the writes at "
              f"{args.baseline_rate:g}/s:")
        print(f"   {http.line()}")
        print(f"   (before: p50 {http_b.p(50):.3f} ms p99 {http_b.p(99):.3f} ms; "
              f"after: p50 {http_a.p(50):.3f} ms p99 {http_a.p(99):.3f} ms)")
        print(" Ratios, fanout / baseline:")
        print(f"   p50 {ratio(fan.p(50), http.p(50))}    p99 {ratio(fan.p(99), http.p(99))}")
        print(" References (not the baseline):")
        print(f"   WS diagnostics:echoMutation round trip (no writes, no fanout): p50 {ws.p(50):.3f} ms  "
              f"p99 {ws.p(99):.3f} ms  -> fanout p50 {ratio(fan.p(50), ws.p(50))}, "
              f"p99 {ratio(fan.p(99), ws.p(99))}")
        hi, wi = Stats(r["http_idle"]), Stats(r["ws_idle"])
        print(f"   the same two round trips before any subscriber connected: HTTP echo p50 {hi.p(50):.3f} ms "
              f"p99 {hi.p(99):.3f} ms; WS echoMutation p50 {wi.p(50):.3f} ms p99 {wi.p(99):.3f} ms")
        print(f"   writer sendMessage round trip (send -> MutationResponse, incl. durable commit): "
              f"p50 {wrt.p(50):.3f} ms  p99 {wrt.p(99):.3f} ms")
        ar = sorted(v / 1e6 for v in after_response)
        print(f"   subscriber receipt - writer's MutationResponse receipt (the writer hears back once the commit is")
        print(f"   durable, after the hub was told): p50 {percentile(ar, 50):+.3f} ms  p99 {percentile(ar, 99):+.3f} ms")
        lag = sorted(v * 1000 for v in r["lag"])
        print(f" Load during writes + drain: server {100 * r['cpu_server']:.0f}% of a core, this client "
              f"{100 * r['cpu_client']:.0f}%; client event-loop lag during the writes p99 {percentile(lag, 99):.1f} ms, "
              f"max {lag[-1] if lag else float('nan'):.1f} ms")
        if lag and percentile(lag, 99) > 5:
            print("   (the client's event loop was busy: latencies include client-side queueing)")
        print(" Re-runs per write:")
        print(f"   ripple_subscription_reruns_total +{r['reruns']} over {ok_writes} writes = "
              f"{reruns_per_write:.3f} per write (expected ~{expected_reruns:g}: "
              + ("one live query per channel, shared by its subscribers)" if args.subscriber_identity == "anonymous"
                 else "live queries are per identity, so one per subscriber on the channel)"))
        if self.server.stop_seconds is not None:
            print(f" Server stop: exited {self.server.stop_seconds:.1f} s after SIGTERM"
                  + (" (killed)" if self.server.killed else ""))
        ok = True
        if missing:
            ok = False
            print(f" MISSING deliveries: {len(missing)}; first (write seq, subscriber): {sorted(missing)[:10]}")
        if self.write_failures:
            ok = False
            print(f" FAILED writes: {self.write_failures[:5]}")
        if self.problems:
            ok = False
            print(f" PROTOCOL PROBLEMS ({len(self.problems)}):")
            for p in self.problems[:10]:
                print(f"   {p}")
        print("=" * w)
        sys.stdout.flush()
        return ok


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--chat-bin", required=True, help="path to the release `chat` executable")
    p.add_argument("--subscribers", type=int, default=1000, help="subscriber sockets (default 1000)")
    p.add_argument("--channels", type=int, default=None,
                   help="channels; subscriber i watches channel i %% channels (default: one per subscriber)")
    p.add_argument("--rate", type=float, default=50.0, help="writes per second (default 50)")
    p.add_argument("--duration", type=float, default=20.0, help="seconds of writing (default 20)")
    p.add_argument("--baseline-samples", type=int, default=400, help="baseline round trips, half before and "
                   "half after the writes, for each baseline kind (default 400)")
    p.add_argument("--baseline-rate", type=float, default=100.0, help="baseline round trips per second (default 100)")
    p.add_argument("--subscriber-identity", choices=["anonymous", "per-subscriber"], default="anonymous",
                   help="anonymous subscribers (default), or each authenticated as its own user")
    p.add_argument("--seed", type=int, default=1, help="random seed for the channel choice")
    p.add_argument("--setup-timeout", type=float, default=60.0, help="seconds to wait for initial Transitions")
    p.add_argument("--drain-timeout", type=float, default=10.0, help="seconds to wait for late deliveries")
    p.add_argument("--time-limit", type=float, default=150.0, help="stop everything after this many seconds")
    p.add_argument("--keep-data", action="store_true", help="keep the server's data directory and log")
    args = p.parse_args()
    if args.channels is None:
        args.channels = args.subscribers
    if not (1 <= args.channels <= args.subscribers):
        p.error("--channels must be between 1 and --subscribers")
    if args.rate <= 0 or args.duration <= 0 or args.baseline_rate <= 0 or args.baseline_samples < 2:
        p.error("rates, duration and baseline samples must be positive")
    if not os.access(args.chat_bin, os.X_OK):
        p.error(f"--chat-bin {args.chat_bin} is not an executable")
    return args


def raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    if soft != resource.RLIM_INFINITY and soft < needed:
        log(f"warning: open file limit {soft} is below the {needed} this run needs")


def main() -> int:
    args = parse_args()
    # asyncio's "socket.send() raised exception." repeats for every write to a dropped socket;
    # a dropped socket is reported once, by the benchmark.
    logging.getLogger("asyncio").setLevel(logging.ERROR)
    # Two ends of every socket live on this machine: ours and the server's (which inherits this).
    raise_fd_limit(2 * args.subscribers + 512)
    server = Server(os.path.abspath(args.chat_bin), secrets.token_hex(24), args.keep_data)
    bench = Bench(args, server)

    def hard_stop() -> None:
        # The event loop is stuck past the time limit: stop the server and leave.
        print(f"fanout: still running {args.time_limit + 30:.0f} s after start (phase: {bench.phase}); "
              "stopping the server and exiting", file=sys.stderr, flush=True)
        server.stop()
        server.cleanup()
        os._exit(3)

    watchdog = threading.Timer(args.time_limit + 30, hard_stop)
    watchdog.daemon = True
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    ok = False
    server.start()
    watchdog.start()
    try:
        asyncio.run(asyncio.wait_for(bench.run(), args.time_limit))
        rc = server.stop()
        if server.killed:
            bench.problems.append("chat dev did not exit within 10 s of SIGTERM and was killed")
        elif rc not in (0, None, -signal.SIGTERM):
            bench.problems.append(f"chat dev exited with status {rc} on SIGTERM")
        ok = bench.report()
    except asyncio.TimeoutError:
        print(f"fanout: time limit of {args.time_limit:g} s reached during: {bench.phase}", file=sys.stderr)
    except KeyboardInterrupt:
        print(f"fanout: interrupted during: {bench.phase}", file=sys.stderr)
    except Exception as exc:
        print(f"fanout: failed during {bench.phase}: {type(exc).__name__}: {exc}", file=sys.stderr)
        if bench.loop_lag:
            worst = max(lag for _, lag in bench.loop_lag)
            print(f"fanout: the client's event loop woke up to {worst * 1000:.0f} ms late"
                  + (" (it could not keep up; fewer subscribers per channel or a lower --rate)" if worst > 1 else ""),
                  file=sys.stderr)
        if bench.problems:
            print("protocol problems seen:\n  " + "\n  ".join(bench.problems[:10]), file=sys.stderr)
    finally:
        alive_at_end = server.alive()
        server.stop()
        watchdog.cancel()
        if not ok:
            tail = server.log_tail()
            if tail:
                print(f"--- last lines of the server log ({server.log_path}) ---\n{tail}", file=sys.stderr)
            if alive_at_end:
                print("(server stopped)", file=sys.stderr)
        server.cleanup()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
