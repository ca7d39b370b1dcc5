"""discover(): every source through loopback servers, stored once, indexed, ranked, recorded; faults reported."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from conftest import invoke
from loopback import Entry, Literature, OpenAlex, Reply, SemanticScholar

from claimtrack.config import Settings
from claimtrack.discovery import lexical
from claimtrack.discovery.discover import claim_query, claim_scope, discover
from claimtrack.discovery.http import forget_down_hosts
from claimtrack.discovery.index import PaperIndex
from claimtrack.discovery.snapshot import import_snapshot
from claimtrack.ledger import Ledger
from claimtrack.models import Claim
from claimtrack.store import Store
from claimtrack.workspace import Workspace

CLAIM = "it-output-format-not-task"  # claimed 2023-05, anchor 2305.11383
NOW = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _fresh_hosts() -> None:
    forget_down_hosts()


PAPERS = [
    Entry(
        "2402.11111v2",
        "Instruction tuning teaches output format more than task understanding",
        "We revisit whether instruction tuning teaches task understanding. Models tuned on corrupted "
        "instructions match the output format and reach similar exact-match scores.",
        "2024-02-10",
        doi="10.1000/format.2024",
    ),
    Entry(  # cross-listed to cs.LG and sharing the words "output space": arXiv returns it, the ranking must not
        "2403.22222v1",
        "Galaxy rotation curves without dark matter",
        "We fit rotation curves of spiral galaxies; the output space of our simulator spans 40 galaxies.",
        "2024-03-01",
        ("astro-ph.GA", "cs.LG"),
    ),
    Entry(
        "2305.11383v2",
        "Do Models Really Learn to Follow Instructions? An Empirical Study of Instruction Tuning",
        "The anchor itself.",
        "2023-05-19",
    ),
]
CITING = [
    # the same paper as the arXiv feed's first entry, known to S2 only by its DOI: must not duplicate
    {
        "citingPaper": {
            "paperId": "a1",
            "title": "Instruction tuning teaches output format more than task understanding",
            "abstract": "",
            "externalIds": {"DOI": "10.1000/FORMAT.2024"},
            "publicationDate": "2024-02-10",
        }
    },
    # the same as an arXiv id the ledger will know
    {
        "citingPaper": {
            "paperId": "a2",
            "title": "Semantic content of instructions barely matters for instruction tuning",
            "abstract": "Irrelevant or misleading instructions yield nearly the same performance after tuning.",
            "externalIds": {"ArXiv": "2406.33333"},
            "publicationDate": None,
        }
    },
]


def _literature() -> Literature:
    return Literature(PAPERS, s2={"arXiv:2305.11383": CITING})


def _settings(server: Literature, **overrides: object) -> Settings:
    return server.settings(http_backoff_s=0.01, http_retries=1, **overrides)


def _open(root: Path) -> tuple[Workspace, Ledger, Claim]:
    ws = Workspace.at(root)
    return ws, Ledger.open(ws), Store(ws).load().claim(CLAIM)


def test_discover_stores_once_ranks_and_records_candidates(repo_workspace: Path) -> None:
    ws, ledger, claim = _open(repo_workspace)
    with _literature() as api:
        result = discover(ws, ledger, claim, settings=_settings(api), k=5, run_id="run-1", now=NOW)
    assert result.failures == []
    queries = len(claim.search.terms) + len(claim.anchors)  # one arXiv query per curated term and anchor title
    assert len(api.arxiv.searches) == queries
    assert result.fetched == {"arxiv": 2, "semanticscholar": 2}  # two terms each found one non-anchor paper
    ids = [c.paper.id for c in result.candidates]
    assert ids[0] == "2402.11111"
    assert set(ids) == {"2402.11111", "2406.33333", "2403.22222"}  # never the anchor
    assert ids.index("2406.33333") < ids.index("2403.22222")  # the on-topic citing paper above astronomy
    top = result.candidates[0]
    assert top.sources == ["arxiv", "semanticscholar"] and "cites 2305.11383" in top.why and "format" in top.why
    assert result.new_papers == 3
    assert ledger.conn.execute("SELECT COUNT(*) FROM papers").fetchone()[0] == 3  # DOI and arXiv id deduplicated
    rows = ledger.conn.execute(
        "SELECT paper_id, rank, state, run_id FROM candidates WHERE claim_id = ? ORDER BY rank", (CLAIM,)
    ).fetchall()
    assert next((r["paper_id"], r["rank"], r["state"], r["run_id"]) for r in rows) == (
        "2402.11111",
        1,
        "unjudged",
        "run-1",
    )


def test_second_run_uses_the_cache_and_keeps_judged_rows(repo_workspace: Path) -> None:
    ws, ledger, claim = _open(repo_workspace)
    with _literature() as api:
        discover(ws, ledger, claim, settings=_settings(api), now=NOW)
        asked = len(api.requests)
        ledger.conn.execute("UPDATE candidates SET state = 'judged' WHERE paper_id = '2402.11111'")
        again = discover(ws, ledger, claim, settings=_settings(api), run_id="run-2", now=NOW)
    assert len(api.requests) == asked  # every answer came from the ledger cache
    assert again.new_papers == 0 and again.candidates[0].paper.id == "2402.11111"
    state = ledger.conn.execute("SELECT state, run_id FROM candidates WHERE paper_id = '2402.11111'").fetchone()
    assert tuple(state) == ("judged", "run-2")


def test_no_network_is_reported_per_source_and_stored_papers_still_rank(repo_workspace: Path) -> None:
    ws, ledger, claim = _open(repo_workspace)
    snapshot = repo_workspace / "snap.jsonl"
    snapshot.write_text(
        json.dumps(
            {
                "id": "2404.55555",
                "title": "Output format, not instructions, drives instruction tuning gains",
                "abstract": "Instruction tuning mostly teaches the output space.",
                "categories": "cs.CL",
                "versions": [{"version": "v1", "created": "Mon, 1 Apr 2024 10:00:00 GMT"}],
                "update_date": "2024-04-01",
            }
        )
        + "\n"
    )
    import_snapshot(ledger, snapshot)
    settings = Settings(arxiv_delay_s=0.0, http_backoff_s=0.01, http_retries=0)  # the real hosts: DNS is refused
    result = discover(ws, ledger, claim, settings=settings, now=NOW)
    # one line per source: after the first refused arXiv query the others are not attempted
    assert sorted(f.source for f in result.failures) == ["arxiv", "openalex", "semanticscholar"]
    assert all("connection failed" in f.message or "unreachable" in f.message for f in result.failures)
    assert [c.paper.id for c in result.candidates] == ["2404.55555"]
    assert result.candidates[0].sources == ["snapshot"]


def test_offline_asks_nobody_and_says_so(repo_workspace: Path) -> None:
    ws, ledger, claim = _open(repo_workspace)
    with _literature() as api:
        discover(ws, ledger, claim, settings=_settings(api), now=NOW)
        before = len(api.requests)
        result = discover(ws, ledger, claim, settings=_settings(api), offline=True, now=NOW)
        assert len(api.requests) == before
    assert [f.source for f in result.failures] == ["arxiv", "semanticscholar", "openalex"]
    assert all(f.message.startswith("offline") for f in result.failures)
    assert len(result.candidates) == 3


def test_cli_discover_prints_candidates_and_one_line_per_failure(
    repo_workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _literature() as api:
        api.route(SemanticScholar.CITATIONS, [Reply(503)])
        api.route(OpenAlex.WORK, [Reply(503)])
        for name, value in {**api.env(), "CLAIMTRACK_HTTP_BACKOFF_S": "0.01", "CLAIMTRACK_HTTP_RETRIES": "1"}.items():
            monkeypatch.setenv(name, value)
        result = invoke("-w", str(repo_workspace), "discover", CLAIM)
        as_json = invoke("-w", str(repo_workspace), "discover", CLAIM, "--json", "--k", "1")
    assert result.exit_code == as_json.exit_code == 1  # partly failed: arXiv's papers are ranked and saved
    assert "2402.11111" in result.stdout and "2024-02-10" in result.stdout and "arxiv" in result.stdout
    failures = [line for line in result.stderr.splitlines() if "HTTP 503" in line]
    assert [line.split(":")[0] for line in failures] == ["semanticscholar", "openalex"]
    data = json.loads(as_json.stdout)
    assert data["claim_id"] == CLAIM and len(data["candidates"]) == 1
    assert data["candidates"][0]["paper"]["id"] == "2402.11111"
    assert data["answered"] == ["arxiv"] and len(data["failures"]) == 2


def test_cli_discover_with_every_source_unreachable_exits_3_and_says_what_was_not_asked(
    repo_workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "CLAIMTRACK_ARXIV_URL": "http://127.0.0.1:9/api/query",
        "CLAIMTRACK_S2_URL": "http://127.0.0.1:9/graph/v1",
        "CLAIMTRACK_OPENALEX_URL": "http://127.0.0.1:9",
        "CLAIMTRACK_HTTP_RETRIES": "0",
    }.items():
        monkeypatch.setenv(name, value)
    result = invoke("-w", str(repo_workspace), "discover", CLAIM, "--json")
    assert result.exit_code == 3
    data = json.loads(result.stdout)
    assert data["answered"] == [] and {f["source"] for f in data["failures"]} >= {"arxiv", "semanticscholar"}
    assert all("connection failed" in f["message"] or "unreachable" in f["message"] for f in data["failures"])
    assert invoke("-w", str(repo_workspace), "discover", CLAIM, "--offline").exit_code == 0  # asked nothing


WORDS = ["instruction", "tuning", "output", "format", "task", "understanding", "delusive", "space"]


def _corpus(path: Path, n: int, start: int = 0, *, strong: bool = False) -> Path:
    """n papers dated after the claim, each sharing a different number of the claim's words (all of them, in the
    title and twice in the abstract, when `strong`)."""
    lines = []
    for i in range(start, start + n):
        words = WORDS * 2 if strong else WORDS[: 1 + i % 8]
        lines.append(
            json.dumps(
                {
                    "id": f"2404.{i:05d}",
                    "title": " ".join(WORDS) if strong else f"Study {i} of {WORDS[i % 8]}",
                    "abstract": " ".join(words) + f" and filler text number {i}.",
                    "categories": "cs.CL",
                    "versions": [{"version": "v1", "created": "Mon, 1 Apr 2024 10:00:00 GMT"}],
                }
            )
        )
    path.write_text("\n".join(lines) + "\n")
    return path


def test_discover_over_a_stored_corpus_embeds_only_its_pool(repo_workspace: Path) -> None:
    ws, ledger, claim = _open(repo_workspace)
    import_snapshot(ledger, _corpus(repo_workspace / "snap.jsonl", 60))
    settings = Settings(lexical_pool=10)
    first = discover(ws, ledger, claim, settings=settings, offline=True, k=5, now=NOW)
    top = lexical.search(ledger.conn, claim_query(claim), 10, scope=claim_scope(ledger, claim))
    collection = PaperIndex(ws.state_dir, ledger, settings).collection
    assert first.embedded == 10 and collection.count() == 10  # not the 60 stored
    assert sorted(collection.get()["ids"]) == sorted(i for i, _ in top)
    assert len(first.candidates) == 5 and {c.paper.id for c in first.candidates} <= {i for i, _ in top}

    again = discover(ws, ledger, claim, settings=settings, offline=True, k=5, now=NOW)
    assert again.embedded == 0
    assert [c.paper.id for c in again.candidates] == [c.paper.id for c in first.candidates]

    # A week later the snapshot holds three more papers that reach the pool: only they are embedded.
    import_snapshot(ledger, _corpus(repo_workspace / "more.jsonl", 3, start=7000, strong=True))
    later = discover(ws, ledger, claim, settings=settings, offline=True, k=5, now=NOW)
    entered = {i for i, _ in lexical.search(ledger.conn, claim_query(claim), 10, scope=claim_scope(ledger, claim))}
    assert entered - {i for i, _ in top} == {"2404.07000", "2404.07001", "2404.07002"}
    assert later.embedded == 3 and collection.count() == 13


def test_papers_the_claims_sources_found_join_the_pool(repo_workspace: Path) -> None:
    """With a lexical pool of one, the papers arXiv and Semantic Scholar found for the claim are still ranked."""
    ws, ledger, claim = _open(repo_workspace)
    with _literature() as api:
        result = discover(ws, ledger, claim, settings=_settings(api, lexical_pool=1), k=5, now=NOW)
    assert result.embedded == 3
    assert {c.paper.id for c in result.candidates} == {"2402.11111", "2406.33333", "2403.22222"}


def test_cli_discover_unknown_claim_is_one_line(repo_workspace: Path) -> None:
    result = invoke("-w", str(repo_workspace), "discover", "it-output-format-not-tsk", "--offline")
    assert result.exit_code == 2 and result.stderr.startswith("error: unknown claim id")


def test_a_doi_first_seen_on_a_second_row_merges_the_rows_instead_of_crashing(repo_workspace: Path) -> None:
    """arXiv lists a paper without its DOI; Semantic Scholar lists the same paper by DOI only; then arXiv
    reports the DOI. The two rows are one paper: they merge, and every later run goes on."""
    ws, ledger, claim = _open(repo_workspace)
    bare = Entry("2402.11111v1", PAPERS[0].title, PAPERS[0].abstract, "2024-02-10")  # no DOI yet
    doi_only = [{"citingPaper": {**CITING[0]["citingPaper"], "title": PAPERS[0].title}}]
    with Literature([bare], s2={"arXiv:2305.11383": doi_only}) as api:
        discover(ws, ledger, claim, settings=_settings(api), now=NOW)
    ids = {r[0] for r in ledger.conn.execute("SELECT id FROM papers")}
    assert ids == {"2402.11111", "doi:10.1000/format.2024"}  # not yet known to be one paper
    ledger.conn.execute("UPDATE candidates SET state = 'judged' WHERE paper_id = 'doi:10.1000/format.2024'")
    with Literature([PAPERS[0]], s2={"arXiv:2305.11383": doi_only}) as api:  # now with its DOI
        for _ in range(2):
            result = discover(ws, ledger, claim, settings=_settings(api).model_copy(update={"http_cache_ttl_s": 0}))
            assert all("UNIQUE" not in f.message for f in result.failures)
    rows = ledger.conn.execute("SELECT id, doi FROM papers").fetchall()
    assert [tuple(r) for r in rows] == [("2402.11111", "10.1000/format.2024")]
    sources = {r[0] for r in ledger.conn.execute("SELECT source FROM paper_sightings WHERE paper_id = '2402.11111'")}
    assert sources == {"arxiv", "semanticscholar"}
    [candidate] = ledger.conn.execute("SELECT paper_id, state FROM candidates WHERE claim_id = ?", (CLAIM,)).fetchall()
    assert tuple(candidate) == ("2402.11111", "judged")  # the judged row of the two is kept
    contexts = ledger.conn.execute("SELECT paper_id, anchor FROM citation_contexts").fetchall()
    assert [tuple(r) for r in contexts] == [("2402.11111", "2305.11383")]  # what it says of the anchor follows
