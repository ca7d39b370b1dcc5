"""The polite HTTP helper: back-off on 5xx, Retry-After on 429, the ledger cache, failing fast when down."""

from __future__ import annotations

import functools
import gzip
import logging
import resource
import socket
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from loopback import Loopback, Reply, bomb_reply, json_reply

from claimtrack.discovery.http import Fetcher, Unreachable, forget_down_hosts
from claimtrack.errors import SourceError
from claimtrack.ledger import Ledger


@pytest.fixture(autouse=True)
def _fresh_hosts() -> None:
    forget_down_hosts()


def _fetcher(
    ledger: Ledger | None = None, *, retries: int = 3, ttl_s: float = 86400.0, headers: dict[str, str] | None = None
) -> tuple[Fetcher, list[float]]:
    """A Fetcher that records its back-off waits instead of sleeping them."""
    waits: list[float] = []
    fetcher = Fetcher(
        "test", ledger=ledger, retries=retries, backoff_s=0.5, ttl_s=ttl_s, headers=headers or {}, sleep=waits.append
    )
    return fetcher, waits


def test_503_is_retried_with_exponential_backoff(tmp_path: Path) -> None:
    with Loopback() as api:
        api.route("/x", [Reply(503), Reply(503), Reply(200, '{"ok": 1}')])
        fetcher, waits = _fetcher()
        answer = fetcher.get(api.url + "/x")
    assert answer.json() == {"ok": 1}
    assert waits == [0.5, 1.0]
    assert len(api.hits("/x")) == 3


def test_429_waits_as_long_as_retry_after_says() -> None:
    with Loopback() as api:
        api.route("/x", [Reply(429, headers={"Retry-After": "7"}), Reply(200, "{}")])
        fetcher, waits = _fetcher()
        assert fetcher.get(api.url + "/x").status == 200
    assert waits == [7.0]


def test_persistent_5xx_becomes_a_source_error_naming_the_source() -> None:
    with Loopback() as api:
        api.route("/x", [Reply(502)])
        fetcher, waits = _fetcher(retries=2)
        with pytest.raises(SourceError, match=r"test: HTTP 502 after 3 tries"):
            fetcher.get(api.url + "/x")
    assert len(waits) == 2


