"""arXiv search with the real `arxiv` client against a loopback server speaking arXiv's Atom API."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import arxiv
import pytest
from loopback import ArxivAPI, Entry, Loopback, Reply, atom_feed, recorded

from claimtrack.config import Settings
from claimtrack.discovery import arxiv_source
from claimtrack.discovery.http import Fetcher, forget_down_hosts
from claimtrack.errors import SourceError
from claimtrack.ledger import Ledger
from claimtrack.models import Anchor, Claim, SearchHints

NOW = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _fresh_hosts() -> None:
    forget_down_hosts()


def _claim(**kw: object) -> Claim:
    base = {
        "id": "it-output-format-not-task",
        "title": "Does instruction tuning teach the output format?",
        "statement": "Instruction tuning transfers the output format, not task understanding.",
        "claimed": "2023-05",
        "search": SearchHints(terms=["instruction tuning output format"], categories=["cs.CL"]),
        "anchors": [Anchor(arxiv="2305.11383", title="Do Models Really Learn to Follow Instructions?")],
    }
    return Claim(**{**base, **kw})


def _client(server: Loopback, ledger: Ledger | None = None, page_size: int = 2) -> tuple[arxiv.Client, Fetcher]:
    settings = Settings(arxiv_url=server.url + ArxivAPI.PATH, arxiv_delay_s=0.0, arxiv_page_size=page_size)
    fetcher = Fetcher("arxiv", ledger=ledger, backoff_s=0.01)
    return arxiv_source.make_client(settings, fetcher), fetcher


WEEK = dt.timedelta(days=7)


def test_queries_come_from_terms_anchors_and_extras_within_the_window() -> None:
    claim = _claim(last_checked=dt.datetime(2025, 6, 2, 8, 15, tzinfo=dt.UTC))
    queries = arxiv_source.build_queries(claim, ["format learning versus semantics"], now=NOW, overlap=WEEK)
    assert [q.label.split(":")[0] for q in queries] == ["term", "anchor", "extra"]
    text = queries[0].text()
    assert text.startswith("all:instruction AND all:tuning AND all:output AND all:format")
    assert "(cat:cs.CL)" in text
    # from a week before the last check (later than the claim's date), up to the end of today
    assert "submittedDate:[202505260815 TO 202603012359]" in text


def test_window_starts_at_the_claim_date_when_never_checked_or_checked_just_after_it() -> None:
    since, until = arxiv_source.window(_claim(), NOW, overlap=WEEK)
    assert since == dt.datetime(2023, 5, 1, tzinfo=dt.UTC)
    assert until.date() == NOW.date()
    early = _claim(last_checked=dt.datetime(2023, 5, 3, tzinfo=dt.UTC))
    assert arxiv_source.window(early, NOW, overlap=WEEK)[0] == dt.datetime(2023, 5, 1, tzinfo=dt.UTC)


def test_a_paper_submitted_before_the_last_check_and_announced_after_it_is_found() -> None:
    checked = dt.datetime(2026, 2, 20, 12, 0, tzinfo=dt.UTC)
    late = Entry("2602.09999v1", "Instruction tuning output format revisited", "Instruction tuning output format.",
                 "2026-02-18T09:00:00Z")  # fmt: skip
    with Loopback() as api:
        api.mount(ArxivAPI([late]))
        client, _ = _client(api)
        claim = _claim(last_checked=checked)
        [query] = arxiv_source.build_queries(claim.model_copy(update={"anchors": []}), now=NOW, overlap=WEEK)
        assert [p.id for p in arxiv_source.search(client, query, 10)] == ["2602.09999"]
        [blind] = arxiv_source.build_queries(claim.model_copy(update={"anchors": []}), now=NOW, overlap=dt.timedelta(0))
        assert list(arxiv_source.search(client, blind, 10)) == []  # the window that started at the check


def test_recorded_feed_parses_into_papers() -> None:
    with Loopback() as api:
        api.route(ArxivAPI.PATH, [Reply(200, recorded("arxiv", "q_testing_s0_m10.xml"), "application/atom+xml")])
        client, _ = _client(api, page_size=10)
        papers = list(arxiv_source.search(client, arxiv_source.ArxivQuery("t", ("testing",)), 10))
    assert len(papers) == 10
    first = papers[0]
    assert (first.id, first.version) == ("2202.12139", "v1")
    assert first.title.startswith("Testing Deep Learning Models")
    assert first.published == "2022-02-24" and first.doi == "10.1109/ICSTW55395.2022.00035"
    assert first.authors[:2] == ["Mohit Kumar Ahuja", "Arnaud Gotlieb"] and "cs.SE" in first.categories


def test_paging_follows_total_results() -> None:
    papers = [Entry(f"2401.0000{i}v1", f"Paper {i}", f"Abstract {i}", f"2024-01-0{i + 1}") for i in range(3)]
    with Loopback() as api:
        api.mount(ArxivAPI([*papers, Entry("2401.00009v1", "Other", "Not this one", "2024-01-09")]))
        client, _ = _client(api)
        found = list(arxiv_source.search(client, arxiv_source.ArxivQuery("t", ("paper",)), 10))
    assert [p.id for p in found] == ["2401.00000", "2401.00001", "2401.00002"]
    assert [r.query["start"] for r in api.hits(ArxivAPI.PATH)] == ["0", "2"]


def test_empty_first_page_means_no_results() -> None:
    with Loopback() as api:
        api.route(ArxivAPI.PATH, [Reply(200, recorded("arxiv", "id_0000.0000_s0_m100.xml"), "application/atom+xml")])
        client, _ = _client(api)
        assert list(arxiv_source.search(client, arxiv_source.ArxivQuery("t", ("nothing",)), 10)) == []


def test_empty_page_in_the_middle_is_reported() -> None:
    first = atom_feed(
        [Entry("2401.00001v1", "One", "A", "2024-01-01"), Entry("2401.00002v1", "Two", "B", "2024-01-02")], total=5
    )
    with Loopback() as api:
        api.route(
            ArxivAPI.PATH,
            lambda r: Reply(200, first if r.query["start"] == "0" else atom_feed([], total=5, start=2)),
        )
        client, _ = _client(api)
        got = []
        with pytest.raises(SourceError, match="arxiv: empty page"):
            for paper in arxiv_source.search(client, arxiv_source.ArxivQuery("t", ("x",)), 10):
                got.append(paper.id)
    assert got == ["2401.00001", "2401.00002"]


def test_malformed_feed_is_an_error_not_an_empty_result(tmp_path: Path) -> None:
    cut = recorded("arxiv", "q_testing_s0_m10.xml")[:3000]
    ledger = Ledger(tmp_path / "l.sqlite")
    with Loopback() as api:
        api.route(ArxivAPI.PATH, [Reply(200, cut, "application/atom+xml")])
        client, _ = _client(api, ledger)
        with pytest.raises(SourceError, match="malformed Atom feed"):
            list(arxiv_source.search(client, arxiv_source.ArxivQuery("t", ("x",)), 10))
    assert ledger.conn.execute("SELECT COUNT(*) FROM http_cache").fetchone()[0] == 0


def test_arxiv_error_answer_is_reported_with_its_status() -> None:
    with Loopback() as api:
        api.route(ArxivAPI.PATH, [Reply(400, recorded("arxiv", "id_abc_s0_m100.xml"), "application/atom+xml")])
        client, _ = _client(api)
        with pytest.raises(SourceError, match="HTTP 400"):
            list(arxiv_source.search(client, arxiv_source.ArxivQuery("bad", ("abc",)), 10))


def test_503_then_success_and_429_then_success() -> None:
    feed = atom_feed([Entry("2402.00001v3", "Format, not tasks", "Output format matters.", "2024-02-01")])
    with Loopback() as api:
        api.route(ArxivAPI.PATH, [Reply(503), Reply(429, headers={"Retry-After": "0"}), Reply(200, feed)])
        client, fetcher = _client(api)
        papers = list(arxiv_source.search(client, arxiv_source.ArxivQuery("t", ("format",)), 10))
    assert [(p.id, p.version) for p in papers] == [("2402.00001", "v3")]
    assert fetcher.network_calls == 3


def test_the_clients_spacing_comes_from_settings() -> None:
    with Loopback() as api:
        client, _ = _client(api)
    assert client.delay_seconds == 0.0 and client.query_url_format == api.url + "/api/query?{}"
    assert Settings().arxiv_delay_s == 3.0
