"""What the workload did and saw, as plain records the checker reads.

Every call is one `Operation`: what was asked (kind, writeId, node, client, arguments), when it
started and ended, and its outcome — `acked` (the server answered success), `refused` (the server
answered that nothing was applied, or the request was never sent), or `unknown` (the connection
was lost, the call timed out, or the server said the mutation may or may not have been applied).
Every result a subscriber received is one `Observation`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

ACKED, REFUSED, UNKNOWN = "acked", "refused", "unknown"


@dataclass
class Operation:
    client: str
    node: str
    via: str  # "http" or "ws" (the official client)
    kind: str  # "insert", "transfer", "increment", "schedule"
    write_id: str
    args: Dict[str, Any]
    started: float
    ended: float = 0.0
    outcome: str = ""
    value: Any = None
    error: str = ""
    #: What the client's next query counted for this writeId right after the ack (read-your-writes
    #: expects 1); None when not asked (not acked, a schedule batch) or the node went away.
    read_back: Optional[float] = None


@dataclass
class Observation:
    subscriber: str
    node: str
    ts: Optional[int]  # the Transition's commit ts (raw subscribers), None for the official client
    at: float
    value: Any
    reconnect: int = 0


@dataclass
class Violation:
    check: str
    evidence: str

    def __str__(self) -> str:
        return f"[{self.check}] {self.evidence}"


@dataclass
class ClientResend:
    """A mutation of the official Python client that took effect more than once because the client
    resent it under a new session id (docs/reliability.md, non-guarantees): reported on its own,
    not as a violation, and only where the evidence shows that cause (checker.resent_by_official_client)."""
    write_id: str
    evidence: str


@dataclass
class FaultRecord:
    kind: str
    target: str
    started: float
    healed: float = 0.0
    detail: str = ""
    #: A fault that made the cluster elect another writer (failover mode): who leads after it,
    #: in which term, and when that leader was first seen.
    new_leader: str = ""
    term: int = 0
    elected: float = 0.0


class History:
    """The run's shared record; threads append, the checker reads after the workload stopped."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.operations: List[Operation] = []
        self.observations: List[Observation] = []
        self.violations: List[Violation] = []  # found while running (read-your-writes, dead nodes)
        self.faults: List[FaultRecord] = []
        self.lag_samples: List[Dict[str, Any]] = []

    def begin(self, client: str, node: str, via: str, kind: str, write_id: str, args: Dict[str, Any]) -> Operation:
        op = Operation(client, node, via, kind, write_id, args, time.time())
        with self._lock:
            self.operations.append(op)
        return op

    @staticmethod
    def finish(op: Operation, outcome: str, value: Any = None, error: str = "") -> None:
        op.ended, op.outcome, op.value, op.error = time.time(), outcome, value, error

    def observe(self, observation: Observation) -> None:
        with self._lock:
            self.observations.append(observation)

    def violation(self, check: str, evidence: str) -> None:
        with self._lock:
            self.violations.append(Violation(check, evidence))

    def fault(self, record: FaultRecord) -> FaultRecord:
        with self._lock:
            self.faults.append(record)
        return record

    def sample_lag(self, sample: Dict[str, Any]) -> None:
        with self._lock:
            self.lag_samples.append(sample)

    def outcomes(self) -> Dict[str, int]:
        counts = {ACKED: 0, REFUSED: 0, UNKNOWN: 0}
        for op in self.operations:
            if op.outcome in counts:
                counts[op.outcome] += 1
        return counts
