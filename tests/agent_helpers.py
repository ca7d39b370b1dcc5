"""A loopback OpenAI-compatible chat server with scripted replies, for the agent's tests.

It speaks the real wire protocol (POST /v1/chat/completions -> a chat.completion object with `usage`),
so the real openai and langchain-openai clients are exercised end to end. Replies come from a script:
a queue of `Scripted` items, or else a `responder(request_json) -> Scripted` function.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Scripted:
    content: str = ""
    status: int = 200
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    tokens_in: int = 100
    tokens_out: int = 20


def judgement(stance: str, quote: str, confidence: float = 0.9, scope_note: str | None = None,
              rationale: str = "scripted") -> Scripted:
    body = {"stance": stance, "quote": quote, "scope_note": scope_note, "confidence": confidence,
            "rationale": rationale}
    return Scripted(content=json.dumps(body))


class FakeOpenAI:
    """Start with `with FakeOpenAI() as server:`; `server.base_url` goes into OPENAI_BASE_URL."""

    def __init__(self, responder: Callable[[dict[str, Any]], Scripted] | None = None, model_names=("test-model",)):
        self.queue: list[Scripted] = []
        self.responder = responder
        self.requests: list[dict[str, Any]] = []
        self.headers_seen: list[dict[str, str]] = []
        self.model_names = model_names
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep pytest output clean
                return

            def do_GET(self) -> None:  # noqa: N802
                with outer._lock:
                    outer.headers_seen.append({k.lower(): v for k, v in self.headers.items()})
                if self.path.rstrip("/").endswith("/models"):
                    data = {"object": "list", "data": [{"id": m, "object": "model", "owned_by": "test"}
                                                       for m in outer.model_names]}
                    self._send(200, json.dumps(data).encode(), {})
                else:
                    self._send(404, b'{"error": {"message": "not found"}}', {})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                with outer._lock:
                    outer.requests.append(body)
                    outer.headers_seen.append({k.lower(): v for k, v in self.headers.items()})
                    item = outer.queue.pop(0) if outer.queue else None
                if item is None:
                    if outer.responder is None:
                        self._send(500, b'{"error": {"message": "script exhausted"}}', {})
                        return
                    item = outer.responder(body)
                if item.delay_s:
                    time.sleep(item.delay_s)
                if item.status != 200:
                    err = {"error": {"message": f"scripted {item.status}", "type": "test", "code": None}}
                    self._send(item.status, json.dumps(err).encode(), item.headers)
                    return
                reply = {
                    "id": f"chatcmpl-{len(outer.requests)}", "object": "chat.completion",
                    "created": int(time.time()), "model": body.get("model", "test-model"),
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": item.content}}],
                    "usage": {"prompt_tokens": item.tokens_in, "completion_tokens": item.tokens_out,
                              "total_tokens": item.tokens_in + item.tokens_out},
                }
                self._send(200, json.dumps(reply).encode(), item.headers)

            def _send(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    return  # the client gave up (a timeout test); nothing to answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if "messages" in r]

    def __enter__(self) -> FakeOpenAI:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def user_text(request: dict[str, Any]) -> str:
    """The user message of a recorded chat request."""
    return next(m["content"] for m in request["messages"] if m["role"] == "user")
