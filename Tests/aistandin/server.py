"""A stand-in for Anthropic's Messages API, for tests and the demo (`scripts/run --demo`).

It answers `POST /v1/messages` as the real API does, streamed (`"stream": true`: server-sent
events message_start, content_block_start, ping, content_block_delta with text_delta,
content_block_stop, message_delta, message_stop) or not (one JSON message), after checking the
`x-api-key` and `anthropic-version` headers. The answer is always ANSWER_TEXT, sent in
CHUNK_COUNT pieces CHUNK_DELAY seconds apart. Words in the user's message choose a failure:

    [error]  an `error` event (overloaded_error) halfway through, then the stream ends
    [drop]   the connection is cut halfway through, without the final chunk of the body
    [slow]   SLOW_CHUNK_COUNT pieces SLOW_CHUNK_DELAY apart (long enough to kill a node mid-answer)

`GET /_stats` returns what it served (requests, and per stream its timing and pieces) so tests
can assert that no request was made, or bound the number of updates by the stream's duration;
`POST /_reset` clears it. Run it alone:

    python3 Tests/aistandin/server.py --port 8787 --key test-key
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional

ANSWER_TEXT = (
    "Ripple keeps the database as the streaming layer: every piece of this answer is written "
    "into one message, and every client subscribed to the conversation sees it grow, on any "
    "node of the cluster, until the final update marks it complete. "
)
CHUNK_COUNT = 40
CHUNK_DELAY = 0.04
SLOW_CHUNK_COUNT = 120
SLOW_CHUNK_DELAY = 0.1
SUMMARY_TEXT = "Stand-in summary: a quiet, productive day."
MODEL = "stand-in-model"


def split_text(text: str, pieces: int) -> List[str]:
    """`text` cut into `pieces` consecutive non-empty parts (fewer if the text is shorter)."""
    size = max(1, -(-len(text) // pieces))
    return [text[i:i + size] for i in range(0, len(text), size)]


class Stats:
    """What the stand-in served; shared by its handler threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = 0
        self.refused = 0
        self.streams: List[Dict[str, Any]] = []

    def snapshot(self) -> Dict[str, Any]:
        with self.lock:
            return {"requests": self.requests, "refused": self.refused, "streams": [dict(s) for s in self.streams]}

    def reset(self) -> None:
        with self.lock:
            self.requests = 0
            self.refused = 0
            self.streams = []


class StandInServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, key: str, host: str = "127.0.0.1") -> None:
        super().__init__((host, port), Handler)
        self.key = key
        self.stats = Stats()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "StandInServer":
        threading.Thread(target=self.serve_forever, name="ai-standin", daemon=True).start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: StandInServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass  # quiet: tests print what they need

    def do_GET(self) -> None:  # noqa: N802
        if self.path == "/_stats":
            return self.send_json(200, self.server.stats.snapshot())
        self.send_json(404, {"type": "error", "error": {"type": "not_found_error", "message": "no such endpoint"}})

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path == "/_reset":
            self.server.stats.reset()
            return self.send_json(200, {"ok": True})
        if self.path != "/v1/messages":
            return self.send_json(404, {"type": "error", "error": {"type": "not_found_error", "message": "no such endpoint"}})
        stats = self.server.stats
        with stats.lock:
            stats.requests += 1
        if self.headers.get("x-api-key") != self.server.key:
            with stats.lock:
                stats.refused += 1
            return self.send_json(401, {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}})
        if not self.headers.get("anthropic-version"):
            return self.send_json(400, {"type": "error", "error": {"type": "invalid_request_error", "message": "anthropic-version header is required"}})
        try:
            request = json.loads(body)
            prompt = request["messages"][-1]["content"]
            assert isinstance(request["max_tokens"], int) and request["model"]
        except (ValueError, KeyError, IndexError, TypeError, AssertionError):
            return self.send_json(400, {"type": "error", "error": {"type": "invalid_request_error", "message": "malformed request"}})
        if not request.get("stream"):
            return self.send_json(200, {
                "id": "msg_standin", "type": "message", "role": "assistant", "model": MODEL,
                "content": [{"type": "text", "text": SUMMARY_TEXT}], "stop_reason": "end_turn", "stop_sequence": None,
                "usage": {"input_tokens": 10, "output_tokens": 10},
            })
        self.stream(str(prompt))

    def stream(self, prompt: str) -> None:
        slow = "[slow]" in prompt
        pieces = split_text(ANSWER_TEXT * (3 if slow else 1), SLOW_CHUNK_COUNT if slow else CHUNK_COUNT)
        delay = SLOW_CHUNK_DELAY if slow else CHUNK_DELAY
        fail_at: Optional[int] = len(pieces) // 2 if ("[error]" in prompt or "[drop]" in prompt) else None
        record: Dict[str, Any] = {"prompt": prompt, "pieces": 0, "text": "", "started": time.time(), "firstDelta": None,
                                  "lastDelta": None, "ended": None, "outcome": "streaming"}
        with self.server.stats.lock:
            self.server.stats.streams.append(record)
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        try:
            self.event("message_start", {"type": "message_start", "message": {
                "id": "msg_standin", "type": "message", "role": "assistant", "model": MODEL, "content": [],
                "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 10, "output_tokens": 1}}})
            self.event("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
            self.event("ping", {"type": "ping"})
            for index, piece in enumerate(pieces):
                if index == fail_at:
                    if "[drop]" in prompt:
                        record["outcome"] = "dropped"
                        self.connection.shutdown(socket.SHUT_RDWR)
                        self.close_connection = True
                        return
                    record["outcome"] = "error"
                    self.event("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
                    self.end_chunks()
                    return
                # One event written in two pieces now and then, so the reader's parser must join them.
                self.event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                                   "delta": {"type": "text_delta", "text": piece}}, split=index % 7 == 3)
                now = time.time()
                record["firstDelta"] = record["firstDelta"] or now
                record["lastDelta"] = now
                record["pieces"] += 1
                record["text"] += piece
                time.sleep(delay)
            self.event("content_block_stop", {"type": "content_block_stop", "index": 0})
            self.event("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                                         "usage": {"output_tokens": len(pieces)}})
            self.event("message_stop", {"type": "message_stop"})
            self.end_chunks()
            record["outcome"] = "complete"
        except (BrokenPipeError, ConnectionResetError):
            record["outcome"] = "client went away"
            self.close_connection = True
        finally:
            record["ended"] = time.time()

    def event(self, name: str, data: Dict[str, Any], split: bool = False) -> None:
        text = f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()
        parts = [text[:len(text) // 2], text[len(text) // 2:]] if split else [text]
        for part in parts:
            self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            self.wfile.flush()

    def end_chunks(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def send_json(self, status: int, payload: Any) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--key", required=True, help="the x-api-key it accepts")
    args = parser.parse_args()
    server = StandInServer(args.port, args.key, args.host)
    print(f"AI stand-in listening on {server.url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
