"""The chaos suite against the failover cluster (conftest.py's `failover_chaos_cluster`):
one bounded round in which the writer is killed and paused until another node leads (issue 14),
beside replica and scheduler kills, pauses and WAL damage, under load from clients on every node.
The checker is the plain round's, without relaxation: every acknowledged write present exactly
once, the transfer invariant in every state seen, timestamps that never go back, scheduled jobs
once, all nodes hash-equal at the end.

RIPPLE_CHAOS_SEED replays the round; RIPPLE_CHAOS_CLIENTS (8) sets its writers.
"""

from __future__ import annotations

import os

import pytest

from chaos import run
from nemesis import FAILOVER_FAULT_KINDS, FAILOVERS

#: Every kind once, and two more faults: with luck of the seed, a third failover.
FAULTS = len(FAILOVER_FAULT_KINDS) + 2


# Not strict: the round fails or passes with the seed and the machine's load. Remove the mark once
# the failover bugs it found are fixed (docs/reliability.md, "With failover"); until then
# scripts/test prints the round's summary and its violations without failing on them.
def test_bounded_chaos_round_with_failover(failover_chaos_cluster):
    clients = int(os.environ.get("RIPPLE_CHAOS_CLIENTS", "8"))
    # HTTP writers only, as in the plain bounded round (the official client's resend, test_chaos.py).
    result = run(1, clients, FAULTS, failover_chaos_cluster.seed, ws_share=0.0, log=lambda line: print(line, flush=True),
                 chaos=failover_chaos_cluster)
    print(result["summary"])
    history = result["history"]
    assert {f.kind for f in history.faults} == set(FAILOVER_FAULT_KINDS)
    moved = [f for f in history.faults if f.kind in FAILOVERS]
    assert len(moved) >= 2 and all(f.new_leader and f.new_leader != f.target and f.term for f in moved), \
        f"each failover must name a new leader and term: {moved}"
    assert history.outcomes()["acked"] > 100, f"too little load to mean anything: {history.outcomes()}"
    assert not result["violations"], f"seed {failover_chaos_cluster.seed}:\n{result['summary']}"
