"""The loopback servers themselves: what the other tests rely on them to get right about each protocol."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import arxiv
import pytest
from loopback import ArxivAPI, Entry, Literature, Loopback, Reply, atom_feed, matches, recorded

HOSTILE = Entry(
    "2601.00001v2",
    title="When <b>\"bold\"</b> & 'quoted' claims fail: a < b && c > d",
    abstract="Scores drop by 5% & more when <script>alert('x')</script> appears; \"quotes\" stay.",
    published="2026-01-05",
    categories=("cs.CL", "cs.LG"),
    authors=("Ann O'Brien & Co", "Bo <Chen>"),
    doi="10.1000/a&b",
)
PAPERS = [
    Entry("2401.00001v1", "Output format in instruction tuning", "Format, not task.", "2024-01-10"),
    Entry("2402.00002v1", "Chain-of-thought faithfulness", "Reasoning steps after fine-tuning.", "2024-02-10"),
    Entry("2403.00003v1", "Galaxy rotation curves", "Spiral galaxies and output.", "2024-03-10", ("astro-ph.GA",)),
]


def _client(server: Loopback, page_size: int = 100) -> arxiv.Client:
    client = arxiv.Client(page_size=page_size, delay_seconds=0, num_retries=0)
    client.query_url_format = server.url + ArxivAPI.PATH + "?{}"
    return client


def test_atom_text_with_markup_characters_reaches_the_arxiv_client_unchanged() -> None:
    with Loopback() as server:
        server.mount(ArxivAPI([HOSTILE]))
        [result] = _client(server).results(arxiv.Search(id_list=["2601.00001"]))
    assert result.title == HOSTILE.title and result.summary == HOSTILE.abstract
    assert [a.name for a in result.authors] == list(HOSTILE.authors)
    assert result.doi == HOSTILE.doi and result.categories == ["cs.CL", "cs.LG"]
    assert result.entry_id == "http://arxiv.org/abs/2601.00001v2" and result.primary_category == "cs.CL"


def test_feed_carries_opensearch_totals() -> None:
    feed = atom_feed(PAPERS[:1], total=7, start=3, per_page=1).decode()
    assert "<opensearch:totalResults>7</opensearch:totalResults>" in feed
    assert "<opensearch:startIndex>3</opensearch:startIndex>" in feed


def test_search_query_filters_and_pages_as_arxiv_does() -> None:
    with Loopback() as server:
        api = server.mount(ArxivAPI(PAPERS))
        query = "all:output AND (cat:cs.CL OR cat:cs.AI) AND submittedDate:[202401010000 TO 202401312359]"
        assert [r.get_short_id() for r in _client(server).results(arxiv.Search(query=query))] == ["2401.00001v1"]
        everything = list(_client(server, page_size=2).results(arxiv.Search(query="all:output OR all:reasoning")))
    assert [r.get_short_id() for r in everything] == ["2401.00001v1", "2402.00002v1", "2403.00003v1"]
    pages = [(r.query["start"], r.query["max_results"]) for r in server.hits(ArxivAPI.PATH)][1:]
    assert pages == [("0", "2"), ("2", "2")]  # the client stopped at the total the feed announced
    assert api.searches[-1] == "all:output OR all:reasoning"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ti:chain-of-thought", ["2402.00002"]),  # a hyphenated term is a phrase
        ('abs:"after fine-tuning"', ["2402.00002"]),
        ("all:output ANDNOT cat:astro-ph.*", ["2401.00001"]),
        ("all:outputs", []),  # whole words, no stemming
        ("id:2403.00003 OR id:2401.00001v1", ["2401.00001", "2403.00003"]),
        ("all:galaxy AND submittedDate:[20240301 TO 20240331]", ["2403.00003"]),
    ],
)
def test_query_syntax(query: str, expected: list[str]) -> None:
    assert [p.base_id for p in PAPERS if matches(query, p)] == expected


def test_malformed_query_is_refused_with_400() -> None:
    with Loopback() as server:
        server.mount(ArxivAPI(PAPERS))
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(server.url + "/api/query?search_query=(all:output")
    assert refused.value.code == 400


def test_id_list_returns_the_named_papers_in_order() -> None:
    with Loopback() as server:
        server.mount(ArxivAPI(PAPERS))
        found = _client(server).results(arxiv.Search(id_list=["2403.00003", "2401.00001v1", "2499.99999"]))
        assert [r.get_short_id() for r in found] == ["2403.00003v1", "2401.00001v1"]


def test_each_server_owns_a_copy_of_its_entries() -> None:
    first, second = Literature(PAPERS), Literature(PAPERS)
    first.arxiv.entries.append(HOSTILE)
    assert len(second.arxiv.entries) == len(PAPERS) == 3


def test_scripted_replies_come_in_turn_and_later_routes_win() -> None:
    with Literature() as server:
        server.route(
            "/api/query", [Reply(503), Reply(429, headers={"Retry-After": "2"}), Reply(200, "ok", "text/plain")]
        )
        codes = []
        for _ in range(4):
            try:
                with urllib.request.urlopen(server.url + "/api/query") as answer:
                    codes.append((answer.status, answer.read().decode()))
            except urllib.error.HTTPError as exc:
                codes.append((exc.code, exc.headers.get("Retry-After")))
    assert codes == [(503, None), (429, "2"), (200, "ok"), (200, "ok")]  # the last reply repeats


def test_semantic_scholar_keeps_the_requested_fields_and_pages() -> None:
    citing = [
        {"citingPaper": {"paperId": f"p{i}", "title": f"T{i}", "year": 2024}, "isInfluential": True} for i in range(3)
    ]
    with Literature(s2={"arXiv:2305.11383": citing}) as server:
        path = server.url + "/graph/v1/paper/arXiv:2305.11383/citations?fields=title,isInfluential&limit=2"
        with urllib.request.urlopen(path) as answer:
            page = json.load(answer)
        with pytest.raises(urllib.error.HTTPError) as unknown:
            urllib.request.urlopen(server.url + "/graph/v1/paper/arXiv:2101.00001/citations")
    assert page["next"] == 2 and len(page["data"]) == 2
    assert page["data"][0] == {"isInfluential": True, "citingPaper": {"paperId": "p0", "title": "T0"}}
    real = json.loads(recorded("semanticscholar", "paper_DOI_404.json"))  # S2's own answer for another id
    body = json.load(unknown.value)
    assert unknown.value.code == 404 and body == {
        "error": real["error"].replace("DOI:10.1101/2024.04.01.587366", "arXiv:2101.00001")
    }


def test_a_failing_handler_fails_the_test_that_used_it() -> None:
    def broken(request: object) -> Reply:
        raise AssertionError("the handler's own check")

    with pytest.raises(AssertionError, match="the handler's own check"), Loopback() as server:
        server.route("/x", broken)
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(server.url + "/x")
