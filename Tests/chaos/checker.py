"""The checker: reads a whole `History` and the cluster's final state and returns every
violation with its evidence. Pure functions over plain data, so each rule is tested on its own
with histories made up to break it (test_checker.py).

Rules:
- every acknowledged mutation took effect exactly once; an unknown one at most once; a refused
  one never; nothing took effect that nobody asked for — except what the official Python
  client's resend under a new session id explains (`resent_by_official_client`): those are
  returned as `ClientResend`s, reported apart and not counted as violations;
- after an ack, the client's next query on that node counts the write once (read-your-writes);
- the final balances are the initial ones moved by exactly the transfers that took effect, and
  each counter counts exactly the increments that took effect;
- every state any subscriber saw keeps the total of the balances (no torn transaction);
- each raw subscriber's commit timestamps never go back, across reconnects to other nodes too,
  and two results at the same ts are the same state;
- scheduled mutation jobs of acknowledged batches ran exactly once, action jobs at most once and
  none is left pending or in progress; no tag ran twice; each cron period ran once;
- every node hashes to the same state at one ts.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any, Dict, Iterable, List, Optional, Tuple

from history import ACKED, REFUSED, UNKNOWN, ClientResend, History, Observation, Operation, Violation

MAX_EVIDENCE = 10


def _some(items: List[str]) -> str:
    more = f" … and {len(items) - MAX_EVIDENCE} more" if len(items) > MAX_EVIDENCE else ""
    return "; ".join(items[:MAX_EVIDENCE]) + more


def _describe(op: Operation) -> str:
    return (f"{op.kind} {op.write_id} by {op.client} via {op.via} on {op.node}, {op.outcome} "
            f"[{op.started:.3f}..{op.ended:.3f}]{' ' + op.error if op.error else ''}")


def resent_by_official_client(op: Operation, times_applied: int) -> bool:
    """Whether the official client's resend explains `op` taking effect `times_applied` times.

    convex 0.8.1 resends an unanswered mutation after a reconnect under a new session id, so the
    server cannot deduplicate it: one call of its writers ("ws") may take effect twice (more after
    more reconnects). An HTTP call is sent once and a raw-protocol client keeps its session id, so
    any duplicate of theirs stays a violation."""
    return op.via == "ws" and times_applied >= 2


def check_writes(operations: List[Operation], effects: Counter) -> Tuple[List[Violation], Dict[str, int], List[ClientResend]]:
    """`effects`: writeId -> how many `chaosWrites` records the final state holds. Returns the
    violations, the lost / duplicated counts, and the official client's resends."""
    violations: List[Violation] = []
    lost, duplicated, refused_present, unknown_twice = [], [], [], []
    resends: List[ClientResend] = []
    asked = set()
    reused = []
    for op in operations:
        if op.kind == "schedule":
            continue
        if op.write_id in asked:
            reused.append(_describe(op))
        asked.add(op.write_id)
        n = effects.get(op.write_id, 0)
        if op.outcome == ACKED and n == 0:
            lost.append(_describe(op))
        elif op.outcome in (ACKED, UNKNOWN) and resent_by_official_client(op, n):
            resends.append(ClientResend(op.write_id, f"{_describe(op)} present {n} times"))
        elif op.outcome == ACKED and n > 1:
            duplicated.append(f"{_describe(op)} present {n} times")
        elif op.outcome == UNKNOWN and n > 1:
            unknown_twice.append(f"{_describe(op)} present {n} times")
        elif op.outcome == REFUSED and n > 0 and op.kind == "transfer" and resent_by_official_client(op, n + 1) \
                and "insufficientBalance" in op.error:
            # Ran n + 1 times: the sends before took effect, the last found the balance moved and
            # was refused — the only answer the client saw.
            resends.append(ClientResend(op.write_id, f"{_describe(op)} present {n} times (its earlier sends)"))
        elif op.outcome == REFUSED and n > 0:
            refused_present.append(f"{_describe(op)} present {n} times")
    phantom = [f"{w} ×{n}" for w, n in effects.items() if w not in asked]
    if reused:
        # The workload's own mistake, but it would make every other rule here meaningless.
        violations.append(Violation("history-reused-write-id", f"{len(reused)} calls reuse a writeId: {_some(reused)}"))
    if lost:
        violations.append(Violation("acked-lost", f"{len(lost)} acknowledged mutations are absent: {_some(lost)}"))
    if duplicated:
        violations.append(Violation("acked-duplicated", f"{len(duplicated)} acknowledged mutations took effect more than once: {_some(duplicated)}"))
    if unknown_twice:
        violations.append(Violation("unknown-duplicated", f"{len(unknown_twice)} unknown mutations took effect more than once: {_some(unknown_twice)}"))
    if refused_present:
        violations.append(Violation("refused-present", f"{len(refused_present)} refused mutations took effect: {_some(refused_present)}"))
    if phantom:
        violations.append(Violation("phantom-write", f"{len(phantom)} writes nobody asked for: {_some(phantom)}"))
    counts = {"lost": len(lost), "duplicated": len(duplicated) + len(unknown_twice)}
    return violations, counts, resends


