"""The workload: writers (HTTP API and the official client) and subscribers against random
nodes, every call and every received result recorded in a `History`.

Mutations (Sources/ChatExample/Chaos.swift) each carry a unique writeId: `chaos:insert`,
`chaos:transfer` between accounts (the total never changes; refused when the source balance is
short), `chaos:increment`, and `diagnostics:scheduleRuns` batches (scheduled mutation and action
jobs, checked for exactly / at most once). After each acknowledged mutation the client's next
query, on the node that acknowledged it, must show it (read-your-writes).
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from typing import Any, Callable, Dict, List, Optional

import requests
import websockets
import websockets.sync.client

import convex
from clients import CallTimeout, ClientProcess, RemoteError, Subscription, connect_message, decode_ts, encode_ts
from cluster import node_port
from history import ACKED, REFUSED, UNKNOWN, History, Observation, Operation

ACCOUNTS = 8
INITIAL_BALANCE = 1000.0
COUNTERS = 4
#: A call taking longer than this is recorded as unknown (the client gives up on it).
CALL_TIMEOUT = 10.0
#: The phrase of the error a node returns when it cannot tell whether a write was applied.
MAYBE_APPLIED = "may or may not have been applied"


def account(i: int) -> str:
    return f"chaos-acct-{i}"


class Plan:
    """One client's seeded choice of the next call."""

    def __init__(self, rng: random.Random, client: str):
        self.rng = rng
        self.client = client
        self.sequence = 0

    def next_call(self) -> tuple:
        self.sequence += 1
        write_id = f"{self.client}-{self.sequence:06d}"
        roll = self.rng.random()
        if roll < 0.35:
            return "insert", "chaos:insert", {"writeId": write_id}
        if roll < 0.75:
            a, b = self.rng.sample(range(ACCOUNTS), 2)
            return "transfer", "chaos:transfer", {"writeId": write_id, "from": account(a), "to": account(b),
                                                   "amount": float(self.rng.randint(1, 300))}
        if roll < 0.97:
            return "increment", "chaos:increment", {"writeId": write_id, "counter": f"chaos-ctr-{self.rng.randrange(COUNTERS)}"}
        kind = "mutation" if self.rng.random() < 0.7 else "action"
        return "schedule", "diagnostics:scheduleRuns", {
            "prefix": f"chaos-job-{write_id}", "count": 3.0, "delayMs": float(self.rng.randint(0, 2000)), "kind": kind,
            "spreadMs": 500.0, "sleepMs": 0.0, "writeId": write_id,
        }


def classify_function_error(payload: Any) -> str:
    """A failed call as the server described it: refused when the server states nothing was
    applied (a ConvexError thrown by the function, whose transaction rolled back), unknown when it
    cannot tell (the writer unreachable, the link dropped) or says anything else."""
    text = json.dumps(payload) if not isinstance(payload, str) else payload
    if MAYBE_APPLIED in text:
        return UNKNOWN
    if "insufficientBalance" in text:
        return REFUSED
    return UNKNOWN


