"""The checker's rules, each fed a made-up history that breaks it (and one that does not): a
checker that cannot fail proves nothing."""

from __future__ import annotations

from collections import Counter

from checker import check_balances, check_crons, check_hashes, check_jobs, check_observations, check_writes
from history import ACKED, REFUSED, UNKNOWN, Observation, Operation


def op(write_id: str, outcome: str, kind: str = "insert", **args) -> Operation:
    return Operation("c1", "writer", "http", kind, write_id, {"writeId": write_id, **args}, 1.0, 2.0, outcome)


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
    assert check_crons({"jobs": [{"scheduledTime": 1, "state": "success"}], "runs": 1}) == []
    assert names(check_crons({"jobs": [{"scheduledTime": 1, "state": "success"}] * 2, "runs": 1})) == ["cron-period-twice", "cron-runs"]


def test_hashes_must_agree_at_one_ts():
    assert check_hashes([("writer", "5", "h"), ("replica1", "5", "h")], ["writer", "replica1"]) == []
    assert names(check_hashes([("writer", "5", "h"), ("replica1", "5", "g")], ["writer", "replica1"])) == ["hashes"]
    assert names(check_hashes([("writer", "5", "h"), ("replica1", "5", "unavailable")], ["writer", "replica1"])) == ["hashes"]
