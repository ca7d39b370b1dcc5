"""Loopback HTTP servers that speak the protocols of the remote services claimtrack talks to, for the tests.

`Loopback` is one threaded HTTP server on 127.0.0.1 that routes each request by method and path, records it,
and answers from a handler `(Request) -> Reply` or from a script: Replies (or handlers) served in turn, the
last one repeating ("503 then 200", "429 with Retry-After, then the service's own answer"). Routes registered
later win, so a test can script one path of a service, or every path (`"/{rest:path}"`), over the service.

Services mount a real protocol at its real paths, so one port can stand in for every host:

- `ArxivAPI`: arXiv's Atom API at /api/query, answered from `Entry`s that it filters by the query
  (search_query, id_list with bare or versioned ids, start, max_results, opensearch totals).
- `SemanticScholar`: the Graph API's citations at /graph/v1/paper/{id}/citations (offset, limit, next, fields).
- `OpenAlex`: a work by DOI at /works/doi:..., and the works citing a work at /works?filter=cites:W... (cursor).
- `OpenAIChat`: chat completions (with `usage`) at /v1/chat/completions and the model list at /v1/models.
- `ArxivFullText`: arXiv's HTML renderings at /html/<id>[vN] and PDFs at /pdf/<id>[vN] (404 when it has none).

`Literature` (the literature services) and `OpenAIServer` (the chat service) are the usual sets;
`env()` and `settings()` point claimtrack at whatever a server has mounted. A new route of a service (a
full-text page, a PDF, a lookup) is one entry in its `routes()`.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import threading
import time
import traceback
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

if TYPE_CHECKING:
    from claimtrack.config import Settings

RECORDED = Path(__file__).resolve().parent / "fixtures" / "api"


def recorded(*parts: str) -> bytes:
    """A response body recorded from the real API (tests/fixtures/api, sources in its SOURCES.md)."""
    return RECORDED.joinpath(*parts).read_bytes()


# --- the server -----------------------------------------------------------------------------------------------


@dataclass
class Reply:
    """One HTTP answer; `delay_s` stalls it first (a slow server, for a client's timeout); `drip_s` sends the
    body 1 KiB at a time with that pause between pieces (a server that trickles a large document)."""

    status: int = 200
    body: bytes | str = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    drip_s: float = 0.0


@functools.cache
def gzip_bomb(layers: int = 2, size: int = 1 << 30) -> bytes:
    """`size` zero bytes gzipped `layers` times: 1 GiB twice gzipped is 1,827 bytes, made once per process
    (about 2 s) rather than kept in the repository. Served with `Content-Encoding: gzip, gzip` it is the
    decompression bomb that a client honouring stacked codings inflates to 1 GiB."""
    packer, zeros = zlib.compressobj(9, zlib.DEFLATED, 31), bytes(1 << 20)
    body = b"".join(packer.compress(zeros) for _ in range(size >> 20)) + packer.flush()
    for _ in range(layers - 1):
        packer = zlib.compressobj(9, zlib.DEFLATED, 31)
        body = packer.compress(body) + packer.flush()
    return body


def bomb_reply(layers: int = 2, content_type: str = "text/html; charset=utf-8") -> Reply:
    """The bomb as an answer whose Content-Encoding names each layer."""
    return Reply(200, gzip_bomb(layers), content_type, headers={"Content-Encoding": ", ".join(["gzip"] * layers)})


def json_reply(data: object, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, json.dumps(data), headers=headers or {})


@dataclass(frozen=True)
class Request:
    """One request as the server received it; `params` holds the values of the route's {placeholders}."""

    method: str
    path: str  # percent-decoded, without the query
    query: dict[str, str]
    headers: dict[str, str]  # names in lower case
    body: bytes = b""
    params: dict[str, str] = field(default_factory=dict)
    received: float = field(default_factory=time.monotonic)  # when it arrived

    def json(self) -> Any:
        return json.loads(self.body or b"null")


Handler = Callable[[Request], Reply]
Route = Handler | list[Reply | Handler]
_PLACEHOLDER = re.compile(r"\{(\w+)(:path)?\}")


def _pattern(route: str) -> re.Pattern[str]:
    """'/paper/{paper}/citations' as a regex: {name} is one path segment, {name:path} the rest of the path."""
    parts, last = [], 0
    for found in _PLACEHOLDER.finditer(route):
        parts += [re.escape(route[last : found.start()]), f"(?P<{found[1]}>{'.+' if found[2] else '[^/]+'})"]
        last = found.end()
    return re.compile("".join([*parts, re.escape(route[last:])]))


class Service:
    """A remote API's protocol: the routes it answers and the settings that point claimtrack at it."""

    server: Loopback

    def routes(self) -> dict[tuple[str, str], Handler]:
        """(method, path pattern) -> handler."""
        raise NotImplementedError

    def settings(self, url: str) -> dict[str, Any]:
        """claimtrack Settings fields that aim at this service on a server at `url`."""
        return {}


S = TypeVar("S", bound=Service)
_ENV_NAMES = {"openai_base_url": "OPENAI_BASE_URL"}  # the one setting read from a standard variable


class Loopback:
    """A threaded HTTP server on 127.0.0.1, started by `with`. `requests` lists everything it was asked."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.errors: list[BaseException] = []  # handlers that raised: surfaced when the server stops
        self._routes: list[tuple[str, re.Pattern[str], Route]] = []
        self._services: list[Service] = []
        self._lock = threading.Lock()
        self._http = _Server(self)
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    def mount(self, service: S) -> S:
        service.server = self
        for (method, route), handler in service.routes().items():
            self.route(route, handler, method)
        self._services.append(service)
        return service

    def route(self, route: str, target: Route, method: str = "GET") -> None:
        """Answer `method route` with a handler, or with a script: replies (or handlers) in turn, the last one
        repeating; `[Reply(429), service.handler]` refuses once, then speaks the protocol."""
        with self._lock:
            self._routes.append((method, _pattern(route), target))

    def hits(self, path: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def env(self) -> dict[str, str]:
        """Environment variables that point claimtrack (a CLI call, a subprocess) at the mounted services."""
        return {_ENV_NAMES.get(k, f"CLAIMTRACK_{k.upper()}"): str(v) for k, v in self._settings().items()}

    def settings(self, **overrides: Any) -> Settings:
        """claimtrack Settings aimed at the mounted services."""
        from claimtrack.config import Settings

        return Settings(**{**self._settings(), **overrides})

    def _settings(self) -> dict[str, Any]:
        return {k: v for service in self._services for k, v in service.settings(self.url).items()}

    def answer(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            matched = self._match(request)
            if matched is None:
                return json_reply({"error": f"no route for {request.method} {request.path}"}, 404)
            target, params = matched
            if isinstance(target, list):
                target = target.pop(0) if len(target) > 1 else target[0]
            if isinstance(target, Reply):
                return target
        try:
            return target(replace(request, params=params))
        except Exception as exc:  # a test's handler failed (an assert): the test hears of it at exit
            self.errors.append(exc)
            return Reply(500, traceback.format_exc(), "text/plain")

    def _match(self, request: Request) -> tuple[Route, dict[str, str]] | None:
        wanted = "GET" if request.method == "HEAD" else request.method  # HEAD: a GET without the body
        for method, pattern, target in reversed(self._routes):  # the latest registration wins
            found = pattern.fullmatch(request.path)
            if found and method == wanted:
                return target, found.groupdict()
        return None

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._http.shutdown()
        self._http.server_close()
        if self.errors and exc is not None:
            exc.add_note(f"a loopback handler failed first: {self.errors[0]!r}")
        elif self.errors:
            raise self.errors[0]


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a stalled answer (a timeout test) must not hold up the shutdown

    def __init__(self, loopback: Loopback) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.loopback = loopback


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=unquote(parts.path),
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=self.rfile.read(int(self.headers.get("Content-Length") or 0)),
        )
        reply = self.server.loopback.answer(request)
        time.sleep(reply.delay_s)
        body = reply.body.encode() if isinstance(reply.body, str) else reply.body
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command == "HEAD":
                return
            if reply.drip_s <= 0:
                self.wfile.write(body)
            for start in range(0, len(body) if reply.drip_s > 0 else 0, 1024):
                self.wfile.write(body[start : start + 1024])
                self.wfile.flush()
                time.sleep(reply.drip_s)
        except (BrokenPipeError, ConnectionResetError):
            return  # the client gave up waiting (a timeout test): nobody is left to answer

    def log_message(self, format: str, *args: object) -> None:
        return  # keep the test output clean


# --- arXiv ----------------------------------------------------------------------------------------------------

ATOM = "http://www.w3.org/2005/Atom"
ARXIV = "http://arxiv.org/schemas/atom"
OPENSEARCH = "http://a9.com/-/spec/opensearch/1.1/"
ET.register_namespace("", ATOM)  # arXiv writes Atom as the default namespace
ET.register_namespace("arxiv", ARXIV)
ET.register_namespace("opensearch", OPENSEARCH)


@dataclass(frozen=True)
class Entry:
    """One arXiv paper (one version of it) as the API lists it. Several versions of a paper are several
    entries: an id_list asking for the bare id gets the newest, one asking for `IDvN` gets that version."""

    arxiv_id: str  # with its version, e.g. 2501.00001v1
    title: str
    abstract: str
    published: str  # of the first version: 2025-01-02 (taken as 10:00 UTC), or a timestamp 2025-01-02T15:04:05Z
    categories: tuple[str, ...] = ("cs.CL",)
    authors: tuple[str, ...] = ("A. Author",)
    doi: str | None = None
    comment: str | None = None  # the authors' comment (a withdrawn version says so here)
    updated: str | None = None  # when this version appeared; the first version's date when None

    @property
    def base_id(self) -> str:
        return re.sub(r"v\d+$", "", self.arxiv_id)

    @property
    def version(self) -> int:
        found = re.search(r"v(\d+)$", self.arxiv_id)
        return int(found[1]) if found else 1

    @property
    def stamp(self) -> str:
        return _stamp(self.published)

    @property
    def updated_stamp(self) -> str:
        return _stamp(self.updated or self.published)


def _stamp(day: str) -> str:
    return day if "T" in day else f"{day}T10:00:00Z"


def atom_feed(
    entries: Sequence[Entry], *, total: int | None = None, start: int = 0, per_page: int | None = None, query: str = ""
) -> bytes:
    """An arXiv API answer in the Atom shape export.arxiv.org sends. ElementTree writes it, so every text and
    attribute is escaped as XML requires (titles with `<`, `&` or quotes included)."""
    feed = ET.Element(f"{{{ATOM}}}feed")
    _element(feed, ATOM, "id", "https://arxiv.org/api/loopback")
    _element(feed, ATOM, "title", f"arXiv Query: {query}")
    _element(feed, ATOM, "updated", "2026-01-01T00:00:00Z")
    _element(feed, OPENSEARCH, "itemsPerPage", str(len(entries) if per_page is None else per_page))
    _element(feed, OPENSEARCH, "totalResults", str(len(entries) if total is None else total))
    _element(feed, OPENSEARCH, "startIndex", str(start))
    feed.extend(atom_entry(e) for e in entries)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def atom_entry(entry: Entry) -> ET.Element:
    """One <entry>, its elements in the order arXiv writes them."""
    node = ET.Element(f"{{{ATOM}}}entry")
    _element(node, ATOM, "id", f"http://arxiv.org/abs/{entry.arxiv_id}")
    _element(node, ATOM, "title", entry.title)
    _element(node, ATOM, "updated", entry.updated_stamp)
    _element(node, ATOM, "link", href=f"https://arxiv.org/abs/{entry.arxiv_id}", rel="alternate", type="text/html")
    pdf = f"https://arxiv.org/pdf/{entry.arxiv_id}"
    _element(node, ATOM, "link", href=pdf, rel="related", type="application/pdf", title="pdf")
    _element(node, ATOM, "summary", entry.abstract)
    if entry.comment:
        _element(node, ARXIV, "comment", entry.comment)
    for category in entry.categories:
        _element(node, ATOM, "category", term=category, scheme=ARXIV)
    _element(node, ATOM, "published", entry.stamp)
    _element(node, ARXIV, "primary_category", term=entry.categories[0])
    for name in entry.authors:
        _element(_element(node, ATOM, "author"), ATOM, "name", name)
    if entry.doi:
        _element(node, ARXIV, "doi", entry.doi)
        _element(node, ATOM, "link", rel="related", href=f"https://doi.org/{entry.doi}", title="doi")
    return node


def _element(parent: ET.Element, namespace: str, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    node = ET.SubElement(parent, f"{{{namespace}}}{tag}", attrs)
    node.text = text
    return node


_QUERY_TOKEN = re.compile(r'\(|\)|\w+:\[[^\]]*\]|\w+:"[^"]*"|[^\s()]+')


def matches(search_query: str, entry: Entry) -> bool:
    """Whether an entry answers an arXiv search_query: `field:term` with ti, abs, au, all (whole words, no
    stemming; a hyphenated or quoted term is a phrase), cat (wildcards allowed), id, and
    submittedDate:[YYYYMMDDHHMM TO YYYYMMDDHHMM]; joined by AND, OR, ANDNOT and parentheses, left to right.
    ValueError for a query arXiv would refuse."""
    tokens = _QUERY_TOKEN.findall(search_query)
    found = _expression(tokens, entry)
    if tokens:
        raise ValueError(f"unexpected {tokens[0]!r} in {search_query!r}")
    return found


def _expression(tokens: list[str], entry: Entry) -> bool:
    found = _operand(tokens, entry)
    while tokens and tokens[0] != ")":
        operator = tokens.pop(0)
        other = _operand(tokens, entry)
        if operator == "AND":
            found = found and other
        elif operator == "OR":
            found = found or other
        elif operator == "ANDNOT":
            found = found and not other
        else:
            raise ValueError(f"expected AND, OR or ANDNOT, got {operator!r}")
    return found


def _operand(tokens: list[str], entry: Entry) -> bool:
    if not tokens:
        raise ValueError("the query ends early")
    token = tokens.pop(0)
    if token != "(":
        return _term(token, entry)
    found = _expression(tokens, entry)
    if not tokens or tokens.pop(0) != ")":
        raise ValueError("unbalanced parentheses")
    return found


def _term(token: str, entry: Entry) -> bool:
    prefix, _, value = token.partition(":") if ":" in token else ("all", ":", token)
    value = value.strip('"')
    if prefix == "submittedDate":
        span = re.fullmatch(r"\[(\d{8,12}) TO (\d{8,12})\]", value)
        if span is None:
            raise ValueError(f"bad date range {value!r}")
        stamp = dt.datetime.fromisoformat(entry.stamp).strftime("%Y%m%d%H%M")
        low, high = span.groups()
        return stamp[: len(low)] >= low and stamp[: len(high)] <= high
    if prefix == "cat":
        return any(fnmatchcase(category, value) for category in entry.categories)
    if prefix == "id":
        return value in (entry.arxiv_id, entry.base_id)
    texts = {"ti": [entry.title], "abs": [entry.abstract], "au": list(entry.authors)}
    texts["all"] = [entry.title, entry.abstract, *entry.authors]
    if prefix not in texts:
        raise ValueError(f"unknown field {prefix!r}")
    phrase = _words(value)
    return bool(phrase) and any(_has_phrase(_words(text), phrase) for text in texts[prefix])


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def _has_phrase(words: list[str], phrase: list[str]) -> bool:
    return any(words[i : i + len(phrase)] == phrase for i in range(len(words) - len(phrase) + 1))


class ArxivAPI(Service):
    """arXiv's query API, answered from `entries` in their order (as relevance). The list is the server's own
    copy: a test that adds a paper changes only its own server."""

    PATH = "/api/query"

    def __init__(self, entries: Iterable[Entry] = ()) -> None:
        self.entries = list(entries)

    def routes(self) -> dict[tuple[str, str], Handler]:
        return {("GET", self.PATH): self.query}

    def settings(self, url: str) -> dict[str, Any]:
        return {"arxiv_url": url + self.PATH, "arxiv_delay_s": 0.0}

    def newest(self) -> list[Entry]:
        """The newest version of each paper, in list order: what a search ranges over."""
        latest: dict[str, Entry] = {}
        for entry in self.entries:
            if entry.base_id not in latest or entry.version > latest[entry.base_id].version:
                latest[entry.base_id] = entry
        return [e for e in self.entries if latest[e.base_id] is e]

    @property
    def searches(self) -> list[str]:
        """The search_query of every request, in order."""
        return [r.query.get("search_query", "") for r in self.server.hits(self.PATH)]

    def query(self, request: Request) -> Reply:
        search = request.query.get("search_query", "")
        ids = [i for i in request.query.get("id_list", "").split(",") if i]
        start, size = int(request.query.get("start") or 0), int(request.query.get("max_results") or 10)
        newest = self.newest()
        listed = [e for i in ids for e in self.entries if e.arxiv_id == i or (e.base_id == i and e in newest)]
        listed = listed if ids else newest
        try:
            found = [e for e in listed if not search or matches(search, e)]
        except ValueError as exc:
            return Reply(400, f"bad query: {exc}", "text/plain")
        echo = f"search_query={search}&id_list={','.join(ids)}&start={start}&max_results={size}"
        feed = atom_feed(found[start : start + size], total=len(found), start=start, per_page=size, query=echo)
        return Reply(200, feed, "application/atom+xml")


# --- Semantic Scholar and OpenAlex ----------------------------------------------------------------------------


class SemanticScholar(Service):
    """The Graph API's citations of a paper. `citations` maps a paper id as the URL names it
    ('arXiv:2305.11383') to its citation records in S2's shape ({"citingPaper": {...}} plus edge fields such as
    "contexts"); each answer keeps only the requested `fields`. An id not in the map is unknown (404)."""

    BASE = "/graph/v1"
    CITATIONS = BASE + "/paper/{paper}/citations"
    EDGE_FIELDS = frozenset({"contexts", "intents", "isInfluential", "contextsWithIntent"})

    def __init__(self, citations: Mapping[str, Sequence[Mapping[str, Any]]] | None = None) -> None:
        self.citations = {paper: [dict(c) for c in cited] for paper, cited in (citations or {}).items()}

    def routes(self) -> dict[tuple[str, str], Handler]:
        return {("GET", self.CITATIONS): self.cited_by}

    def settings(self, url: str) -> dict[str, Any]:
        return {"s2_url": url + self.BASE, "s2_delay_s": 0.0}

    def cited_by(self, request: Request) -> Reply:
        paper = request.params["paper"]
        if paper not in self.citations:
            return json_reply({"error": f"Paper with id {paper} not found"}, 404)
        offset, limit = int(request.query.get("offset") or 0), int(request.query.get("limit") or 100)
        wanted = set(filter(None, request.query.get("fields", "").split(","))) or {"title"}
        records = self.citations[paper]
        page: dict[str, Any] = {
            "offset": offset,
            "data": [_fields(r, wanted) for r in records[offset : offset + limit]],
        }
        if offset + limit < len(records):
            page["next"] = offset + limit
        return json_reply(page)


def _fields(record: Mapping[str, Any], wanted: set[str]) -> dict[str, Any]:
    edge = {k: v for k, v in record.items() if k in wanted and k in SemanticScholar.EDGE_FIELDS}
    paper = record.get("citingPaper") or {}
    return {**edge, "citingPaper": {k: v for k, v in paper.items() if k == "paperId" or k in wanted}}


class OpenAlex(Service):
    """Works by DOI and the works citing a work. `citations` maps an arXiv id to the OpenAlex work objects that
    cite it; that paper's own work id is `work_id(arxiv_id)`. An arXiv id not in the map is unknown (404)."""

    WORK = "/works/{work:path}"
    WORKS = "/works"

    def __init__(self, citations: Mapping[str, Sequence[Mapping[str, Any]]] | None = None) -> None:
        self.citations = {paper: [dict(w) for w in works] for paper, works in (citations or {}).items()}

    def routes(self) -> dict[tuple[str, str], Handler]:
        return {("GET", self.WORK): self.work, ("GET", self.WORKS): self.works}

    def settings(self, url: str) -> dict[str, Any]:
        return {"openalex_url": url, "openalex_delay_s": 0.0}

    @staticmethod
    def work_id(arxiv_id: str) -> str:
        return "W" + re.sub(r"\D", "", arxiv_id)

    def work(self, request: Request) -> Reply:
        doi = re.fullmatch(r"doi:10\.48550/arxiv\.(.+)", request.params["work"], re.IGNORECASE)
        if doi is None or doi[1] not in self.citations:
            return Reply(404, recorded("openalex", "work_by_doi_404.html"), "text/html; charset=utf-8")
        work = {"id": f"https://openalex.org/{self.work_id(doi[1])}", "doi": f"https://doi.org/10.48550/arxiv.{doi[1]}"}
        select = [s for s in request.query.get("select", "").split(",") if s]
        return json_reply({k: v for k, v in work.items() if not select or k in select})

    def works(self, request: Request) -> Reply:
        filters = dict(f.split(":", 1) for f in request.query.get("filter", "").split(",") if ":" in f)
        if set(filters) - {"cites"}:
            return json_reply({"error": "Invalid query parameters error.", "message": f"filter {filters}"}, 400)
        cited = filters.get("cites")
        works = [w for paper, citing in self.citations.items() if cited in (None, self.work_id(paper)) for w in citing]
        size, cursor = int(request.query.get("per-page") or 25), request.query.get("cursor")
        offset = int(cursor) if cursor and cursor != "*" else 0
        more = cursor is not None and offset + size < len(works)
        meta = {"count": len(works), "per_page": size, "next_cursor": str(offset + size) if more else None}
        return json_reply({"meta": meta, "results": works[offset : offset + size], "group_by": []})