def call_args(args: Dict[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in args.items() if not (k == "writeId" and "prefix" in args)}


class Workload:
    """Runs `clients` writer threads and the subscribers until `stop()`."""

    def __init__(self, history: History, nodes: List[str], seed: int, clients: int, ws_share: float,
                 work_dir, label: str = "", pause_s: float = 0.05, port_of: Callable[[str], int] = node_port):
        self.history = history
        #: A node's client port (the plain cluster's or the failover cluster's numbering).
        self.port_of = port_of
        #: Prefixes every client and subscriber name (so writeIds stay unique across rounds).
        self.label = label
        self.nodes = nodes
        self.seed = seed
        self.clients = clients
        self.ws_share = ws_share
        self.work_dir = work_dir
        self.pause_s = pause_s
        self.stopping = threading.Event()
        self.threads: List[threading.Thread] = []
        self.subscriptions: List[Subscription] = []

    def start(self) -> None:
        ws_clients = int(round(self.clients * self.ws_share))
        for i in range(self.clients):
            via = "ws" if i < ws_clients else "http"
            name = f"{self.label}c{i:02d}{via}"
            rng = random.Random(f"{self.seed}-{name}")
            target = self._ws_client if via == "ws" else self._http_client
            self._spawn(target, name, rng)
        for i, node in enumerate(self.nodes):
            self._spawn(self._raw_subscriber, f"{self.label}raw{i}", random.Random(f"{self.seed}-raw{i}"), node)
            self._spawn(self._official_subscriber, f"{self.label}sub{i}", node)

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(CALL_TIMEOUT + 20)
        for sub in self.subscriptions:
            sub.close()

    def _spawn(self, target: Callable, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=str(args[0]), daemon=True)
        self.threads.append(thread)
        thread.start()

    # -- writers ----------------------------------------------------------------------------------

    def _http_client(self, name: str, rng: random.Random) -> None:
        session = requests.Session()
        session.trust_env = False
        plan = Plan(rng, name)
        while not self.stopping.is_set():
            node = rng.choice(self.nodes)
            kind, path, args = plan.next_call()
            op = self.history.begin(name, node, "http", kind, args.get("writeId", ""), args)
            outcome, value = self._http_mutation(session, node, path, call_args(args), op)
            if outcome == ACKED and kind != "schedule":
                self._check_read_your_write(op, lambda: self._http_query(session, node, "chaos:writeCount", {"writeId": op.write_id}))
            self.stopping.wait(rng.random() * self.pause_s * 2)

    def _http_mutation(self, session: requests.Session, node: str, path: str, args: Dict[str, Any], op: Operation):
        url = f"http://127.0.0.1:{self.port_of(node)}/api/mutation"
        body = json.dumps({"path": path, "args": args, "format": "json"})
        try:
            response = session.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=CALL_TIMEOUT)
        except requests.exceptions.ConnectionError as exc:
            # Never connected: nothing was sent. Anything later (reset, EOF) may have been applied.
            never_sent = "NewConnectionError" in repr(exc) or "Connection refused" in str(exc)
            self.history.finish(op, REFUSED if never_sent else UNKNOWN, error=f"{type(exc).__name__}: {exc}"[:300])
            return op.outcome, None
        except requests.RequestException as exc:
            self.history.finish(op, UNKNOWN, error=f"{type(exc).__name__}: {exc}"[:300])
            return op.outcome, None
        try:
            payload = response.json()
        except ValueError:
            payload = response.text
        if response.status_code == 200 and isinstance(payload, dict) and payload.get("status") == "success":
            self.history.finish(op, ACKED, value=payload.get("value"))
        else:
            self.history.finish(op, classify_function_error(payload), error=f"HTTP {response.status_code}: {json.dumps(payload)[:300]}")
        return op.outcome, op.value

    def _http_query(self, session: requests.Session, node: str, path: str, args: Dict[str, Any]) -> Any:
        url = f"http://127.0.0.1:{self.port_of(node)}/api/query"
        response = session.post(url, data=json.dumps({"path": path, "args": args, "format": "json"}),
                                headers={"Content-Type": "application/json"}, timeout=CALL_TIMEOUT)
        payload = response.json()
        if response.status_code != 200 or payload.get("status") != "success":
            raise RuntimeError(f"HTTP {response.status_code}: {payload}")
        return payload["value"]

    def _ws_client(self, name: str, rng: random.Random) -> None:
        plan = Plan(rng, name)
        client: Optional[ClientProcess] = None
        node = ""
        while not self.stopping.is_set():
            if client is None:
                node = rng.choice(self.nodes)
                try:
                    client = ClientProcess(f"http://127.0.0.1:{self.port_of(node)}", self.work_dir, name=f"{name}-{uuid.uuid4().hex[:4]}")
                except AssertionError:
                    self.stopping.wait(0.5)
                    continue
            kind, path, args = plan.next_call()
            op = self.history.begin(name, node, "ws", kind, args.get("writeId", ""), args)
            try:
                value = client.mutation(path, call_args(args), timeout=CALL_TIMEOUT)
                self.history.finish(op, ACKED, value=value)
            except convex.ConvexError as exc:
                self.history.finish(op, classify_function_error(exc.data), error=f"ConvexError {exc.data!r}"[:300])
            except RemoteError as exc:
                self.history.finish(op, classify_function_error(exc.message), error=f"{exc.cls}: {exc.message}"[:300])
            except (CallTimeout, AssertionError) as exc:
                self.history.finish(op, UNKNOWN, error=f"{type(exc).__name__}: {exc}"[:300])
                client.close()
                client = None
                continue
            if op.outcome == ACKED and kind != "schedule":
                self._check_read_your_write(op, lambda: client.query("chaos:writeCount", {"writeId": op.write_id}, timeout=CALL_TIMEOUT))
            self.stopping.wait(rng.random() * self.pause_s * 2)
        if client is not None:
            client.close()

    @staticmethod
    def _check_read_your_write(op: Operation, query: Callable[[], Any]) -> None:
        """Records what the client's next query counts for the acked write (the checker judges it,
        check_read_your_writes)."""
        try:
            op.read_back = query()
        except Exception:  # noqa: BLE001 — the node went away: nothing to judge
            pass

    # -- subscribers ------------------------------------------------------------------------------

    def _raw_subscriber(self, name: str, rng: random.Random, first_node: str) -> None:
        """The sync protocol by hand, to see each Transition's commit ts: on a lost connection it
        reconnects to a random node, sending the highest ts it saw (maxObservedTimestamp) like the
        official clients do; the checker then asserts the ts never went back."""
        session_id = str(uuid.uuid4())
        node = first_node
        max_ts: Optional[int] = None
        reconnect = 0
        while not self.stopping.is_set():
            url = f"ws://127.0.0.1:{self.port_of(node)}/api/sync"
            try:
                with websockets.sync.client.connect(url, proxy=None, compression=None, max_size=None, open_timeout=5,
                                                    close_timeout=2, ping_interval=None) as ws:
                    extra = {"maxObservedTimestamp": encode_ts(max_ts)} if max_ts is not None else {}
                    hello = connect_message(session_id, reconnect, **extra)
                    ws.send(json.dumps(hello))
                    ws.send(json.dumps({"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": [
                        {"type": "Add", "queryId": 0, "udfPath": "chaos:accounts", "args": [{}]}]}))
                    while not self.stopping.is_set():
                        try:
                            frame = ws.recv(timeout=1.0)
                        except TimeoutError:
                            continue
                        message = json.loads(frame)
                        if message.get("type") != "Transition":
                            continue
                        ts = decode_ts(message["endVersion"]["ts"])
                        for modification in message.get("modifications", []):
                            if modification.get("type") == "QueryUpdated":
                                self.history.observe(Observation(name, node, ts, time.time(), modification.get("value"), reconnect))
                        max_ts = ts if max_ts is None else max(max_ts, ts)
            except (OSError, websockets.exceptions.WebSocketException, TimeoutError):
                pass
            reconnect += 1
            node = rng.choice(self.nodes)
            self.stopping.wait(0.2)

    def _official_subscriber(self, name: str, node: str) -> None:
        sub = Subscription(f"http://127.0.0.1:{self.port_of(node)}", "chaos:accounts", {}, log_dir=self.work_dir,
                           name=f"{name}-{node}", errors_ok=True)
        self.subscriptions.append(sub)
        while not self.stopping.is_set() and not sub.ended:
            item = sub._take(0.5)
            if item is not None and item[0] == "value":
                self.history.observe(Observation(name, node, None, sub.value_times[-1], item[1]))