def check_read_your_writes(operations: List[Operation], effects: Counter) -> Tuple[List[Violation], List[ClientResend]]:
    """After an ack, the client's next query on the acknowledging node counts the write once
    (`Operation.read_back`). The official client's resend that had already applied when the ack
    came shows as the final count there too."""
    wrong: List[str] = []
    resends: List[ClientResend] = []
    for op in operations:
        if op.read_back is None or op.read_back == 1:
            continue
        if op.read_back == effects.get(op.write_id, 0) and resent_by_official_client(op, int(op.read_back)):
            resends.append(ClientResend(op.write_id, f"{_describe(op)}: its next query counted it {op.read_back:g} times"))
        else:
            wrong.append(f"{_describe(op)}: its next query there counted it {op.read_back} times")
    violations = [Violation("read-your-writes", f"{len(wrong)} acknowledged writes not read back once: {_some(wrong)}")] if wrong else []
    return violations, resends


def check_balances(operations: List[Operation], effects: Counter, initial: Dict[str, float], final: Dict[str, float],
                   counters: Dict[str, float]) -> List[Violation]:
    violations: List[Violation] = []
    expected = dict(initial)
    expected_counters: Dict[str, float] = defaultdict(float)
    for op in operations:
        n = effects.get(op.write_id, 0)
        if op.kind == "transfer" and n:
            expected[op.args["from"]] -= op.args["amount"] * n
            expected[op.args["to"]] += op.args["amount"] * n
        elif op.kind == "increment" and n:
            expected_counters[op.args["counter"]] += n
    wrong = [f"{name}: {final.get(name)} expected {value}" for name, value in sorted(expected.items()) if final.get(name) != value]
    if wrong:
        violations.append(Violation("balances", f"final balances differ from the transfers that took effect: {_some(wrong)}"))
    if sum(final.values()) != sum(initial.values()):
        violations.append(Violation("transfer-total", f"final total {sum(final.values())}, initial {sum(initial.values())}"))
    names = set(expected_counters) | set(counters)
    wrong = [f"{name}: {counters.get(name, 0)} expected {expected_counters.get(name, 0)}" for name in sorted(names)
             if counters.get(name, 0) != expected_counters.get(name, 0)]
    if wrong:
        violations.append(Violation("counters", f"counters differ from the increments that took effect: {_some(wrong)}"))
    return violations


def _state(value: Any) -> Optional[Tuple[float, Tuple]]:
    if not isinstance(value, dict) or not isinstance(value.get("balances"), dict):
        return None
    return value.get("total"), tuple(sorted(value["balances"].items()))