def test_second_call_is_served_from_the_ledger_and_the_key_is_not_stored(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite")
    with Loopback() as api:
        api.route("/x", lambda _: Reply(200, '{"n": 1}'))
        fetcher, _ = _fetcher(ledger, headers={"x-api-key": "SECRET-KEY"})
        first = fetcher.get(api.url + "/x", {"b": 2, "a": 1})
        second = fetcher.get(api.url + "/x", {"a": 1, "b": 2})  # same parameters, other order
    assert len(api.hits("/x")) == 1
    assert api.hits("/x")[0].headers["x-api-key"] == "SECRET-KEY"
    assert (first.from_cache, second.from_cache) == (False, True)
    assert fetcher.network_calls == 1 and fetcher.cache_hits == 1
    dump = "\n".join(ledger.conn.iterdump())
    assert "SECRET-KEY" not in dump


def test_expired_cache_entries_are_fetched_again(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite")
    with Loopback() as api:
        api.route("/x", lambda _: Reply(200, "{}"))
        fetcher, _ = _fetcher(ledger, ttl_s=3600)
        fetcher.get(api.url + "/x")
        ledger.conn.execute("UPDATE http_cache SET fetched_at = '2000-01-01T00:00:00+00:00'")
        fetcher.get(api.url + "/x")
    assert len(api.hits("/x")) == 2


def test_errors_and_invalid_bodies_are_not_cached(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite")
    with Loopback() as api:
        api.route("/x", lambda _: Reply(200, "garbage"))
        fetcher, _ = _fetcher(ledger)
        for _ in range(2):
            with pytest.raises(SourceError, match="bad body"):
                fetcher.get(api.url + "/x", validate=lambda body: "bad body")
    assert len(api.hits("/x")) == 2
    assert ledger.conn.execute("SELECT COUNT(*) FROM http_cache").fetchone()[0] == 0


def _dead_port() -> int:
    """A loopback port nobody listens on: a connection to it is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Concurrently:
    """Calls run side by side, each in its own thread, as a run's claims ask their sources; `outcomes` holds each
    call's answer or exception once `join` has seen every thread end."""

    def __init__(self, calls: list[Callable[[], object]]):
        self.outcomes: list[object] = [None] * len(calls)
        self.threads = [threading.Thread(target=self._run, args=(i, c), daemon=True) for i, c in enumerate(calls)]
        for thread in self.threads:
            thread.start()

    def _run(self, index: int, call: Callable[[], object]) -> None:
        try:
            self.outcomes[index] = call()
        except Exception as exc:
            self.outcomes[index] = exc

    def join(self) -> list[object]:
        deadline = time.monotonic() + 60  # a bound on a hang, not a measure of speed: the turns here are an hour
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        assert not any(t.is_alive() for t in self.threads), "a request is still waiting for its turn"
        return self.outcomes


def test_a_refused_connection_is_not_retried_and_fails_every_request_queued_for_the_host() -> None:
    """Eight claims ask one source paced as arXiv is (one connection, spaced) while its host refuses connections:
    one connection attempt in all and no back-off; the other seven fail as unreachable without trying. Before,
    each request tried 1 + retries times, each try waiting its turn, so a run without network took minutes."""
    url = f"http://127.0.0.1:{_dead_port()}/x"
    waits: list[float] = []
    fetchers = [
        Fetcher("refused", retries=3, backoff_s=0.5, min_interval_s=0.2, connections=1, sleep=waits.append)
        for _ in range(8)
    ]
    outcomes = _Concurrently([functools.partial(f.get, url) for f in fetchers]).join()
    assert all(isinstance(o, Unreachable) for o in outcomes), outcomes
    assert sum(f.network_calls for f in fetchers) == 1 and waits == []
    tried = [o.detail for o in outcomes if "unreachable earlier in this run" not in o.detail]
    assert len(tried) == 1 and tried[0].startswith("connection failed: ")


def test_requests_waiting_for_their_turn_give_up_when_their_host_is_found_down(caplog) -> None:
    """Requests to a source paced an hour apart (Semantic Scholar's shape: spaced, no connection limit) are
    waiting for their turns when another request finds their host refusing connections: they end at once as
    unreachable, and none connects."""
    url, source = f"http://127.0.0.1:{_dead_port()}/x", "hourly"
    with Loopback() as live:
        live.route("/x", lambda _: Reply(200, "{}"))
        assert Fetcher(source, min_interval_s=3600).get(live.url + "/x").status == 200  # the next turn: in an hour
    caplog.set_level(logging.DEBUG, logger="claimtrack.discovery.http")
    queued = [Fetcher(source, min_interval_s=3600) for _ in range(4)]
    waiting = _Concurrently([functools.partial(f.get, url) for f in queued])
    deadline = time.monotonic() + 60
    while sum("for its turn" in r.getMessage() for r in caplog.records) < len(queued):
        assert time.monotonic() < deadline, "the requests never queued for their turns"
        time.sleep(0.01)
    with pytest.raises(Unreachable, match="connection failed"):
        Fetcher("unpaced", retries=3, sleep=lambda _: None).get(url)  # another source finds the host down
    outcomes = waiting.join()
    assert all(isinstance(o, Unreachable) and "unreachable earlier in this run" in o.detail for o in outcomes)
    assert sum(f.network_calls for f in queued) == 0


def test_unreachable_host_fails_once_then_fast() -> None:
    port = _dead_port()
    fetcher, _waits = _fetcher(retries=1)
    with pytest.raises(SourceError, match="connection failed"):
        fetcher.get(f"http://127.0.0.1:{port}/x")
    calls = fetcher.network_calls
    with pytest.raises(SourceError, match="unreachable earlier in this run"):
        fetcher.get(f"http://127.0.0.1:{port}/y")
    assert fetcher.network_calls == calls  # no second round of retries


def test_dns_failure_is_a_source_error() -> None:
    fetcher, _ = _fetcher(retries=0)
    # .invalid never resolves (RFC 6761): the name fails to resolve anywhere, and no test reaches the internet
    with pytest.raises(SourceError, match="test: connection failed"):
        fetcher.get("https://api.semanticscholar.invalid/graph/v1/paper/arXiv:2305.11383")


def test_a_body_over_the_byte_limit_comes_back_cut_and_is_not_cached(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite")
    with Loopback() as api:
        api.route("/big", lambda _: Reply(200, b"x" * 50_000, "text/html"))
        api.route("/small", lambda _: Reply(200, b"y" * 500, "text/html"))
        fetcher, _ = _fetcher(ledger)
        fetcher.max_bytes, fetcher.cut_ok = 10_000, True
        big = fetcher.get(api.url + "/big")
        small = fetcher.get(api.url + "/small")
        fetcher.get(api.url + "/big")
    assert big.body == b"x" * 10_000 and big.truncated == "cut at the 10,000-byte limit"
    assert small.body == b"y" * 500 and small.truncated == ""
    assert len(api.hits("/big")) == 2 and len(api.hits("/small")) == 1  # only the whole answer was cached


def test_a_body_that_does_not_match_its_encoding_is_a_source_error() -> None:
    with Loopback() as api:
        api.route("/x", lambda _: Reply(200, b"not gzip at all", "text/html", headers={"Content-Encoding": "gzip"}))
        fetcher, waits = _fetcher(retries=1)
        with pytest.raises(SourceError, match=r"test: undecodable answer .* after 2 tries"):
            fetcher.get(api.url + "/x")
        fetcher.max_bytes = 1000  # the streamed read decodes the same way
        with pytest.raises(SourceError, match="undecodable answer"):
            fetcher.get(api.url + "/x")
    assert len(waits) == 2


def test_stacked_or_unknown_content_codings_are_refused_at_once() -> None:
    with Loopback() as api:
        api.route("/bomb", bomb_reply())
        api.route("/br", Reply(200, b"\x0b\x02\x80hi\x03", "text/html", headers={"Content-Encoding": "br"}))
        fetcher, waits = _fetcher()
        with pytest.raises(SourceError, match=r"test: refused a body with stacked content codings \(gzip, gzip\)"):
            fetcher.get(api.url + "/bomb")
        with pytest.raises(SourceError, match=r"unsupported content coding \(br\)"):
            fetcher.get(api.url + "/br")
    assert waits == [] and len(api.hits("/bomb")) == 1  # the server's choice: not asked again
    assert api.hits("/br")[0].headers["accept-encoding"] == "gzip, deflate"


def test_the_limit_counts_decoded_bytes_and_memory_stays_bounded() -> None:
    """1 GiB of zeros in one gzip layer (about 1 MB on the wire): cut at the limit, and the process grows by
    about the limit, not by the gigabyte."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with Loopback() as api:
        api.route("/one", bomb_reply(layers=1))
        fetcher, _ = _fetcher()
        fetcher.max_bytes, fetcher.cut_ok = 5_000_000, True
        cut = fetcher.get(api.url + "/one")
        fetcher.cut_ok = False
        with pytest.raises(SourceError, match="answer refused: cut at the 5,000,000-byte limit"):
            fetcher.get(api.url + "/one")
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert cut.body == bytes(5_000_000) and cut.truncated == "cut at the 5,000,000-byte limit"
    assert grown_mb < 100, grown_mb


def test_gzip_deflate_and_raw_deflate_bodies_decode() -> None:
    text = b'{"data": []}' * 1000
    raw = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    encodings = {
        "gzip": gzip.compress(text),
        "x-gzip": gzip.compress(text[:6000]) + gzip.compress(text[6000:]),  # two members, as gzip allows
        "deflate": zlib.compress(text),
        "Identity": text,
    }
    with Loopback() as api:
        for name, body in encodings.items():
            api.route(f"/{name}", Reply(200, body, headers={"Content-Encoding": name}))
        api.route("/raw", Reply(200, raw.compress(text) + raw.flush(), headers={"Content-Encoding": "deflate"}))
        api.route("/plain", json_reply({"data": []}))
        fetcher, _ = _fetcher()
        for name in [*encodings, "raw"]:
            assert fetcher.get(f"{api.url}/{name}").body == text, name
        assert fetcher.get(api.url + "/plain").json() == {"data": []}
