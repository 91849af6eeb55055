"""Test-side handles on the official client (run in helper processes) and on raw WebSockets.

Nothing here calls the `convex` client in the test process: its blocking calls hold the GIL
(protocol.md §11), so a call that never returns would freeze pytest itself. ClientProcess and
Subscription talk to helper processes through pipes, read by a thread into a queue, so every
wait has a timeout and a hung client is simply killed.
"""

from __future__ import annotations

import base64
import itertools
import json
import queue
import struct
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import convex
import websockets
import websockets.sync.client

import wire
from harness import LogSource, _die_with_parent

HERE = Path(__file__).resolve().parent
WORKER = HERE / "client_worker.py"
SUBSCRIBER = HERE / "subscriber.py"

#: Default wait for one client call against a local server.
CALL_TIMEOUT = 30.0

_EOF = object()
_counter = itertools.count(1)


class CallTimeout(AssertionError):
    """The client call produced no answer in time (the helper process has been killed)."""


class RemoteError(Exception):
    """A plain (non-ConvexError) exception raised by the official client in a helper process."""

    def __init__(self, message: str, cls: str):
        super().__init__(message)
        self.message = message
        self.cls = cls


def _raise_remote(error: Dict[str, Any]) -> None:
    if error.get("kind") == "ConvexError":
        raise convex.ConvexError(error["message"], wire.decode(error.get("data")))
    raise RemoteError(error["message"], error.get("class", "Exception"))


class _LineReader:
    """Reads JSON lines from a child's stdout into a queue, on a daemon thread."""

    def __init__(self, stream, label: str):
        self.queue: "queue.Queue[Any]" = queue.Queue()
        self.label = label
        self.thread = threading.Thread(target=self._run, args=(stream,), name=f"reader-{label}", daemon=True)
        self.thread.start()

    def _run(self, stream) -> None:
        try:
            for raw in stream:
                line = raw.decode("utf-8", "replace").strip()
                if not line:
                    continue
                try:
                    self.queue.put(json.loads(line))
                except json.JSONDecodeError:
                    self.queue.put({"event": "garbage", "line": line})
        finally:
            self.queue.put(_EOF)

    def get(self, timeout: float) -> Any:
        return self.queue.get(timeout=max(0.0, timeout))


