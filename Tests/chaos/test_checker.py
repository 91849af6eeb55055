"""The checker's rules, each fed a made-up history that breaks it (and one that does not): a
checker that cannot fail proves nothing."""

from __future__ import annotations

from collections import Counter

from checker import (check_balances, check_crons, check_hashes, check_jobs, check_observations, check_read_your_writes,
                     check_writes, failover_unavailability)
from history import ACKED, REFUSED, UNKNOWN, FaultRecord, History, Observation, Operation


def op(write_id: str, outcome: str, kind: str = "insert", via: str = "http", error: str = "", **args) -> Operation:
    return Operation("c1", "writer", via, kind, write_id, {"writeId": write_id, **args}, 1.0, 2.0, outcome, error=error)


def names(violations) -> list:
    return sorted(v.check for v in violations)


def test_writes_exactly_once_when_acked_at_most_once_when_unknown_never_when_refused():
    history = [op("a", ACKED), op("b", UNKNOWN), op("c", UNKNOWN), op("d", REFUSED)]
    assert check_writes(history, Counter({"a": 1, "b": 1}))[0] == []
    violations, counts, _ = check_writes(history, Counter({"b": 2, "d": 1, "x": 1}))
    assert names(violations) == ["acked-lost", "phantom-write", "refused-present", "unknown-duplicated"]
    assert counts == {"lost": 1, "duplicated": 1}
    assert names(check_writes(history + [op("a", ACKED)], Counter({"a": 1, "b": 1}))[0]) == ["history-reused-write-id"]
    violations, counts, _ = check_writes(history, Counter({"a": 2}))
    assert names(violations) == ["acked-duplicated"] and counts == {"lost": 0, "duplicated": 1}
    assert "a by c1 via http on writer, acked" in str(violations[0])


def test_official_client_resend_is_reported_apart_and_only_for_its_writers():
    """A write of the official client ("ws") applied twice is its resend under a new session id
    (resend_probe.py): a ClientResend, not a violation. The same evidence from an HTTP writer (sent
    once) or a raw-protocol one (keeps its session) is a duplicate the server made: a violation."""
    refused = "ConvexError {'kind': 'insufficientBalance'}"
    ws = [op("a", ACKED, via="ws"), op("u", UNKNOWN, via="ws"), op("t", REFUSED, "transfer", via="ws", error=refused),
          op("t2", REFUSED, "transfer", via="ws", error=refused), op("n", ACKED, via="ws"),
          op("r", REFUSED, "transfer", via="ws", error=refused)]
    violations, counts, resends = check_writes(ws, Counter({"a": 2, "u": 2, "t": 1, "t2": 2, "n": 1}))
    assert violations == [] and counts == {"lost": 0, "duplicated": 0}
    assert sorted(r.write_id for r in resends) == ["a", "t", "t2", "u"]
    assert "a by c1 via ws on writer, acked" in next(r.evidence for r in resends if r.write_id == "a")
    for via in ("http", "raw"):
        others = [op("a", ACKED, via=via), op("u", UNKNOWN, via=via), op("t", REFUSED, "transfer", via=via, error=refused)]
        violations, counts, resends = check_writes(others, Counter({"a": 2, "u": 2, "t": 1}))
        assert names(violations) == ["acked-duplicated", "refused-present", "unknown-duplicated"] and resends == []
        assert counts == {"lost": 0, "duplicated": 2}
    # A ws write refused for another reason, or lost, is no resend.
    violations, _, resends = check_writes([op("t", REFUSED, "transfer", via="ws", error="HTTP 400"), op("l", ACKED, via="ws")],
                                          Counter({"t": 1}))
    assert names(violations) == ["acked-lost", "refused-present"] and resends == []


def test_read_your_writes_counts_the_write_once_or_the_resend_shows():
    good, twice = op("a", ACKED), op("b", ACKED)
    good.read_back, twice.read_back = 1.0, 2.0
    assert check_read_your_writes([good], Counter({"a": 1})) == ([], [])
    assert names(check_read_your_writes([good, twice], Counter({"a": 1, "b": 2}))[0]) == ["read-your-writes"]
    stale = op("c", ACKED)
    stale.read_back = 0.0
    assert names(check_read_your_writes([stale], Counter({"c": 1}))[0]) == ["read-your-writes"]
    resent = op("b", ACKED, via="ws")
    resent.read_back = 2.0
    violations, resends = check_read_your_writes([resent], Counter({"b": 2}))
    assert violations == [] and [r.write_id for r in resends] == ["b"]
    # Counted twice by the query yet present once at the end: not what a resend leaves.
    assert names(check_read_your_writes([resent], Counter({"b": 1}))[0]) == ["read-your-writes"]


def test_balances_follow_the_transfers_that_took_effect():
    initial = {"x": 10.0, "y": 10.0}
    history = [op("t1", ACKED, "transfer", **{"from": "x", "to": "y", "amount": 3.0}),
               op("t2", UNKNOWN, "transfer", **{"from": "y", "to": "x", "amount": 1.0}),
               op("i1", ACKED, "increment", counter="k")]
    effects = Counter({"t1": 1, "i1": 1})
    assert check_balances(history, effects, initial, {"x": 7.0, "y": 13.0}, {"k": 1}) == []
    assert names(check_balances(history, effects, initial, {"x": 7.0, "y": 12.0}, {"k": 2})) == ["balances", "counters", "transfer-total"]


def accounts(x: float, y: float) -> dict:
    return {"balances": {"x": x, "y": y}, "total": x + y}


