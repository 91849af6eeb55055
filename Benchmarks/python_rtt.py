#!/usr/bin/env python3
"""Part 7 of scripts/bench: the official Convex Python client's mutation round trip on loopback.

`python_rtt.py --url http://127.0.0.1:PORT [--samples N]` against a bench-server node: after a
warm-up, N sequential `events:insert` mutations through `ConvexClient.mutation`, each timed from
the call to its return; prints p50/p99/p99.9 and the BENCH/METRIC lines scripts/bench collects.
"""

import argparse
import time

from convex import ConvexClient


def percentile(sorted_values, fraction):
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * fraction))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    args = parser.parse_args()

    client = ConvexClient(args.url)
    payload = "ripple-" * 10
    for i in range(args.warmup):
        client.mutation("events:insert", {"seq": float(-1 - i), "payload": payload})
    rtts = []
    for i in range(args.samples):
        started = time.perf_counter()
        client.mutation("events:insert", {"seq": float(i), "payload": payload})
        rtts.append((time.perf_counter() - started) * 1000)
    rtts.sort()
    p50, p99, p999 = percentile(rtts, 0.50), percentile(rtts, 0.99), percentile(rtts, 0.999)
    print(f"official Python client (convex), {args.samples} sequential mutations: p50 {p50:.3f} ms, p99 {p99:.3f} ms, p99.9 {p999:.3f} ms")
    print(f"METRIC python_mutation_rtt_p99 {p99:.3g} ms")
    print(f"METRIC python_mutation_rtt_p999 {p999:.3g} ms")
    print(f"BENCH python_mutation_rtt_p50 {p50:.3g} ms target <=1 {'met' if p50 <= 1 else 'missed'}")


if __name__ == "__main__":
    main()