# --- arXiv full texts -----------------------------------------------------------------------------------------


class ArxivFullText(Service):
    """arXiv's full texts: `html` and `pdf` map an id with its version ('2406.01234v2') to the document's bytes.
    A request without a version gets the latest version held; an id not held answers 404 with an HTML page, as
    arXiv does."""

    HTML = "/html/{paper:path}"
    PDF = "/pdf/{paper:path}"

    def __init__(self, html: Mapping[str, bytes] | None = None, pdf: Mapping[str, bytes] | None = None) -> None:
        self.html = dict(html or {})
        self.pdf = dict(pdf or {})

    def routes(self) -> dict[tuple[str, str], Handler]:
        return {("GET", self.HTML): self.html_page, ("GET", self.PDF): self.pdf_file}

    def settings(self, url: str) -> dict[str, Any]:
        return {"arxiv_html_url": url + "/html", "arxiv_pdf_url": url + "/pdf"}

    def html_page(self, request: Request) -> Reply:
        found = _version(self.html, request.params["paper"])
        if found is None:
            page = f"<html><body><h1>No HTML for '{request.params['paper']}'</h1></body></html>"
            return Reply(404, page, "text/html; charset=utf-8")
        return Reply(200, found, "text/html; charset=utf-8")

    def pdf_file(self, request: Request) -> Reply:
        found = _version(self.pdf, request.params["paper"])
        if found is None:
            page = f"<html><body><h1>Article identifier '{request.params['paper']}' not recognized</h1></body></html>"
            return Reply(404, page, "text/html; charset=utf-8")
        return Reply(200, found, "application/pdf")


