"""Processes and servers the conformance suite drives: the local OIDC/JWKS issuer, test tokens,
and the real `chat dev` server under test. Fixtures in conftest.py wrap these.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import http.server
import json
import os
import secrets
import signal
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import jwt  # PyJWT
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

# Loopback traffic must never go through a proxy configured in the environment.
for _var in ("NO_PROXY", "no_proxy"):
    _existing = os.environ.get(_var, "")
    if "127.0.0.1" not in _existing:
        os.environ[_var] = ",".join(filter(None, [_existing, "127.0.0.1", "localhost"]))

#: Audience (the auth provider's applicationID) the server is expected to require, as in the
#: seed app's auth.config (`applicationID: "convex"`).
AUDIENCE = os.environ.get("RIPPLE_CONFORMANCE_AUDIENCE", "convex")


def free_port() -> int:
    """A port that was free a moment ago (bind to port 0, read it, release it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- logs shown when a test fails --------------------------------------------------------------


class LogSource:
    """A log file whose new output is attached to the report of a failing test."""

    registry: List["LogSource"] = []

    def __init__(self, name: str, path: Path):
        self.name = name
        self.path = Path(path)
        LogSource.registry.append(self)

    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except OSError:
            return 0

    def text_since(self, offset: int, max_lines: int = 150) -> str:
        try:
            with open(self.path, "rb") as f:
                f.seek(offset)
                data = f.read()
        except OSError as exc:
            return f"(cannot read {self.path}: {exc})"
        lines = data.decode("utf-8", "replace").splitlines()
        if len(lines) > max_lines:
            lines = [f"... ({len(lines) - max_lines} earlier lines in {self.path})"] + lines[-max_lines:]
        return "\n".join(lines)

    def tail(self, max_lines: int = 60) -> str:
        return self.text_since(0, max_lines)


# --- the local OIDC issuer ---------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _uint_bytes(n: int) -> bytes:
    return n.to_bytes((n.bit_length() + 7) // 8, "big")


class JwksServer:
    """An OIDC issuer on 127.0.0.1:<random port>: `/.well-known/openid-configuration` (issuer = its
    own base URL, `jwks_uri`) and `/.well-known/jwks.json` with one RSA key (kid `KID`)."""

    KID = "ripple-conformance-key-1"

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        # Signs "tampered" tokens: the server never sees its public half.
        self.rogue_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.requests: List[str] = []
        self._lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server API
                with server._lock:
                    server.requests.append(self.path)
                path = self.path.split("?", 1)[0]
                if path == "/.well-known/openid-configuration":
                    body = server.openid_configuration()
                elif path == "/.well-known/jwks.json":
                    body = server.jwks()
                else:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="jwks-server", daemon=True)
        self.thread.start()

    def openid_configuration(self) -> Dict[str, Any]:
        return {
            "issuer": self.base_url,
            "jwks_uri": self.base_url + "/.well-known/jwks.json",
            "authorization_endpoint": self.base_url + "/authorize",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }

    def jwks(self) -> Dict[str, Any]:
        numbers = self.key.public_key().public_numbers()
        return {
            "keys": [
                {
                    "kty": "RSA",
                    "use": "sig",
                    "alg": "RS256",
                    "kid": self.KID,
                    "n": _b64url(_uint_bytes(numbers.n)),
                    "e": _b64url(_uint_bytes(numbers.e)),
                }
            ]
        }

    _DEFAULT = object()

    def make_token(
        self,
        sub: Optional[str] = None,
        *,
        exp_delta: float = 3600,
        aud: Any = _DEFAULT,
        iss: Any = _DEFAULT,
        key: Any = None,
        kid: Any = _DEFAULT,
        name: Any = _DEFAULT,
        email: Any = _DEFAULT,
        picture: Any = None,
        iat_delta: float = -5,
        **claims: Any,
    ) -> str:
        """An RS256 JWT from this issuer. Defaults: a fresh random `sub`, `aud` = AUDIENCE,
        `iss` = this server, expiry in an hour, name/email derived from `sub`. A claim passed as
        None is left out. `key` signs with another private key (e.g. `rogue_key`)."""
        sub = sub or f"user_{uuid.uuid4().hex[:12]}"
        now = int(time.time())
        payload: Dict[str, Any] = {
            "sub": sub,
            "iss": self.base_url if iss is self._DEFAULT else iss,
            "aud": AUDIENCE if aud is self._DEFAULT else aud,
            "iat": now + int(iat_delta),
            "exp": now + int(exp_delta),
            "name": f"Test User {sub}" if name is self._DEFAULT else name,
            "email": f"{sub}@example.com" if email is self._DEFAULT else email,
            "picture": picture,
        }
        payload.update(claims)
        payload = {k: v for k, v in payload.items() if v is not None}
        headers = {"kid": self.KID if kid is self._DEFAULT else kid}
        headers = {k: v for k, v in headers.items() if v is not None}
        return jwt.encode(payload, key or self.key, algorithm="RS256", headers=headers)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def tamper_payload(token: str, **changes: Any) -> str:
    """The same header and signature with edited claims: the signature no longer matches."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    new_payload = _b64url(json.dumps(claims, separators=(",", ":")).encode())
    return ".".join([header, new_payload, signature])


# --- the server under test ---------------------------------------------------------------------

_libc = None
try:
    _libc = ctypes.CDLL(None, use_errno=True)
except OSError:
    pass


def _die_with_parent() -> None:  # runs in the forked child before exec
    if _libc is not None:
        _libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG


class ServerError(Exception):
    pass


class ChatServer:
    """One `chat dev --listen 127.0.0.1:PORT --data DIR` process, its log in a file."""

    READY_TIMEOUT = 60.0
    STOP_TIMEOUT = 10.0

    def __init__(self, binary: str, data_dir: Path, log_path: Path, env: Dict[str, str], name: str = "server"):
        self.binary = binary
        self.data_dir = Path(data_dir)
        self.log_path = Path(log_path)
        self.env = env
        self.name = name
        self.port = free_port()
        self.proc: Optional[subprocess.Popen] = None
        self.starts = 0
        self.log = LogSource(f"{name} log ({self.log_path})", self.log_path)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def command(self) -> List[str]:
        return [self.binary, "dev", "--listen", f"127.0.0.1:{self.port}", "--data", str(self.data_dir)]

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"\n===== conformance: start #{self.starts}: {' '.join(self.command())}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                preexec_fn=_die_with_parent,
            )
        self.wait_ready()

    def wait_ready(self) -> None:
        """Polls GET /version until the server answers HTTP; fails with the log if the process
        exits or the overall timeout passes."""
        deadline = time.monotonic() + self.READY_TIMEOUT
        last_error = "no attempt"
        session = requests.Session()
        session.trust_env = False
        delay = 0.02
        while True:
            code = self.proc.poll()
            if code is not None:
                raise ServerError(
                    f"{self.name} exited with status {code} before answering GET /version.\n"
                    f"command: {' '.join(self.command())}\n--- log tail ---\n{self.log.tail(80)}"
                )
            try:
                response = session.get(self.url + "/version", timeout=2)
                self.version_status = response.status_code
                self.version_body = response.text[:500]
                return
            except requests.RequestException as exc:
                last_error = f"{type(exc).__name__}: {exc}"
            if time.monotonic() > deadline:
                self.kill()
                raise ServerError(
                    f"{self.name} did not answer GET {self.url}/version within {self.READY_TIMEOUT:.0f} s "
                    f"(last error: {last_error}).\n--- log tail ---\n{self.log.tail(80)}"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.25)

    def is_running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def healthy(self) -> bool:
        if not self.is_running():
            return False
        try:
            session = requests.Session()
            session.trust_env = False
            session.get(self.url + "/version", timeout=5)
            return True
        except requests.RequestException:
            return False

    def stop(self) -> Optional[int]:
        """SIGTERM, then SIGKILL after STOP_TIMEOUT seconds. Returns the exit status."""
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(self.STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                with open(self.log_path, "ab") as log:
                    log.write(b"\n===== conformance: no exit 10 s after SIGTERM; sending SIGKILL\n")
                proc.kill()
                proc.wait()
        with open(self.log_path, "ab") as log:
            log.write(f"\n===== conformance: exited with status {proc.returncode}\n".encode())
        return proc.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        """Stops the server and starts it again on the same port and data directory."""
        self.stop()
        self.start()


def server_env(issuer: str, admin_key: str) -> Dict[str, str]:
    env = dict(os.environ)
    env["CLERK_JWT_ISSUER_DOMAIN"] = issuer
    env["RIPPLE_ADMIN_KEY"] = admin_key
    env["CHAT_DIAGNOSTICS"] = "1"  # the diagnostics:* functions the suites call
    for var in ("RIPPLE_DATA", "RIPPLE_LISTEN"):
        env.pop(var, None)
    return env


def new_admin_key() -> str:
    return "conformance|" + secrets.token_hex(24)


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.05, message: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(interval)


@contextlib.contextmanager
def timed(label: str):
    start = time.monotonic()
    yield
    print(f"{label}: {time.monotonic() - start:.3f} s")
