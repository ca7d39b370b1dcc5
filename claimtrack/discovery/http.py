"""One polite HTTP helper for every source: retries with exponential back-off, 429 Retry-After, a ledger cache.

Cache policy: a successful (200) answer is kept in the ledger for `ttl_s` (default one day), keyed by the
URL with its sorted query parameters (never by headers, so an API key is not part of any stored row).
Why a TTL and not "cache forever": search results and citation lists grow, so a stale answer would hide
new papers. One day suits claims reviewed every few months: a re-run the same day (after a judge failure,
say) asks the network nothing, while the arXiv query windows start at a claim's last check, so a later run
asks only for the weeks that are new (see arxiv_source.py).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from claimtrack.discovery.body import ACCEPT_ENCODING, Refused, Undecodable, coding_of, read_body
from claimtrack.errors import SourceError
from claimtrack.ledger import Ledger

if TYPE_CHECKING:
    import httpx

    from claimtrack.config import Settings

log = logging.getLogger(__name__)


USER_AGENT = "claimtrack/0.1 (literature tracker; https://github.com/claimtrack)"
_RETRY_STATUS = {500, 502, 503, 504}
# Hosts that could not be reached in this process (a name that does not resolve, a refused connection, or
# connection faults past the retries): later calls, and those already queued for the host's pace, fail fast
# instead of each waiting out its turn and back-off. Expires so a long-lived process recovers when the network
# returns.
_DOWN_HOSTS: dict[str, tuple[float, str]] = {}
DOWN_FOR_S = 300.0
LONG_WAIT_S = 5.0  # a wait before a retry this long or longer is logged as a warning, not as info


class Pace:
    """One source's pace for the whole process, whatever thread or claim asks: request starts at least
    `interval_s` apart, and at most `connections` requests open at once (0: no limit). A run's claims fetch
    concurrently, so a per-fetcher spacing would multiply a source's rate by the claims in flight."""

    def __init__(self, interval_s: float = 0.0, connections: int = 0):
        self.interval_s = interval_s
        self.connections = connections
        self._lock = threading.Lock()
        self._free = threading.Condition(self._lock)  # a connection was given back
        self._woken = threading.Condition(self._lock)  # something a waiting request checks has changed
        self._in_use = 0
        self._next_start = 0.0

    @contextlib.contextmanager
    def turn(self, source: str, go_ahead: Callable[[], None]) -> Iterator[None]:
        """Wait for a connection and for this request's start time, then hold the connection while it runs.

        `go_ahead` raises to give the turn up; it is asked before the wait and whenever `wake` is called during
        it, so that the requests queued for a host that has just gone down fail at once instead of each
        waiting out its spacing first."""
        with self._lock:
            try:
                go_ahead()
                while self.connections and self._in_use >= self.connections:
                    self._free.wait()
                    go_ahead()
            except BaseException:
                self._free.notify()  # the connection this request was woken for goes to the next one
                raise
            self._in_use += 1
            try:
                start = max(time.monotonic(), self._next_start)
                self._next_start = start + self.interval_s
                if (wait := start - time.monotonic()) > 0:
                    log.debug("%s: waiting %.1f s for its turn (the source asks for spacing)", source, wait)
                while (left := start - time.monotonic()) > 0:
                    self._woken.wait(left)
                    go_ahead()
            except BaseException:
                self._give_back()
                raise
        try:
            yield
        finally:
            with self._lock:
                self._give_back()

    def wake(self) -> None:
        """Have every waiting request ask its `go_ahead` again."""
        with self._lock:
            self._free.notify_all()
            self._woken.notify_all()

    def _give_back(self) -> None:
        self._in_use -= 1
        self._free.notify()


_PACES: dict[str, Pace] = {}
_PACES_LOCK = threading.Lock()


def pace(source: str, interval_s: float, connections: int = 0) -> Pace:
    """The process-wide pace of `source`, set to the given limits (the latest settings win)."""
    with _PACES_LOCK:
        found = _PACES.setdefault(source, Pace())
        found.interval_s, found.connections = interval_s, connections
        return found


def _mark_down(host: str, problem: str) -> None:
    """Remember that `host` cannot be reached, and wake the requests waiting for a turn so those bound for it
    give up now."""
    _DOWN_HOSTS[host] = (time.monotonic(), problem)
    with _PACES_LOCK:
        paces = list(_PACES.values())
    for each in paces:
        each.wake()


class Unreachable(SourceError):
    """The source's host cannot be reached (DNS, refused, no network): asking it again this run is pointless."""


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    content_type: str = ""
    from_cache: bool = False
    truncated: str = ""  # why the body stops early (the Fetcher's max_bytes or max_time_s); "" when whole

    def json(self) -> object:
        return json.loads(self.body)


def cache_key(url: str, params: Mapping[str, object] | None = None) -> str:
    full = full_url(url, params)
    return hashlib.sha256(full.encode()).hexdigest()