def test_subscriber_states_keep_the_total_and_timestamps_never_go_back():
    good = [Observation("r", "writer", 5, 1.0, accounts(10, 10)), Observation("r", "replica1", 7, 2.0, accounts(9, 11), 1),
            Observation("s", "replica2", 7, 2.0, accounts(9, 11)), Observation("o", "replica2", None, 2.0, accounts(9, 11))]
    assert check_observations(good, 20.0) == []
    bad = [Observation("r", "writer", 7, 1.0, accounts(10, 10)), Observation("r", "replica1", 5, 2.0, accounts(9, 10), 1),
           Observation("s", "replica2", 7, 2.0, accounts(8, 12))]
    assert names(check_observations(bad, 20.0)) == ["same-ts-different-state", "torn-state", "ts-backwards"]


def test_scheduled_jobs_exactly_once_and_none_left_running():
    batch = op("j", ACKED, "schedule", prefix="p", count=3.0)
    batch.args["kind"] = "mutation"
    ok = {"runs": 3.0, "duplicates": []}
    assert check_jobs([(batch, ok, {"success": 3.0})]) == ([], [])
    assert names(check_jobs([(batch, {"runs": 4.0, "duplicates": ["p-1"]}, {"success": 3.0})])[0]) == ["scheduled-jobs"]
    actions = op("k", ACKED, "schedule", prefix="q", count=3.0)
    actions.args["kind"] = "action"
    assert check_jobs([(actions, {"runs": 2.0, "duplicates": []}, {"success": 2.0, "failed": 1.0})]) == ([], [])
    assert names(check_jobs([(actions, {"runs": 2.0, "duplicates": []}, {"success": 2.0, "inProgress": 1.0})])[0]) == ["scheduled-jobs"]
    # A batch the official client resent was scheduled twice: each tag ran twice, each job once.
    resent = op("r", ACKED, "schedule", via="ws", prefix="s", count=3.0)
    resent.args["kind"] = "mutation"
    twice = {"runs": 6.0, "duplicates": ["s-0", "s-1", "s-2"]}
    violations, resends = check_jobs([(resent, twice, {"success": 3.0})])
    assert violations == [] and [r.write_id for r in resends] == ["r"]
    assert names(check_jobs([(batch, twice, {"success": 3.0})])[0]) == ["scheduled-jobs"]
    assert names(check_jobs([(resent, {"runs": 5.0, "duplicates": ["s-0", "s-1"]}, {"success": 3.0})])[0]) == ["scheduled-jobs"]
    assert check_crons({"jobs": [{"scheduledTime": 1, "state": "success"}], "runs": 1}) == []
    assert names(check_crons({"jobs": [{"scheduledTime": 1, "state": "success"}] * 2, "runs": 1})) == ["cron-period-twice", "cron-runs"]


def test_hashes_must_agree_at_one_ts():
    assert check_hashes([("writer", "5", "h"), ("replica1", "5", "h")], ["writer", "replica1"]) == []
    assert names(check_hashes([("writer", "5", "h"), ("replica1", "5", "g")], ["writer", "replica1"])) == ["hashes"]
    assert names(check_hashes([("writer", "5", "h"), ("replica1", "5", "unavailable")], ["writer", "replica1"])) == ["hashes"]


def timed(write_id: str, outcome: str, node: str, started: float, ended: float, error: str = "") -> Operation:
    return Operation("c1", node, "http", "insert", write_id, {"writeId": write_id}, started, ended, outcome, error=error)


def test_acked_write_lost_in_a_failover_is_reported_with_the_node_that_acked_it():
    # The old writer acknowledged "w2" and died before any replica had it; the new writer's
    # state (the final one) does not hold it.
    history = [timed("w1", ACKED, "node1", 10.0, 10.1), timed("w2", ACKED, "node1", 10.2, 10.3),
               timed("w3", UNKNOWN, "node2", 10.4, 11.0, "may or may not have been applied"), timed("w4", ACKED, "node2", 12.0, 12.1)]
    violations, counts, _ = check_writes(history, Counter({"w1": 1, "w4": 1}))
    assert names(violations) == ["acked-lost"] and counts == {"lost": 1, "duplicated": 0}
    assert str(violations[0]) == ("[acked-lost] 1 acknowledged mutations are absent: "
                                  "insert w2 by c1 via http on node1, acked [10.200..10.300]")


def test_failover_unavailability_runs_from_the_first_failed_write_to_the_first_ack_of_a_later_call():
    history = History()
    history.faults = [FaultRecord("kill-writer-failover", "node1", 100.0, 105.0, new_leader="node2", term=3, elected=101.5),
                      FaultRecord("pause-writer-failover", "node2", 200.0, 204.0, new_leader="node3", term=4, elected=202.0),
                      FaultRecord("kill-replica", "node3", 300.0, 301.0)]
    history.operations = [
        timed("a", ACKED, "node2", 99.0, 99.5),
        timed("b", REFUSED, "node3", 100.0, 100.1, "ConvexError {'code': 'insufficientBalance'}"),  # the app's refusal
        timed("c", UNKNOWN, "node2", 99.9, 100.2, "HTTP 503: may or may not have been applied"),  # the first failure
        timed("d", ACKED, "node3", 100.1, 101.0),  # in flight before the failure: not evidence of a writer
        timed("e", REFUSED, "node1", 100.5, 100.6, "ConnectionError: Connection refused"),
        timed("f", ACKED, "node3", 101.0, 102.7),
        timed("g", ACKED, "node3", 199.0, 201.0),  # no write failed around the pause
    ]
    assert failover_unavailability(history, ("kill-writer-failover", "pause-writer-failover")) == [
        {"kind": "kill-writer-failover", "old_leader": "node1", "new_leader": "node2", "term": 3, "elected_s": 1.5,
         "seconds": 102.7 - 100.2},
        {"kind": "pause-writer-failover", "old_leader": "node2", "new_leader": "node3", "term": 4, "elected_s": 2.0, "seconds": 0.0},
    ]
