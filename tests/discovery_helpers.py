"""Loopback HTTP servers that speak the arXiv Atom / Semantic Scholar / OpenAlex protocols for tests.

A route maps a URL path to a handler `(query: dict[str, str], headers) -> Reply`, or to a list of Replies
served in turn (the last one repeats), which scripts "503 then success" or "429 then success".
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

API = Path(__file__).resolve().parent / "fixtures" / "api"


@dataclass
class Reply:
    status: int = 200
    body: bytes | str = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Seen:
    path: str
    query: dict[str, str]
    headers: dict[str, str]


Handler = Callable[[dict[str, str], dict[str, str]], Reply]


class FakeApi:
    """A threaded HTTP server on 127.0.0.1 with scripted routes; `requests` lists what it was asked."""

    def __init__(self) -> None:
        self.routes: dict[str, Handler | list[Reply]] = {}
        self.requests: list[Seen] = []
        api = self

        class _Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = dict(parse_qsl(parts.query, keep_blank_values=True))
                headers = {k.lower(): v for k, v in self.headers.items()}
                api.requests.append(Seen(parts.path, query, headers))
                reply = api._reply(parts.path, query, headers)
                body = reply.body.encode() if isinstance(reply.body, str) else reply.body
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def _reply(self, path: str, query: dict[str, str], headers: dict[str, str]) -> Reply:
        route = self.routes.get(path)
        if route is None:
            return Reply(404, '{"error": "no such route"}')
        if isinstance(route, list):
            return route.pop(0) if len(route) > 1 else route[0]
        return route(query, headers)

    def hits(self, path: str) -> list[Seen]:
        return [r for r in self.requests if r.path == path]

    def __enter__(self) -> FakeApi:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def atom_entry(
    arxiv_id: str,
    title: str,
    summary: str,
    published: str,
    categories: tuple[str, ...] = ("cs.CL",),
    authors: tuple[str, ...] = ("A. Author",),
    doi: str | None = None,
) -> str:
    """One <entry> in arXiv's Atom format (as export.arxiv.org serves it)."""
    cats = "".join(f'<category term="{c}" scheme="http://arxiv.org/schemas/atom"/>' for c in categories)
    names = "".join(f"<author><name>{a}</name></author>" for a in authors)
    doi_xml = f"<arxiv:doi>{doi}</arxiv:doi>" if doi else ""
    return (
        f"<entry><id>http://arxiv.org/abs/{arxiv_id}</id><title>{title}</title>"
        f"<updated>{published}T12:00:00Z</updated>"
        f'<link href="https://arxiv.org/abs/{arxiv_id}" rel="alternate" type="text/html"/>'
        f'<link href="https://arxiv.org/pdf/{arxiv_id}" rel="related" type="application/pdf" title="pdf"/>'
        f"<summary>{summary}</summary>{cats}<published>{published}T12:00:00Z</published>"
        f'<arxiv:primary_category term="{categories[0]}"/>{names}{doi_xml}</entry>'
    )


def atom_feed(entries: list[str], total: int | None = None, start: int = 0) -> str:
    total = len(entries) if total is None else total
    return (
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        '<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" '
        'xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns="http://www.w3.org/2005/Atom">'
        "<id>https://arxiv.org/api/test</id><title>arXiv Query</title><updated>2026-04-12T22:09:27Z</updated>"
        f"<opensearch:itemsPerPage>{len(entries)}</opensearch:itemsPerPage>"
        f"<opensearch:totalResults>{total}</opensearch:totalResults>"
        f"<opensearch:startIndex>{start}</opensearch:startIndex>" + "".join(entries) + "</feed>"
    )


def fixture(*parts: str) -> bytes:
    return API.joinpath(*parts).read_bytes()