def full_url(url: str, params: Mapping[str, object] | None = None) -> str:
    if not params:
        return url
    query = urlencode(sorted((k, str(v)) for k, v in params.items()))
    return f"{url}{'&' if '?' in url else '?'}{query}"


@dataclass
class Fetcher:
    """GETs for one source (named in every error), with spacing, retries and the ledger cache.

    `validate(body)` returns an error text for a 200 answer that is unusable (a malformed feed): it is
    reported, not cached. `min_interval_s` spaces calls to the same source (arXiv asks for 3 s) and
    `connections` bounds how many are open at once, across every fetcher of the source in the process (Pace).
    Every body is bounded by `max_bytes` decoded bytes (body.py: memory stays bounded whatever the server
    sends). An API answer past it is refused (a cut feed or JSON cannot be read); with `cut_ok` (a full text)
    it comes back cut, saying so in `Response.truncated`, as it does past `max_time_s`. A cut answer is never
    cached. A body in stacked or unknown content codings is refused, not retried.
    """

    source: str
    ledger: Ledger | None = None
    timeout_s: float = 30.0
    retries: int = 3
    backoff_s: float = 1.0
    max_wait_s: float = 60.0
    ttl_s: float = 86400.0
    min_interval_s: float = 0.0
    connections: int = 0
    max_bytes: int = 20_000_000
    max_time_s: float | None = None
    cut_ok: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    sleep: Callable[[float], None] = time.sleep
    network_calls: int = 0
    cache_hits: int = 0
    _client: httpx.Client | None = None
    _client_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def for_source(cls, source: str, settings: Settings, *, ledger: Ledger | None = None, **extra: Any) -> Fetcher:
        """A fetcher with the user's timeout, retry, back-off and cache settings; `extra` sets the rest
        (headers, spacing, size limits)."""
        return cls(
            source,
            ledger=ledger,
            timeout_s=settings.http_timeout_s,
            retries=settings.http_retries,
            backoff_s=settings.http_backoff_s,
            max_wait_s=settings.http_max_wait_s,
            ttl_s=settings.http_cache_ttl_s,
            **{"max_bytes": settings.http_max_bytes, **extra},
        )

    def get(
        self,
        url: str,
        params: Mapping[str, object] | None = None,
        *,
        validate: Callable[[bytes], str | None] | None = None,
    ) -> Response:
        """The answer for url+params: from the cache when fresh, else from the network.

        4xx answers (other than 429) are returned for the caller to interpret (404: not known there).
        Raises SourceError when the source stays unreachable or keeps failing after the retries.
        """
        target = full_url(url, params)
        key = hashlib.sha256(target.encode()).hexdigest()
        cached = self._cached(key)
        if cached is not None:
            self.cache_hits += 1
            log.debug("%s: %s from the cache", self.source, target)
            return cached
        response = self._fetch(target)
        if response.truncated and not self.cut_ok:
            raise SourceError(self.source, f"answer refused: {response.truncated} ({_short(target)})")
        if response.status == 200:
            problem = validate(response.body) if validate else None
            if problem:
                raise SourceError(self.source, f"{problem} ({_short(target)})")
            if not response.truncated:
                self._store(key, target, response)
        return response

    def _cached(self, key: str) -> Response | None:
        if self.ledger is None or self.ttl_s <= 0:
            return None
        row = self.ledger.conn.execute(
            "SELECT status, body, content_type, fetched_at FROM http_cache WHERE key = ?", (key,)
        ).fetchone()
        if row is None:
            return None
        age = (dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(row["fetched_at"])).total_seconds()
        if age > self.ttl_s:
            return None
        return Response(row["status"], bytes(row["body"]), row["content_type"], from_cache=True)

    def _store(self, key: str, target: str, response: Response) -> None:
        if self.ledger is None or self.ttl_s <= 0:
            return
        with self.ledger.transaction() as conn:
            conn.execute(
                "INSERT INTO http_cache (key, url, status, body, content_type, fetched_at) VALUES (?,?,?,?,?,?)"
                " ON CONFLICT(key) DO UPDATE SET status=excluded.status, body=excluded.body,"
                " content_type=excluded.content_type, fetched_at=excluded.fetched_at",
                (
                    key,
                    target,
                    response.status,
                    response.body,
                    response.content_type,
                    dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                ),
            )

    def _http(self) -> httpx.Client:
        import httpx

        with self._client_lock:  # one client, however many threads read through this fetcher
            if self._client is None:
                headers = {"user-agent": USER_AGENT, "accept-encoding": ACCEPT_ENCODING, **self.headers}
                self._client = httpx.Client(timeout=self.timeout_s, follow_redirects=True, headers=headers)
            return self._client

    def _fetch(self, target: str) -> Response:
        import httpx

        host = urlsplit(target).netloc
        problem, wait, asked = "", 0.0, 0.0
        for attempt in range(self.retries + 1):
            if attempt:
                # A long wait is a warning, so that a server asking for minutes is never silent.
                level = logging.WARNING if max(wait, asked) >= LONG_WAIT_S else logging.INFO
                note = f", the server asks for {asked:g} s" if asked else ""
                log.log(
                    level,
                    "%s: %s%s; retrying in %g s (try %d of %d)",
                    self.source,
                    problem,
                    note,
                    round(wait, 2),
                    attempt + 1,
                    self.retries + 1,
                )
                self.sleep(wait)
            self._refuse_if_down(host)  # another request may have found it down meanwhile
            asked = 0.0
            log.debug("%s: GET %s", self.source, target)  # in full: keys travel in headers, never in URLs
            try:
                with self._turn(host):
                    self.network_calls += 1
                    started = time.monotonic()
                    try:
                        reply, body, cut = self._request(target)
                    except httpx.ConnectError as exc:
                        # The name does not resolve, nothing listens, no route: unlike a 503 or a timeout, not a
                        # fault that passes within a back-off, and retried it cost every request queued for the
                        # host its turn and back-off in vain (a run without network took minutes). Marked down
                        # before the turn is given back, so no request behind this one tries the host again.
                        problem = f"connection failed: {exc}"
                        _mark_down(host, problem)
                        raise Unreachable(self.source, f"{problem} ({_short(target)})") from None
            except httpx.TimeoutException as exc:
                problem, wait = f"timed out after {self.timeout_s:g} s ({type(exc).__name__})", self._backoff(attempt)
                continue
            except httpx.TransportError as exc:
                problem, wait = f"connection failed: {exc}", self._backoff(attempt)
                continue
            except Undecodable as exc:  # a body that its Content-Encoding does not describe
                problem, wait = f"undecodable answer ({exc})", self._backoff(attempt)
                continue
            except Refused as exc:  # the server's choice, not a passing fault: asking again gets the same
                raise SourceError(self.source, f"{exc} ({_short(target)})") from None
            except MemoryError:  # within the limit, yet more than this process can hold (a tight address limit)
                raise SourceError(self.source, f"answer too large for the memory left ({_short(target)})") from None
            log.info("%s: GET %s -> %d in %.2f s", self.source, _short(target), reply.status_code, _since(started))
            if reply.status_code == 429:
                problem = "HTTP 429 (rate limited)"
                asked = round(_retry_after(reply.headers.get("retry-after")) or 0.0, 2)
                wait = min(asked or self._backoff(attempt), self.max_wait_s)
                continue
            if reply.status_code in _RETRY_STATUS:
                problem, wait = f"HTTP {reply.status_code}", self._backoff(attempt)
                continue
            _DOWN_HOSTS.pop(host, None)
            if cut:
                log.warning("%s: %s %s", self.source, _short(target), cut)
            return Response(reply.status_code, body, reply.headers.get("content-type", ""), truncated=cut)
        if problem.startswith("connection failed"):
            _mark_down(host, problem)
            raise Unreachable(self.source, f"{problem} after {self.retries + 1} tries ({_short(target)})")
        raise SourceError(self.source, f"{problem} after {self.retries + 1} tries ({_short(target)})")

    def _request(self, target: str) -> tuple[httpx.Response, bytes, str]:
        """One GET: the reply, its decoded body, and why the body was cut short ("" when it came whole)."""
        with self._http().stream("GET", target) as reply:
            coding = coding_of(reply.headers.get("content-encoding", ""))
            body, cut = read_body(reply.iter_raw(), coding, max_bytes=self.max_bytes, max_time_s=self.max_time_s)
        return reply, body, cut

    def _turn(self, host: str) -> contextlib.AbstractContextManager[None]:
        """The source's pace when it has one (spacing, connections), shared by the whole process; the wait ends
        early, with Unreachable, when `host` is found down meanwhile."""
        if self.min_interval_s <= 0 and self.connections <= 0:
            return contextlib.nullcontext()
        paced = pace(self.source, self.min_interval_s, self.connections)
        return paced.turn(self.source, lambda: self._refuse_if_down(host))

    def _refuse_if_down(self, host: str) -> None:
        down = _DOWN_HOSTS.get(host)
        if down and time.monotonic() - down[0] < DOWN_FOR_S:
            raise Unreachable(self.source, f"{host} unreachable earlier in this run ({down[1]}); not retried")

    def _backoff(self, attempt: int) -> float:
        return min(self.backoff_s * (2**attempt), self.max_wait_s)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def _since(started: float) -> float:
    return time.monotonic() - started


def _short(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.netloc}{parts.path}"


def forget_down_hosts() -> None:
    """Clear the fail-fast memory (a new run, or tests that bring a server back)."""
    _DOWN_HOSTS.clear()
