"""Citing papers: Semantic Scholar (paging, 429, 404, no abstract) and the OpenAlex fallback."""

from __future__ import annotations

import json
from typing import Any

import pytest
from loopback import Literature, OpenAlex, Reply, Request, SemanticScholar, json_reply, recorded
from pydantic import SecretStr

from claimtrack.discovery import citations
from claimtrack.discovery.http import Fetcher, forget_down_hosts

S2_PATH = "/graph/v1/paper/arXiv:2305.11383/citations"


@pytest.fixture(autouse=True)
def _fresh_hosts() -> None:
    forget_down_hosts()


def _run(server: Literature, *, s2_api_key: str | None = None, http_retries: int = 3) -> citations.CitingPapers:
    key = SecretStr(s2_api_key) if s2_api_key else None
    settings = server.settings(s2_api_key=key, http_retries=http_retries)
    s2 = Fetcher("semanticscholar", retries=http_retries, backoff_s=0.01, headers=citations.s2_headers(settings))
    openalex = Fetcher("openalex", backoff_s=0.01)
    return citations.citing_papers("2305.11383", settings=settings, s2=s2, openalex=openalex)


def _s2_item(i: int, **extra: object) -> dict[str, object]:
    paper = {
        "paperId": f"p{i}",
        "title": f"Citing paper {i}",
        "abstract": f"About format {i}.",
        "externalIds": {"ArXiv": f"2401.{i:05d}"},
        "publicationDate": "2024-01-15",
        **extra,
    }
    return {"citingPaper": paper}


def test_semantic_scholar_pages_until_there_is_no_next() -> None:
    pages = {
        "0": {"offset": 0, "next": 2, "data": [_s2_item(1), _s2_item(2)]},
        "2": {"offset": 2, "data": [_s2_item(3), {"citingPaper": {"paperId": "x", "title": None}}]},
    }
    with Literature() as api:
        api.route(S2_PATH, lambda r: json_reply(pages[r.query["offset"]]))
        found = _run(api, s2_api_key="k-123")
    assert found.source == "semanticscholar" and not found.problems
    assert [p.id for p in found.papers] == ["2401.00001", "2401.00002", "2401.00003"]  # the title-less one dropped
    seen = api.hits(S2_PATH)
    assert [r.query["offset"] for r in seen] == ["0", "2"]
    assert seen[0].query["fields"] == citations.S2_FIELDS and seen[0].headers["x-api-key"] == "k-123"


def test_recorded_citation_record_keeps_doi_and_abstract() -> None:
    record = json.loads(recorded("semanticscholar", "s2_single_Citation.json"))
    paper = citations.s2_paper(record["citingPaper"])
    assert paper is not None
    assert paper.id == "doi:10.1109/lra.2022.3229266" and paper.doi == "10.1109/lra.2022.3229266"
    assert paper.published == "2023-02-01" and paper.abstract.startswith("Throwing objects by a robot")


def test_recorded_page_without_abstracts_still_yields_papers() -> None:
    page = json.loads(recorded("semanticscholar", "test_get_paper_citations_18.json"))
    papers = [citations.s2_paper(item["citingPaper"]) for item in page["data"]]
    usable = [p for p in papers if p is not None]
    assert len(usable) >= 75 and all(p.abstract == "" and p.id.startswith("s2:") for p in usable)


def test_429_is_honoured_then_the_page_is_read() -> None:
    with Literature(s2={"arXiv:2305.11383": [_s2_item(1)]}) as api:
        api.route(SemanticScholar.CITATIONS, [Reply(429, headers={"Retry-After": "0"}), api.s2.cited_by])
        found = _run(api)
    assert [p.id for p in found.papers] == ["2401.00001"] and len(api.hits(S2_PATH)) == 2


ANCHOR = "2305.11383"


def _cited_on_two_pages(server: Literature) -> dict[str, Any]:
    """Recorded works citing the anchor, on two cursor pages (the service would page only past 100 works)."""
    work = json.loads(recorded("openalex", "work_W2741809807.json"))
    listing = json.loads(recorded("openalex", "works_list_title_search_PaperQA.json"))

    def cites(request: Request) -> Reply:
        assert request.query["filter"] == f"cites:{OpenAlex.work_id(ANCHOR)}"
        if request.query["cursor"] == "*":
            return json_reply({"meta": {"next_cursor": "c2"}, "results": [work]})
        return json_reply({"meta": {"next_cursor": None}, "results": listing["results"]})

    server.route("/works", cites)
    return work


def test_openalex_is_asked_when_semantic_scholar_does_not_know_the_anchor() -> None:
    with Literature(openalex={ANCHOR: []}) as api:  # Semantic Scholar answers 404 for an anchor it lacks
        work = _cited_on_two_pages(api)
        found = _run(api)
    assert found.source == "openalex" and "semanticscholar: anchor arXiv:2305.11383 not found" in found.notes
    ids = [p.id for p in found.papers]
    assert ids == ["doi:10.7717/peerj.4375", "2312.07559"]  # a DOI-only work, then an arXiv preprint
    rebuilt = found.papers[0].abstract.split()
    positions = work["abstract_inverted_index"]
    assert len(rebuilt) == sum(len(v) for v in positions.values())
    assert all(rebuilt[i] == word for word, spots in positions.items() for i in spots)


def test_openalex_answering_when_semantic_scholar_keeps_failing_is_a_note_not_a_problem() -> None:
    with Literature(s2={f"arXiv:{ANCHOR}": [_s2_item(1)]}, openalex={ANCHOR: []}) as api:
        api.route(S2_PATH, [Reply(429, headers={"Retry-After": "0"})])
        _cited_on_two_pages(api)
        found = _run(api, http_retries=1)
    assert found.source == "openalex" and len(found.papers) == 2
    assert found.problems == []
    assert any(n.startswith("semanticscholar failed (HTTP 429") and "openalex answered" in n for n in found.notes)


def test_both_citation_sources_failing_are_both_problems() -> None:
    with Literature(s2={f"arXiv:{ANCHOR}": [_s2_item(1)]}, openalex={ANCHOR: []}) as api:
        api.route(S2_PATH, [Reply(500)])
        api.route("/works/{work:path}", [Reply(503)])
        found = _run(api, http_retries=0)
    assert [p.source for p in found.problems] == ["semanticscholar", "openalex"] and found.papers == []


def test_anchor_unknown_everywhere_is_a_note_not_a_failure() -> None:
    with Literature() as api:
        found = _run(api)
    assert [r.path for r in api.requests] == [S2_PATH, f"/works/doi:10.48550/arXiv.{ANCHOR}"]
    assert found.papers == [] and found.source is None and not found.problems and len(found.notes) == 2


def test_inverted_index_rebuilds_word_order() -> None:
    assert citations.abstract_from_inverted_index({"world": [1], "hello": [0, 2]}) == "hello world hello"
    assert citations.abstract_from_inverted_index(None) == ""