def check_observations(observations: List[Observation], total: float) -> List[Violation]:
    violations: List[Violation] = []
    torn, backwards, forks = [], [], []
    by_subscriber: Dict[str, List[Observation]] = defaultdict(list)
    by_ts: Dict[int, Tuple[Tuple, Observation]] = {}
    for obs in observations:
        by_subscriber[obs.subscriber].append(obs)
        state = _state(obs.value)
        if state is None:
            torn.append(f"{obs.subscriber} on {obs.node} at {obs.at:.3f}: not an accounts result: {str(obs.value)[:200]}")
            continue
        balances_total = sum(v for _, v in state[1])
        if balances_total != total or state[0] != total:
            torn.append(f"{obs.subscriber} on {obs.node} ts {obs.ts} at {obs.at:.3f}: total {state[0]}, balances sum {balances_total}")
        if obs.ts is not None:
            seen = by_ts.get(obs.ts)
            if seen is None:
                by_ts[obs.ts] = (state[1], obs)
            elif seen[0] != state[1]:
                forks.append(f"ts {obs.ts}: {seen[1].subscriber} on {seen[1].node} saw {dict(seen[0])}, "
                             f"{obs.subscriber} on {obs.node} saw {dict(state[1])}")
    for name, seen in by_subscriber.items():
        last: Optional[Observation] = None
        for obs in seen:
            if obs.ts is None:
                continue
            if last is not None and obs.ts < last.ts:
                backwards.append(f"{name}: ts {last.ts} on {last.node} (connection {last.reconnect}) then ts {obs.ts} "
                                 f"on {obs.node} (connection {obs.reconnect}) at {obs.at:.3f}")
            last = obs
    if torn:
        violations.append(Violation("torn-state", f"{len(torn)} subscriber results break the transfer invariant: {_some(torn)}"))
    if backwards:
        violations.append(Violation("ts-backwards", f"{len(backwards)} times a subscriber's ts went back: {_some(backwards)}"))
    if forks:
        violations.append(Violation("same-ts-different-state", f"{len(forks)} timestamps shown with different states: {_some(forks)}"))
    return violations


def check_jobs(batches: List[Tuple[Operation, Dict[str, Any], Optional[Dict[str, Any]]]]) -> Tuple[List[Violation], List[ClientResend]]:
    """`batches`: (the scheduleRuns call, its runStats, its jobStatesOf counts or None when the
    call was not acknowledged and the job ids are unknown). A batch the official client resent
    was scheduled twice: every tag ran once per scheduling."""
    problems: List[str] = []
    resends: List[ClientResend] = []
    for op, stats, states in batches:
        kind, count = op.args["kind"], int(op.args["count"])
        extra_runs = Counter(stats["duplicates"])
        scheduled = 1 + max(extra_runs.values(), default=0)
        expected_runs = count * scheduled
        if scheduled > 1 and resent_by_official_client(op, scheduled) and op.outcome != REFUSED and (
                stats["runs"] == expected_runs if kind == "mutation" else stats["runs"] <= expected_runs):
            resends.append(ClientResend(op.write_id, f"{_describe(op)}: scheduled {scheduled} times, {stats['runs']:g} runs"))
        else:
            expected_runs = count
            if stats["duplicates"]:
                problems.append(f"{_describe(op)}: tags ran twice: {stats['duplicates']}")
        if stats["runs"] > expected_runs:
            problems.append(f"{_describe(op)}: {stats['runs']} runs for {count} jobs")
        if op.outcome == REFUSED and stats["runs"]:
            problems.append(f"{_describe(op)}: refused, yet {stats['runs']} runs")
        if op.outcome != ACKED or states is None:
            continue
        left = {k: v for k, v in states.items() if k in ("pending", "inProgress") and v}
        if left:
            problems.append(f"{_describe(op)}: jobs left {left}")
        if kind == "mutation" and (stats["runs"] != expected_runs or states.get("success", 0) != count):
            problems.append(f"{_describe(op)}: mutation jobs ran {stats['runs']} of {count} times, states {states}")
        if kind == "action" and states.get("success", 0) > stats["runs"]:
            problems.append(f"{_describe(op)}: {states.get('success')} actions succeeded but {stats['runs']} runs recorded")
    violations = [Violation("scheduled-jobs", f"{len(problems)} job batches broke exactly/at most once: {_some(problems)}")] if problems else []
    return violations, resends