def _spawn(args: List[str], log_path: Path) -> subprocess.Popen:
    log = open(log_path, "ab")
    try:
        return subprocess.Popen(
            [sys.executable, "-u", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            cwd=str(HERE),
            preexec_fn=_die_with_parent,
        )
    finally:
        log.close()


class ClientProcess:
    """One `convex.ConvexClient` in a helper process (client_worker.py).

    `query/mutation/action` return the client's result, raise `convex.ConvexError` (with `.data`)
    or `RemoteError` (a plain client exception) like the client would, and raise `CallTimeout`
    when no answer arrives within `timeout` seconds."""

    def __init__(self, url: str, log_dir: Path, name: Optional[str] = None):
        self.url = url
        self.name = name or f"client{next(_counter)}"
        self.log_path = Path(log_dir) / f"{self.name}.stderr.log"
        self.log = LogSource(f"{self.name} stderr", self.log_path)
        self.proc = _spawn([str(WORKER), url], self.log_path)
        self.reader = _LineReader(self.proc.stdout, self.name)
        self._ids = itertools.count(1)
        self.dead: Optional[str] = None
        ready = self._next(15.0)
        if ready is _EOF or not isinstance(ready, dict) or ready.get("event") != "ready":
            self.close()
            raise AssertionError(f"{self.name}: helper did not start: {ready!r}\n{self.log.tail()}")

    def _next(self, timeout: float) -> Any:
        try:
            return self.reader.get(timeout)
        except queue.Empty:
            return None

    def call(self, op: str, timeout: float = CALL_TIMEOUT, **fields: Any) -> Any:
        if self.dead:
            raise AssertionError(f"{self.name} is no longer usable: {self.dead}")
        request_id = next(self._ids)
        command = {"id": request_id, "op": op, **fields}
        try:
            self.proc.stdin.write((json.dumps(command) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            self.dead = f"helper exited ({exc})"
            raise AssertionError(f"{self.name}: helper process is gone\n{self.log.tail()}") from exc
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.dead = f"{op} {fields.get('path', '')} timed out after {timeout} s"
                self.kill()
                raise CallTimeout(f"{self.name}: {op} {fields.get('path', '')} got no answer within {timeout} s")
            message = self._next(remaining)
            if message is None:
                continue
            if message is _EOF:
                self.dead = "helper exited"
                raise AssertionError(f"{self.name}: helper exited during {op}\n{self.log.tail()}")
            if message.get("id") != request_id:
                continue
            if message.get("ok"):
                return wire.decode(message.get("value"))
            _raise_remote(message["error"])

    def query(self, path: str, args: Optional[dict] = None, timeout: float = CALL_TIMEOUT) -> Any:
        return self.call("query", timeout, path=path, args=wire.encode(args) if args is not None else None)

    def mutation(self, path: str, args: Optional[dict] = None, timeout: float = CALL_TIMEOUT) -> Any:
        return self.call("mutation", timeout, path=path, args=wire.encode(args) if args is not None else None)

    def action(self, path: str, args: Optional[dict] = None, timeout: float = CALL_TIMEOUT) -> Any:
        return self.call("action", timeout, path=path, args=wire.encode(args) if args is not None else None)

    def run(self, kind: str, path: str, args: Optional[dict] = None, timeout: float = CALL_TIMEOUT) -> Any:
        return getattr(self, kind)(path, args, timeout)

    def set_auth(self, token: Optional[str], timeout: float = CALL_TIMEOUT) -> None:
        self.call("set_auth", timeout, token=token)

    def clear_auth(self, timeout: float = CALL_TIMEOUT) -> None:
        self.call("clear_auth", timeout)

    def set_admin_auth(self, key: str, timeout: float = CALL_TIMEOUT) -> None:
        self.call("set_admin_auth", timeout, key=key)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass

    def close(self) -> None:
        try:
            if self.proc.stdin:
                self.proc.stdin.close()
        except OSError:
            pass
        self.kill()


class SubscriptionError(AssertionError):
    pass


class Subscription:
    """A live query subscription of the official client, in its own process (subscriber.py).

    `next_value(timeout)` returns the next result the client yielded; `wait_for(predicate,
    timeout)` returns the first result (the latest one already received included) that satisfies
    `predicate`. Error results raise SubscriptionError unless `errors_ok` (then they are kept in
    `errors`). The client may yield the same value again (protocol.md §11), so tests assert on
    values, never on the number of yields."""

    def __init__(
        self,
        url: str,
        path: str,
        args: Optional[dict] = None,
        token: Optional[str] = None,
        *,
        script: Optional[List[dict]] = None,
        log_dir: Optional[Path] = None,
        name: Optional[str] = None,
        errors_ok: bool = False,
    ):
        self.url = url
        self.path = path
        self.args = args or {}
        self.name = name or f"sub{next(_counter)}-{path.replace(':', '.')}"
        log_dir = Path(log_dir) if log_dir else Path("/tmp")
        self.log_path = log_dir / f"{self.name}.stderr.log"
        self.log = LogSource(f"{self.name} stderr", self.log_path)
        command = [str(SUBSCRIBER), url, path, json.dumps(wire.encode(self.args))]
        if token:
            command += ["--token", token]
        if script:
            command += ["--script", json.dumps(script)]
        self.proc = _spawn(command, self.log_path)
        self.proc.stdin.close()
        self.reader = _LineReader(self.proc.stdout, self.name)
        self.values: List[Any] = []
        #: wall-clock time (time.time() in the subscriber process) each value was yielded
        self.value_times: List[float] = []
        #: wall-clock time the value returned by the last wait_for/next_value was yielded
        self.matched_at: Optional[float] = None
        self.errors: List[Dict[str, Any]] = []
        self.events: List[Dict[str, Any]] = []
        self.errors_ok = errors_ok
        self.ended = False

    # -- reading ----------------------------------------------------------------------------------

    @property
    def latest(self) -> Any:
        return self.values[-1] if self.values else None

    def _take(self, timeout: float) -> Optional[Tuple[str, Any]]:
        """Next value or error event, or None on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.ended:
                return None
            try:
                event = self.reader.get(remaining)
            except queue.Empty:
                return None
            if event is _EOF:
                self.ended = True
                return None
            self.events.append(event)
            kind = event.get("event")
            if kind == "value":
                value = wire.decode(event["value"])
                self.values.append(value)
                self.value_times.append(float(event.get("t", time.time())))
                return ("value", value)
            if kind == "error":
                self.errors.append(event["error"])
                if not self.errors_ok:
                    raise SubscriptionError(
                        f"{self.name}: the subscription raised {event['error'].get('class')}: "
                        f"{event['error'].get('message')}"
                    )
                return ("error", event["error"])

    def _context(self) -> str:
        recent = [wire.describe(v) for v in self.values[-5:]]
        state = "exited" if self.proc.poll() is not None else "running"
        return (
            f"{self.name} ({self.path} {self.args!r}; helper {state}); {len(self.values)} values received, "
            f"last ones: {recent}; errors: {self.errors[-3:]}\n--- subscriber stderr ---\n{self.log.tail(30)}"
        )

    def next_value(self, timeout: float = CALL_TIMEOUT) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            item = self._take(deadline - time.monotonic())
            if item is None:
                raise AssertionError(f"no result within {timeout} s from {self._context()}")
            if item[0] == "value":
                self.matched_at = self.value_times[-1]
                return item[1]

    def next_error(self, timeout: float = CALL_TIMEOUT) -> Dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            item = self._take(deadline - time.monotonic())
            if item is None:
                raise AssertionError(f"no error result within {timeout} s from {self._context()}")
            if item[0] == "error":
                return item[1]

    def wait_for(
        self,
        predicate: Callable[[Any], bool],
        timeout: float = CALL_TIMEOUT,
        description: str = "a matching result",
        include_latest: bool = True,
    ) -> Any:
        if include_latest and self.values and predicate(self.values[-1]):
            self.matched_at = self.value_times[-1]
            return self.values[-1]
        deadline = time.monotonic() + timeout
        while True:
            item = self._take(deadline - time.monotonic())
            if item is None:
                raise AssertionError(f"timed out after {timeout} s waiting for {description} from {self._context()}")
            if item[0] == "value" and predicate(item[1]):
                self.matched_at = self.value_times[-1]
                return item[1]

    def assert_no_new_distinct_value(self, window: float, baseline: Any = None, description: str = "") -> None:
        """Time-bounded negative check: during `window` seconds the subscription yields nothing
        that differs from `baseline` (default: its latest value). Repeats of the same value are
        allowed (protocol.md §11)."""
        reference = self.latest if baseline is None else baseline
        deadline = time.monotonic() + window
        while True:
            item = self._take(deadline - time.monotonic())
            if item is None:
                return
            if item[0] == "value" and not wire.same_value(item[1], reference):
                raise AssertionError(
                    f"{description or 'unexpected update'}: got {wire.describe(item[1])}, "
                    f"expected no change from {wire.describe(reference)}; {self._context()}"
                )

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass


# --- raw WebSocket ---------------------------------------------------------------------------------

ZERO_TS = "AAAAAAAAAAA="
I64_MAX = 2**63 - 1


def decode_ts(text: Any) -> int:
    """A protocol timestamp: standard base64 (padded) of 8 little-endian bytes (protocol.md §3.2)."""
    assert isinstance(text, str), f"timestamp must be a base64 string, got {text!r}"
    raw = base64.b64decode(text, validate=True)
    assert len(raw) == 8, f"timestamp {text!r} decodes to {len(raw)} bytes, expected 8"
    value = struct.unpack("<Q", raw)[0]
    assert value <= I64_MAX, f"timestamp {text!r} = {value} exceeds i64::MAX"
    return value


def encode_ts(value: int) -> str:
    return base64.b64encode(struct.pack("<Q", value)).decode("ascii")


def is_int(x: Any) -> bool:
    return type(x) is int


def check_state_version(sv: Any) -> Tuple[int, int, int]:
    assert isinstance(sv, dict), f"StateVersion must be an object, got {sv!r}"
    assert is_int(sv.get("querySet")) and sv["querySet"] >= 0, f"bad querySet in {sv!r}"
    assert is_int(sv.get("identity")) and sv["identity"] >= 0, f"bad identity in {sv!r}"
    return (sv["querySet"], sv["identity"], decode_ts(sv.get("ts")))


class SocketClosed(Exception):
    def __init__(self, code: Optional[int], reason: str):
        super().__init__(f"closed (code {code}, reason {reason!r})")
        self.code = code
        self.reason = reason


def connect_message(session_id: Optional[str] = None, connection_count: int = 0, **extra: Any) -> dict:
    message = {
        "type": "Connect",
        "sessionId": session_id or str(uuid.uuid4()),
        "connectionCount": connection_count,
        "lastCloseReason": "InitialConnect" if connection_count == 0 else "closed with code 1005",
        "clientTs": 0,
    }
    message.update(extra)
    return message


class RawSocket:
    """A bare WebSocket to the sync endpoint, speaking JSON messages (one per text frame)."""

    def __init__(self, ws_url: str, path: str = "/api/sync", *, send_connect: bool = True,
                 session_id: Optional[str] = None, connection_count: int = 0):
        self.url = ws_url + path
        # Entered as a context manager: how websockets ≥ 17 wants direct use (no warning) and
        # what older versions also accept.
        self.ws = websockets.sync.client.connect(
            self.url,
            proxy=None,
            compression=None,  # like the official Rust client
            max_size=None,
            open_timeout=10,
            close_timeout=3,
            ping_interval=None,
            additional_headers={"Convex-Client": "python-0.8.1"},
        ).__enter__()
        self.received: List[dict] = []
        self.session_id = session_id or str(uuid.uuid4())
        self.closed: Optional[SocketClosed] = None
        self._query_set_version = 0
        self._identity_version = 0
        self._request_ids = itertools.count(0)
        if send_connect:
            self.send(connect_message(self.session_id, connection_count))

    def send(self, message: dict) -> None:
        self.ws.send(json.dumps(message))

    def send_text(self, text: str) -> None:
        self.ws.send(text)

    def send_bytes(self, data: bytes) -> None:
        self.ws.send(data)

    def recv(self, timeout: float = CALL_TIMEOUT, skip_pings: bool = True) -> dict:
        """The next server message (JSON Pings skipped). Raises SocketClosed or TimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no server message within {timeout} s on {self.url}")
            try:
                frame = self.ws.recv(timeout=remaining)
            except TimeoutError:
                raise TimeoutError(f"no server message within {timeout} s on {self.url}") from None
            except websockets.ConnectionClosed as exc:
                self.closed = SocketClosed(exc.rcvd.code if exc.rcvd else None, exc.rcvd.reason if exc.rcvd else "")
                raise self.closed from None
            assert isinstance(frame, str), f"server sent a binary frame ({len(frame)} bytes); protocol messages are text"
            message = json.loads(frame)
            assert isinstance(message, dict) and isinstance(message.get("type"), str), f"not a protocol message: {frame[:300]}"
            self.received.append(message)
            if skip_pings and message["type"] == "Ping":
                continue
            return message

    def recv_until(self, predicate: Callable[[dict], bool], timeout: float = CALL_TIMEOUT,
                   description: str = "a matching message") -> Tuple[dict, List[dict]]:
        """Reads until `predicate(message)`; returns it and the messages before it."""
        skipped: List[dict] = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                message = self.recv(deadline - time.monotonic())
            except TimeoutError:
                raise AssertionError(
                    f"timed out after {timeout} s waiting for {description}; got meanwhile: {_short(skipped)}"
                ) from None
            except SocketClosed as closed:
                raise AssertionError(
                    f"socket {closed} while waiting for {description}; got meanwhile: {_short(skipped)}"
                ) from None
            if predicate(message):
                return message, skipped
            skipped.append(message)

    def expect_error_or_close(self, timeout: float = 15.0) -> Tuple[str, Any]:
        """Waits for the server to refuse: returns ("FatalError", msg), ("AuthError", msg) or
        ("closed", SocketClosed). Any other message is collected; a timeout fails."""
        others: List[dict] = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                message = self.recv(deadline - time.monotonic())
            except TimeoutError:
                raise AssertionError(
                    f"the server neither sent FatalError nor closed the socket within {timeout} s; "
                    f"it sent: {_short(others)}"
                ) from None
            except SocketClosed as closed:
                return ("closed", closed)
            if message["type"] in ("FatalError", "AuthError"):
                return (message["type"], message)
            others.append(message)

    # -- protocol helpers -------------------------------------------------------------------------

    def add_query(self, query_id: int, udf_path: str, args: Optional[dict] = None) -> int:
        return self.modify([{"type": "Add", "queryId": query_id, "udfPath": udf_path, "args": [args or {}]}])

    def remove_query(self, query_id: int) -> int:
        return self.modify([{"type": "Remove", "queryId": query_id}])

    def modify(self, modifications: List[dict]) -> int:
        base = self._query_set_version
        self._query_set_version += 1
        self.send({"type": "ModifyQuerySet", "baseVersion": base, "newVersion": base + 1, "modifications": modifications})
        return base + 1

    def authenticate(self, token: str) -> int:
        base = self._identity_version
        self._identity_version += 1
        self.send({"type": "Authenticate", "baseVersion": base, "tokenType": "User", "value": token})
        return base

    def request(self, kind: str, udf_path: str, args: Optional[dict] = None, request_id: Optional[int] = None) -> int:
        rid = next(self._request_ids) if request_id is None else request_id
        self.send({"type": kind, "requestId": rid, "udfPath": udf_path, "args": [args or {}]})
        return rid

    def response(self, request_id: int, timeout: float = CALL_TIMEOUT) -> Tuple[dict, List[dict]]:
        return self.recv_until(
            lambda m: m["type"] in ("MutationResponse", "ActionResponse") and m.get("requestId") == request_id,
            timeout,
            f"the response to request {request_id}",
        )

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:
            pass


def _short(messages: List[dict], limit: int = 6) -> str:
    out = []
    for m in messages[-limit:]:
        text = json.dumps(m)
        out.append(text if len(text) < 400 else text[:400] + "…")
    return "[" + ", ".join(out) + "]" if out else "nothing"
