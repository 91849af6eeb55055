"""Fixtures for the Ripple conformance suite.

Run:  RIPPLE_CHAT_BIN=/path/to/chat .venv/bin/python -m pytest -q Tests/conformance

- `jwks` (session): a local OIDC issuer (http.server thread on 127.0.0.1, random port) with one
  RSA key; `make_token(sub, exp_delta=..., aud=..., iss=..., key=..., **claims)` signs RS256 tokens.
- `server` (session): one real `chat dev --listen 127.0.0.1:PORT --data TMP` process, started with
  CLERK_JWT_ISSUER_DOMAIN=<issuer base url> and a random RIPPLE_ADMIN_KEY, ready once
  GET /version answers; SIGTERM (then SIGKILL after 10 s) at the end.
- `server_factory` (function): private servers for tests that restart or abuse a server.
- `client_factory`, `subscribe`, `raw_socket` (function): official-client helper processes,
  live subscriptions in their own processes, and raw WebSockets; all closed after the test.
- `user` (function): a signed-in user (fresh `sub`, client with set_auth, users:upsertUser done).

When a test fails, the output written during it by the server and by helper processes is
attached to its report.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import pytest

from clients import ClientProcess, RawSocket, Subscription
from harness import ChatServer, LogSource, ServerError, new_admin_key, server_env
from session_fixtures import jwks, scratch_directory  # noqa: F401

# --- binary ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chat_bin() -> str:
    path = os.environ.get("RIPPLE_CHAT_BIN", "").strip()
    if not path:
        pytest.exit(
            "RIPPLE_CHAT_BIN is not set: point it at the `chat` executable, e.g. "
            "RIPPLE_CHAT_BIN=$(swift build --show-bin-path)/chat python -m pytest Tests/conformance",
            returncode=2,
        )
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.exit(f"RIPPLE_CHAT_BIN={path!r} is not an executable file", returncode=2)
    return os.path.abspath(path)


@pytest.fixture(scope="session")
def work_dir():
    yield from scratch_directory("ripple-conformance-", "RIPPLE_CONFORMANCE_KEEP", "conformance")


# --- auth --------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def make_token(jwks) -> Callable[..., str]:
    return jwks.make_token


@pytest.fixture(scope="session")
def admin_key() -> str:
    return new_admin_key()


# --- servers -----------------------------------------------------------------------------------


class ServerFactory:
    def __init__(self, chat_bin: str, work_dir: Path, issuer: str, admin_key: str):
        self.chat_bin = chat_bin
        self.work_dir = work_dir
        self.issuer = issuer
        self.admin_key = admin_key
        self.servers: List[ChatServer] = []

    def start(self, name: Optional[str] = None) -> ChatServer:
        name = name or f"server-{uuid.uuid4().hex[:6]}"
        server = ChatServer(
            self.chat_bin,
            data_dir=self.work_dir / f"{name}-data",
            log_path=self.work_dir / f"{name}.log",
            env=server_env(self.issuer, self.admin_key),
            name=name,
        )
        self.servers.append(server)
        try:
            server.start()
        except ServerError as exc:
            pytest.fail(str(exc), pytrace=False)
        return server

    def stop_all(self) -> None:
        for server in self.servers:
            server.stop()


@pytest.fixture(scope="session")
def server(chat_bin, work_dir, jwks, admin_key):
    factory = ServerFactory(chat_bin, work_dir, jwks.base_url, admin_key)
    srv = factory.start("server")
    yield srv
    factory.stop_all()


@pytest.fixture
def server_factory(chat_bin, work_dir, jwks, admin_key):
    factory = ServerFactory(chat_bin, work_dir, jwks.base_url, admin_key)
    yield factory
    factory.stop_all()


# --- clients -----------------------------------------------------------------------------------


@pytest.fixture
def client_factory(server, work_dir):
    """new_client(token=None, server=None) -> ClientProcess (official client in a helper process)."""
    made: List[ClientProcess] = []

    def new_client(token: Optional[str] = None, target: Optional[ChatServer] = None) -> ClientProcess:
        client = ClientProcess((target or server).url, work_dir)
        made.append(client)
        if token:
            client.set_auth(token)
        return client

    yield new_client
    for client in made:
        client.close()


@pytest.fixture
def client(client_factory) -> ClientProcess:
    """An unauthenticated official client."""
    return client_factory()


@pytest.fixture
def subscribe(server, work_dir):
    """subscribe(path, args=None, token=None, *, target=None, script=None, errors_ok=False) -> Subscription."""
    made: List[Subscription] = []

    def new_subscription(path: str, args: Optional[dict] = None, token: Optional[str] = None, *,
                         target: Optional[ChatServer] = None, **kwargs: Any) -> Subscription:
        sub = Subscription((target or server).url, path, args, token, log_dir=work_dir, **kwargs)
        made.append(sub)
        return sub

    yield new_subscription
    for sub in made:
        sub.close()


@pytest.fixture
def raw_socket(server):
    """raw_socket(path="/api/sync", target=None, **kwargs) -> RawSocket (Connect already sent)."""
    made: List[RawSocket] = []

    def new_socket(path: str = "/api/sync", target: Optional[ChatServer] = None, **kwargs: Any) -> RawSocket:
        sock = RawSocket((target or server).ws_url, path, **kwargs)
        made.append(sock)
        return sock

    yield new_socket
    for sock in made:
        sock.close()


@dataclass
class SignedInUser:
    sub: str
    token: str
    client: ClientProcess
    user_id: str

    def create_channel(self, name: Optional[str] = None, **extra: Any) -> str:
        channel_id = self.client.mutation("channels:create", {"name": name or f"chan-{uuid.uuid4().hex[:8]}", **extra})
        assert isinstance(channel_id, str) and channel_id, f"channels:create returned {channel_id!r}"
        return channel_id

    def send(self, channel_id: str, content: str) -> str:
        message_id = self.client.mutation("messages:sendMessage", {"channelId": channel_id, "content": content})
        assert isinstance(message_id, str) and message_id, f"messages:sendMessage returned {message_id!r}"
        return message_id


@pytest.fixture
def new_user(client_factory, make_token):
    """new_user(target=None, **token_claims) -> SignedInUser (set_auth + users:upsertUser done)."""

    def make(target: Optional[ChatServer] = None, **claims: Any) -> SignedInUser:
        sub = claims.pop("sub", None) or f"user_{uuid.uuid4().hex[:12]}"
        token = make_token(sub, **claims)
        client = client_factory(token, target)
        user_id = client.mutation("users:upsertUser", {})
        assert isinstance(user_id, str) and user_id, f"users:upsertUser returned {user_id!r}"
        return SignedInUser(sub, token, client, user_id)

    return make


@pytest.fixture
def user(new_user) -> SignedInUser:
    return new_user()


# --- failure reports: hooks shared with the other suite --------------------------------------

from log_reports import pytest_runtest_makereport, pytest_runtest_setup  # noqa: E402,F401


@pytest.fixture(autouse=True)
def _shared_server_watchdog(request):
    """Fails the test during which the shared server died (with its log), and starts it again on
    the same port and data directory so that later tests still run."""
    yield
    if "server" not in request.fixturenames:
        return
    srv: ChatServer = request.getfixturevalue("server")
    if srv.is_running():
        return
    status = srv.proc.returncode if srv.proc is not None else None
    tail = srv.log.tail(80)
    srv.proc = None
    try:
        srv.start()
        note = "restarted it for the next tests"
    except ServerError as exc:
        note = f"could not restart it: {exc}"
    pytest.fail(f"the shared server exited (status {status}) during this test; {note}\n--- log tail ---\n{tail}",
                pytrace=False)