def check_crons(cron: Dict[str, Any]) -> List[Violation]:
    times = Counter(job["scheduledTime"] for job in cron["jobs"])
    twice = [f"{t} ×{n}" for t, n in times.items() if n > 1]
    success = sum(1 for job in cron["jobs"] if job["state"] == "success")
    violations = []
    if twice:
        violations.append(Violation("cron-period-twice", f"cron periods scheduled more than once: {_some(twice)}"))
    if cron["runs"] != success:
        violations.append(Violation("cron-runs", f"{cron['runs']} cron runs recorded, {success} cron jobs succeeded"))
    return violations


def check_hashes(lines: List[Tuple[str, str, str]], nodes: Iterable[str]) -> List[Violation]:
    text = "; ".join(" ".join(line) for line in lines)
    if sorted(line[0] for line in lines) != sorted(nodes):
        return [Violation("hashes", f"scripts/cluster hash listed other nodes than {sorted(nodes)}: {text}")]
    if len({line[1] for line in lines}) != 1 or len({line[2] for line in lines}) != 1 or any(line[2] == "unavailable" for line in lines):
        return [Violation("hashes", f"nodes disagree at one ts: {text}")]
    return []


def unavailability(history: History, window_after_heal: float = 15.0) -> List[Dict[str, Any]]:
    """Per fault: the longest time within [fault start, heal + window] during which no write was
    acknowledged anywhere — how long writes were unavailable because of that fault."""
    acks = sorted(op.ended for op in history.operations if op.outcome == ACKED)
    out = []
    for fault in history.faults:
        start, end = fault.started, (fault.healed or fault.started) + window_after_heal
        points = [start] + [t for t in acks if start <= t <= end]
        longest = max((b - a for a, b in zip(points, points[1:])), default=end - start)
        if len(points) == 1:
            longest = end - start
        out.append({"kind": fault.kind, "target": fault.target, "seconds": longest, "detail": fault.detail})
    return out


def failed_for_want_of_a_writer(op: Operation) -> bool:
    """A write that failed because no writer took it (refused before it was sent, unknown), as
    opposed to one the app refused (a transfer from a short balance)."""
    return op.outcome in (REFUSED, UNKNOWN) and "insufficientBalance" not in op.error


def failover_unavailability(history: History, failover_kinds: Iterable[str], window_after_heal: float = 15.0) -> List[Dict[str, Any]]:
    """Per fault that moved the writer: how long writes were unavailable, from the first write
    that failed after the fault began to the first acknowledged write among the calls started
    after that failure (a call in flight before it may have been answered by the old writer);
    0 when no write failed. With the old and new leader and the new term."""
    kinds = set(failover_kinds)
    out = []
    for fault in history.faults:
        if fault.kind not in kinds:
            continue
        end = (fault.healed or fault.started) + window_after_heal
        failures = [op.ended for op in history.operations
                    if failed_for_want_of_a_writer(op) and fault.started <= op.ended <= end]
        seconds = 0.0
        if failures:
            first_failure = min(failures)
            acks = [op.ended for op in history.operations if op.outcome == ACKED and op.started >= first_failure]
            # No write acknowledged after it: unavailable until the end of the run.
            seconds = (min(acks) if acks else max(op.ended for op in history.operations)) - first_failure
        out.append({"kind": fault.kind, "old_leader": fault.target, "new_leader": fault.new_leader, "term": fault.term,
                    "elected_s": (fault.elected - fault.started) if fault.elected else None, "seconds": seconds})
    return out