def _version(documents: Mapping[str, bytes], name: str) -> bytes | None:
    if name in documents:
        return documents[name]
    if re.search(r"v\d+$", name):
        return None
    versions = sorted((int(k.rsplit("v", 1)[1]), k) for k in documents if re.fullmatch(re.escape(name) + r"v\d+", k))
    return documents[versions[-1][1]] if versions else None


# --- an OpenAI-compatible endpoint ----------------------------------------------------------------------------


@dataclass
class ChatReply:
    """What the scripted model answers one chat request: its text and token counts, or an HTTP error."""

    content: str = ""
    status: int = 200
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    tokens_in: int = 100
    tokens_out: int = 20
    finish_reason: str = "stop"  # "length": the server stopped at the request's max_tokens


class OpenAIChat(Service):
    """OpenAI's chat completions, for the real openai / langchain-openai clients. A request is answered from
    `queue` first, then by `responder(request body)` (which sees the `model` asked for); with neither, HTTP 500.
    `requests` holds the JSON body of every chat request, in order. Requests are answered concurrently; the
    script sees them one at a time, so a responder need not be thread-safe."""

    BASE = "/v1"
    COMPLETIONS = BASE + "/chat/completions"
    MODELS = BASE + "/models"

    def __init__(
        self, responder: Callable[[dict[str, Any]], ChatReply] | None = None, models: Sequence[str] = ("test-model",)
    ) -> None:
        self.queue: list[ChatReply] = []
        self.responder = responder
        self.models = tuple(models)
        self.requests: list[dict[str, Any]] = []
        self.latency_s = 0.0  # every answer takes this long (a hosted or local model's latency); they overlap
        self.busy_every = 0  # every n-th request is refused with 429 and `busy_headers` (0: none)
        self.busy_headers: dict[str, str] = {}
        self.refused: list[float] = []  # when each busy refusal was sent (time.monotonic)
        self.arrived: list[float] = []  # when each request arrived
        self.in_flight = self.most_in_flight = 0
        self._lock = threading.Lock()

    def routes(self) -> dict[tuple[str, str], Handler]:
        return {("POST", self.COMPLETIONS): self.complete, ("GET", self.MODELS): self.listing}

    def settings(self, url: str) -> dict[str, Any]:
        return {"openai_base_url": url + self.BASE, "llm_model": self.models[0]}

    def listing(self, request: Request) -> Reply:
        return json_reply(
            {"object": "list", "data": [{"id": m, "object": "model", "owned_by": "loopback"} for m in self.models]}
        )

    def complete(self, request: Request) -> Reply:
        with self._lock:
            self.arrived.append(time.monotonic())
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            time.sleep(self.latency_s)
            return self._complete(request)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _complete(self, request: Request) -> Reply:
        body = request.json()
        with self._lock:  # one request at a time through the script (its latency is slept after, concurrently)
            self.requests.append(body)
            number = len(self.requests)
            if self.busy_every and number % self.busy_every == 0:
                self.refused.append(time.monotonic())
                return _openai_error(ChatReply(status=429, headers=self.busy_headers), "rate limited")
            scripted = self.queue.pop(0) if self.queue else None
            if scripted is not None:
                reply = scripted
            elif self.responder is not None:
                reply = self.responder(body)
            else:
                return _openai_error(ChatReply(status=500), "script exhausted")
        if reply.status != 200:
            return _openai_error(reply, f"scripted {reply.status}")
        completion = {
            "id": f"chatcmpl-{number}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", self.models[0]),
            "choices": [
                {
                    "index": 0,
                    "finish_reason": reply.finish_reason,
                    "message": {"role": "assistant", "content": reply.content},
                }
            ],
            "usage": {
                "prompt_tokens": reply.tokens_in,
                "completion_tokens": reply.tokens_out,
                "total_tokens": reply.tokens_in + reply.tokens_out,
            },
        }
        return Reply(200, json.dumps(completion), headers=reply.headers, delay_s=reply.delay_s)


