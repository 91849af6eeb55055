"""The fault proxy itself, against a local echo server: what each fault does to the bytes."""

from __future__ import annotations

import socket
import socketserver
import threading

import pytest

from harness import free_port
from proxy import FaultProxy


class _Echo(socketserver.BaseRequestHandler):
    #: Every chunk the echo server received (what the proxy delivered upstream).
    received: list = []

    def handle(self) -> None:
        while True:
            data = self.request.recv(65536)
            if not data:
                return
            _Echo.received.append(data)
            self.request.sendall(data)


def _bits(data: bytes) -> int:
    return sum(bin(b).count("1") for b in data)


@pytest.fixture
def proxy():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    handle = FaultProxy("test", free_port(), server.server_address[1], seed=1)
    yield handle
    handle.close()
    server.shutdown()


def _roundtrip(port: int, payload: bytes, expect: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(payload)
        received = b""
        while len(received) < expect:
            chunk = s.recv(65536)
            if not chunk:
                break
            received += chunk
        return received


def test_pass_corrupt_duplicate_and_cut(proxy):
    assert _roundtrip(proxy.port, b"hello", 5) == b"hello"

    proxy.set_fault("corrupt", probability=1.0)
    _Echo.received.clear()
    out = _roundtrip(proxy.port, b"\0" * 8, 8)
    # One bit flipped on the way there (the echo server got it) and one on the way back: the
    # client sees two bits set, or none when the same bit flipped back.
    assert [len(chunk) for chunk in _Echo.received] == [8] and _bits(_Echo.received[0]) == 1, _Echo.received
    assert _bits(out) in (0, 2), out
    assert proxy.stats.damaged["corrupt"] == 2

    proxy.set_fault("duplicate", probability=1.0)
    assert _roundtrip(proxy.port, b"ab", 8) == b"abababab"  # doubled each way

    proxy.set_fault("cut")
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as s:
        try:
            s.sendall(b"x")
            assert s.recv(10) == b"", "the cut link passed bytes"
        except ConnectionResetError:
            pass  # aborted: what a cut link does

    proxy.set_fault("pass")
    assert _roundtrip(proxy.port, b"back", 4) == b"back"
