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


def judgement(
    stance: str, quote: str, confidence: float = 0.9, scope_note: str | None = None, rationale: str = "scripted"
) -> Scripted:
    body = {
        "stance": stance,
        "quote": quote,
        "scope_note": scope_note,
        "confidence": confidence,
        "rationale": rationale,
    }
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

            def do_GET(self) -> None:
                with outer._lock:
                    outer.headers_seen.append({k.lower(): v for k, v in self.headers.items()})
                if self.path.rstrip("/").endswith("/models"):
                    data = {
                        "object": "list",
                        "data": [{"id": m, "object": "model", "owned_by": "test"} for m in outer.model_names],
                    }
                    self._send(200, json.dumps(data).encode(), {})
                else:
                    self._send(404, b'{"error": {"message": "not found"}}', {})

            def do_POST(self) -> None:
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
                    "id": f"chatcmpl-{len(outer.requests)}",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": body.get("model", "test-model"),
                    "choices": [
                        {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": item.content}}
                    ],
                    "usage": {
                        "prompt_tokens": item.tokens_in,
                        "completion_tokens": item.tokens_out,
                        "total_tokens": item.tokens_in + item.tokens_out,
                    },
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


@dataclass
class Entry:
    """One arXiv paper the loopback literature server returns."""

    arxiv_id: str  # with version, e.g. 2501.00001v1
    title: str
    abstract: str
    published: str  # 2025-01-02
    categories: tuple[str, ...] = ("cs.CL",)
    authors: tuple[str, ...] = ("A. Author",)


def atom_feed(entries: list[Entry], start: int = 0, total: int | None = None) -> str:
    """An arXiv API Atom response, in the shape export.arxiv.org sends."""
    from xml.sax.saxutils import escape

    items = []
    for e in entries:
        cats = "".join(f'<category term="{c}" scheme="http://arxiv.org/schemas/atom"/>' for c in e.categories)
        authors = "".join(f"<author><name>{escape(a)}</name></author>" for a in e.authors)
        items.append(
            f"<entry><id>http://arxiv.org/abs/{e.arxiv_id}</id><updated>{e.published}T10:00:00Z</updated>"
            f"<published>{e.published}T10:00:00Z</published><title>{escape(e.title)}</title>"
            f"<summary>{escape(e.abstract)}</summary>{authors}"
            f'<link href="https://arxiv.org/abs/{e.arxiv_id}" rel="alternate" type="text/html"/>'
            f'<link title="pdf" href="https://arxiv.org/pdf/{e.arxiv_id}" rel="related" type="application/pdf"/>'
            f'<arxiv:primary_category term="{e.categories[0]}" scheme="http://arxiv.org/schemas/atom"/>{cats}</entry>'
        )
    count = len(entries) if total is None else total
    return (
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        '<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" xmlns:arxiv="http://arxiv.org/schemas/atom"'
        ' xmlns="http://www.w3.org/2005/Atom">'
        "<id>https://arxiv.org/api/test</id><title>arXiv Query</title><updated>2026-01-01T00:00:00Z</updated>"
        f"<opensearch:itemsPerPage>{len(entries)}</opensearch:itemsPerPage>"
        f"<opensearch:totalResults>{count}</opensearch:totalResults>"
        f"<opensearch:startIndex>{start}</opensearch:startIndex>" + "".join(items) + "</feed>"
    )


class FakeLiterature:
    """arXiv (Atom), Semantic Scholar and OpenAlex (JSON) on one loopback port. Every arXiv query gets
    the same entries on its first page (the ranking, not the server, decides what bears on a claim);
    citation endpoints answer with no citing papers. `fail_with` makes every answer that HTTP status."""

    def __init__(self, entries: list[Entry]):
        self.entries = list(entries)  # tests may add papers; the module-level list stays as it is
        self.paths: list[str] = []
        self.fail_with: int | None = None
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return

            def do_GET(self) -> None:
                from urllib.parse import parse_qs, urlparse

                outer.paths.append(self.path)
                url = urlparse(self.path)
                if outer.fail_with:
                    self._send(outer.fail_with, "text/plain", b"unavailable")
                elif url.path.startswith("/arxiv"):
                    start = int(parse_qs(url.query).get("start", ["0"])[0])
                    page = outer.entries if start == 0 else []
                    body = atom_feed(page, start, total=len(outer.entries))
                    self._send(200, "application/atom+xml", body.encode())
                elif url.path.startswith("/s2"):
                    self._send(200, "application/json", json.dumps({"offset": 0, "data": []}).encode())
                elif url.path.startswith("/openalex/works/"):  # resolving an anchor to its work id
                    self._send(200, "application/json", json.dumps({"id": "https://openalex.org/W1"}).encode())
                elif url.path.startswith("/openalex"):
                    body = {"meta": {"count": 0, "page": 1, "per_page": 25, "next_cursor": None}, "results": []}
                    self._send(200, "application/json", json.dumps(body).encode())
                else:
                    self._send(404, "text/plain", b"not found")

            def _send(self, status: int, kind: str, payload: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def env(self) -> dict[str, str]:
        return {
            "CLAIMTRACK_ARXIV_URL": f"{self.root}/arxiv/api/query",
            "CLAIMTRACK_S2_URL": f"{self.root}/s2/graph/v1",
            "CLAIMTRACK_OPENALEX_URL": f"{self.root}/openalex",
            "CLAIMTRACK_ARXIV_DELAY_S": "0",
        }

    def __enter__(self) -> FakeLiterature:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