def _openai_error(reply: ChatReply, message: str) -> Reply:
    error = {"error": {"message": message, "type": "loopback", "code": None}}
    return Reply(reply.status, json.dumps(error), headers=reply.headers, delay_s=reply.delay_s)


def user_text(request: Mapping[str, Any]) -> str:
    """The user message of a chat request's body."""
    return next(m["content"] for m in request["messages"] if m["role"] == "user")


# --- the usual sets -------------------------------------------------------------------------------------------


class Literature(Loopback):
    """arXiv (its API and its full texts), Semantic Scholar and OpenAlex on one port, each at its real paths."""

    def __init__(
        self,
        entries: Iterable[Entry] = (),
        *,
        s2: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
        openalex: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
        html: Mapping[str, bytes] | None = None,
        pdf: Mapping[str, bytes] | None = None,
    ) -> None:
        super().__init__()
        self.arxiv = self.mount(ArxivAPI(entries))
        self.s2 = self.mount(SemanticScholar(s2))
        self.openalex = self.mount(OpenAlex(openalex))
        self.fulltext = self.mount(ArxivFullText(html, pdf))


class OpenAIServer(Loopback):
    """An OpenAI-compatible endpoint on its own port."""

    def __init__(
        self, responder: Callable[[dict[str, Any]], ChatReply] | None = None, models: Sequence[str] = ("test-model",)
    ) -> None:
        super().__init__()
        self.chat = self.mount(OpenAIChat(responder, models))
