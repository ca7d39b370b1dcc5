"""Citing papers: Semantic Scholar (paging, 429, 404, no abstract) and the OpenAlex fallback; how they cite the
anchor (contexts, intents, influence), stored per citing paper and anchor."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from loopback import Literature, OpenAlex, Reply, Request, SemanticScholar, json_reply, recorded
from pydantic import SecretStr

from claimtrack import migrations
from claimtrack.discovery import citations
from claimtrack.discovery.discover import discover
from claimtrack.discovery.http import Fetcher, forget_down_hosts
from claimtrack.ledger import Ledger
from claimtrack.papers import Paper, get_paper, upsert_paper
from claimtrack.store import Store
from claimtrack.workspace import Workspace

S2_PATH = "/graph/v1/paper/arXiv:2305.11383/citations"
NOW = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)


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


# --- how citing papers cite the anchor: contexts, intents, influence ------------------------------------------

CONTEXT = "Unlike Kung and Peng (2023), we find that simplified definitions hurt models above 11B parameters."


def _with_context(i: int, **edge: object) -> dict[str, object]:
    return {**_s2_item(i), **edge}


def test_recorded_citation_record_gives_its_contexts_intents_and_influence() -> None:
    record = json.loads(recorded("semanticscholar", "s2_single_Citation.json"))
    context = citations.s2_context("2305.11383", record)
    assert context.anchor == "2305.11383" and context.influential is True
    assert len(context.contexts) == 4 and context.contexts[1].startswith("work combined a physics-engine simulation")
    assert context.intents == ("result", "background", "methodology")


def test_missing_or_null_edge_fields_are_empty_not_errors() -> None:
    bare = citations.s2_context("a", {"citingPaper": {"title": "x"}})
    assert bare == citations.CitationContext("a")
    nulls = citations.s2_context("a", {"contexts": None, "intents": None, "isInfluential": None})
    assert nulls == citations.CitationContext("a")
    messy = citations.s2_context("a", {"contexts": ["  x  ", "", "x", 3], "intents": ["result", None, "result"]})
    assert messy.contexts == ("x",) and messy.intents == ("result",) and messy.influential is None


def _stored(ledger: Ledger, found: citations.CitingPapers) -> int:
    with ledger.transaction():
        for paper in found.papers:
            upsert_paper(ledger, paper, source=found.source or "", detail=f"cites {ANCHOR}")
    return citations.store_contexts(ledger, found)


def test_contexts_are_stored_per_citing_paper_and_anchor(tmp_path: Path) -> None:
    records = [
        _with_context(1, contexts=[CONTEXT], intents=["result"], isInfluential=True),
        _with_context(2, contexts=[], intents=[], isInfluential=False),  # the publisher withholds the text
    ]
    with Literature(s2={f"arXiv:{ANCHOR}": records}) as api:
        found = _run(api)
        assert api.hits(S2_PATH)[0].query["fields"].startswith("contexts,intents,isInfluential,")
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        assert _stored(ledger, found) == 2
        [context] = citations.contexts_for(ledger, "2401.00001", [ANCHOR, "1706.03762"])
        assert context == citations.CitationContext(ANCHOR, (CONTEXT,), ("result",), True)
        assert citations.contexts_for(ledger, "2401.00002", [ANCHOR]) == [
            citations.CitationContext(ANCHOR, (), (), False)
        ]
        assert citations.contexts_for(ledger, "2401.00001", ["1706.03762"]) == []
        assert citations.contexts_for(ledger, "2401.00001", []) == []
        # A later lookup replaces what an earlier one said.
        found.contexts["2401.00001"] = citations.CitationContext(ANCHOR, (CONTEXT, "A second mention."), (), True)
        citations.store_contexts(ledger, found)
        assert citations.contexts_for(ledger, "2401.00001", [ANCHOR])[0].contexts == (CONTEXT, "A second mention.")


def test_a_paper_found_only_through_openalex_has_no_contexts(tmp_path: Path) -> None:
    with Literature(openalex={ANCHOR: []}) as api:
        _cited_on_two_pages(api)
        found = _run(api)
    assert found.source == "openalex" and found.contexts == {}
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        assert _stored(ledger, found) == 0
        assert citations.contexts_for(ledger, "2312.07559", [ANCHOR]) == []


def test_contexts_follow_a_paper_that_later_gains_its_arxiv_id(tmp_path: Path) -> None:
    doi_only = {
        "citingPaper": {"paperId": "d1", "title": "Scale changes instruction tuning", "externalIds": {"DOI": "10.1/S"}},
        "contexts": [CONTEXT],
    }
    with Literature(s2={f"arXiv:{ANCHOR}": [doi_only]}) as api:
        found = _run(api)
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        _stored(ledger, found)
        assert citations.contexts_for(ledger, "doi:10.1/s", [ANCHOR])[0].contexts == (CONTEXT,)
        with ledger.transaction():  # arXiv lists the same paper, with its DOI: the row is re-keyed
            upsert_paper(
                ledger, Paper(id="2409.00009", doi="10.1/s", title="Scale changes instruction tuning"), source="arxiv"
            )
        assert citations.contexts_for(ledger, "2409.00009", [ANCHOR])[0].contexts == (CONTEXT,)
        assert citations.contexts_for(ledger, "doi:10.1/s", [ANCHOR]) == []


def test_discovery_stores_the_contexts_of_the_papers_it_stores(repo_workspace: Path) -> None:
    claim_id = "it-output-format-not-task"  # anchor 2305.11383
    records = [_with_context(1, contexts=[CONTEXT], intents=["result"], isInfluential=True)]
    ws = Workspace.at(repo_workspace)
    with Literature(s2={f"arXiv:{ANCHOR}": records}) as api, Ledger.open(ws) as ledger:
        claim = Store(ws).load().claim(claim_id)
        discover(ws, ledger, claim, settings=api.settings(http_backoff_s=0.01, http_retries=1), now=NOW)
        assert citations.contexts_for(ledger, "2401.00001", claim.anchor_ids) == [
            citations.CitationContext(ANCHOR, (CONTEXT,), ("result",), True)
        ]


def test_an_existing_ledger_gains_the_citation_contexts_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "ledger.sqlite"
    shipped = list(migrations.MIGRATIONS)
    monkeypatch.setattr(migrations, "MIGRATIONS", shipped[:1])  # the ledger as the foundations left it
    with Ledger(path) as old, old.transaction():
        upsert_paper(old, Paper(id="2401.00001", title="Kept"), source="arxiv")
    monkeypatch.setattr(migrations, "MIGRATIONS", shipped)
    with Ledger(path) as ledger:
        assert any(name.endswith("_citation_contexts") for name in migrations.applied(ledger.conn))
        assert get_paper(ledger, "2401.00001").title == "Kept"
        columns = [c["name"] for c in ledger.conn.execute("PRAGMA table_info(citation_contexts)")]
        assert columns == ["paper_id", "anchor", "contexts_json", "intents_json", "influential", "source", "fetched_at"]
