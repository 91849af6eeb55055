#!/usr/bin/env python3
"""Part 6 of scripts/bench: what live subscriptions and idle connections cost a node.

`subscriptions.py --url http://127.0.0.1:PORT --pid PID` against a bench-server node (PID: its
process, for RSS and CPU time from /proc), started with socket and query limits above 10,000:

1. memory per idle connection: RSS delta over `--connections` sync WebSockets that sent Connect
   and nothing else;
2. invalidation work per write: server CPU time per `events:insert` (sequential, over one
   WebSocket) while 100, then 10,000 live `events:bySeq` subscriptions (spread over 100
   sockets, distinct negative `seq`, none touched by the writes) are open;
3. memory per subscription: RSS delta from 100 to 10,000 subscriptions, per subscription added.

Each phase waits for the server's RSS to settle (two readings 0.5 s apart within 64 KB).
"""

import argparse
import asyncio
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "fanout"))
from fanout import SyncConn, raise_fd_limit  # noqa: E402  (the sync-protocol client of the fanout part)

PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


def rss_bytes(pid):
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


async def settled_rss(pid, timeout=30.0):
    deadline = time.monotonic() + timeout
    last = rss_bytes(pid)
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        now = rss_bytes(pid)
        if abs(now - last) <= 64 * 1024:
            return now
        last = now
    return last


class Subscriber:
    """One socket holding `count` `events:bySeq` subscriptions, added in one ModifyQuerySet."""

    def __init__(self, index, problems):
        self.conn = SyncConn(f"subs-{index}", problems)
        self.version = 0
        self.next_query = 0
        self.reached = asyncio.Event()

    async def open(self, ws_url):
        self.conn.on_transition = self._on_transition
        await self.conn.open(ws_url)

    def _on_transition(self, _now, message):
        if message.get("endVersion", {}).get("querySet", 0) >= self.version:
            self.reached.set()

    async def add(self, seqs):
        base = self.version
        self.version += 1
        self.reached.clear()
        modifications = []
        for seq in seqs:
            modifications.append({"type": "Add", "queryId": self.next_query, "udfPath": "events:bySeq", "args": [{"seq": float(seq)}]})
            self.next_query += 1
        await self.conn.send({"type": "ModifyQuerySet", "baseVersion": base, "newVersion": self.version, "modifications": modifications})
        await asyncio.wait_for(self.reached.wait(), 120)


async def writes_cpu(pid, writer, count, first_seq):
    """Server CPU seconds per sequential insert; the writes' `seq` are positive, so no subscription's
    result changes: what is measured is the matching of each commit against the live read sets."""
    for i in range(50):
        await writer.mutation("events:insert", {"seq": float(first_seq + i), "payload": "warm"})
    before = cpu_seconds(pid)
    started = time.monotonic()
    for i in range(count):
        await writer.mutation("events:insert", {"seq": float(first_seq + 50 + i), "payload": "x" * 64})
    elapsed = time.monotonic() - started
    return (cpu_seconds(pid) - before) / count, elapsed


async def run(args):
    raise_fd_limit(args.connections + 1000)
    ws_url = args.url.replace("http://", "ws://") + "/api/sync"
    problems = []
    pid = args.pid

    # 1. Idle connections.
    rss_before = await settled_rss(pid)
    idle = []
    for start in range(0, args.connections, 500):
        batch = [SyncConn(f"idle-{i}", problems) for i in range(start, min(args.connections, start + 500))]
        await asyncio.gather(*(c.open(ws_url) for c in batch))
        idle.extend(batch)
    rss_idle = await settled_rss(pid)
    per_connection = (rss_idle - rss_before) / len(idle)
    print(f"idle connections: {len(idle)}, RSS {rss_before / 2**20:.1f} -> {rss_idle / 2**20:.1f} MiB, {per_connection / 1024:.1f} KB each")
    await asyncio.gather(*(c.close() for c in idle))
    idle = []

    # 2 and 3. Subscriptions on 100 sockets, then invalidation cost with 100 and with 10,000.
    sockets = [Subscriber(i, problems) for i in range(100)]
    await asyncio.gather(*(s.open(ws_url) for s in sockets))
    await asyncio.gather(*(s.add([-1 - i]) for i, s in enumerate(sockets)))
    writer = SyncConn("writer", problems)
    await writer.open(ws_url)
    cpu_100, elapsed_100 = await writes_cpu(pid, writer, args.writes, 1)
    rss_100 = await settled_rss(pid)
    per_socket = (args.subscriptions - 100) // len(sockets)
    next_seq = 101
    for chunk in range(0, per_socket, 20):
        size = min(20, per_socket - chunk)
        tasks = []
        for s in sockets:
            tasks.append(s.add([-(next_seq + k) for k in range(size)]))
            next_seq += size
        await asyncio.gather(*tasks)
    total = 100 + per_socket * len(sockets)
    rss_10k = await settled_rss(pid)
    cpu_10k, elapsed_10k = await writes_cpu(pid, writer, args.writes, 1_000_000)
    per_subscription = (rss_10k - rss_100) / (total - 100)
    print(f"subscriptions: 100 -> {total}, RSS {rss_100 / 2**20:.1f} -> {rss_10k / 2**20:.1f} MiB, {per_subscription:.0f} bytes each")
    print(f"server CPU per write: {cpu_100 * 1e6:.0f} us with 100 subscriptions ({args.writes / elapsed_100:.0f} writes/s), "
          f"{cpu_10k * 1e6:.0f} us with {total} ({args.writes / elapsed_10k:.0f} writes/s)")
    for s in sockets:
        await s.conn.close()
    await writer.close()
    if problems:
        print(f"protocol problems: {problems[:5]}")
    print(f"METRIC server_cpu_per_write_100_subs {cpu_100 * 1e6:.0f} us")
    print(f"METRIC server_cpu_per_write_10k_subs {cpu_10k * 1e6:.0f} us")
    ratio = cpu_10k / cpu_100 if cpu_100 > 0 else float("inf")
    print(f"BENCH invalidation_10k_vs_100_subs {ratio:.3g} x target <=2 {'met' if ratio <= 2 else 'missed'}")
    kb_sub, kb_conn = per_subscription / 1024, per_connection / 1024
    print(f"BENCH memory_per_subscription {kb_sub:.3g} KB target <=2 {'met' if kb_sub <= 2 else 'missed'}")
    print(f"BENCH memory_per_connection {kb_conn:.3g} KB target <=32 {'met' if kb_conn <= 32 else 'missed'}")
    return 1 if problems else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--subscriptions", type=int, default=10_000)
    parser.add_argument("--writes", type=int, default=1_000)
    sys.exit(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
