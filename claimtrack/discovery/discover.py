"""Discovery for one claim: fetch newer papers from every source, store and index them, rank, record.

This is the interface the agent calls. Network faults never raise: each source's failure is returned as a
SourceFailure and the ranking runs on whatever is stored (including earlier runs and imported snapshots).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydantic import ValidationError

from claimtrack.config import Settings
from claimtrack.discovery import arxiv_source, citations
from claimtrack.discovery.http import Fetcher, Unreachable
from claimtrack.discovery.lexical import Scope
from claimtrack.errors import SourceError
from claimtrack.ledger import Ledger
from claimtrack.models import Claim, partial_date_start
from claimtrack.papers import Paper, get_paper, upsert_paper
from claimtrack.workspace import Workspace

if TYPE_CHECKING:
    from claimtrack.discovery.index import Hit

SOURCES = (arxiv_source.SOURCE, citations.S2, citations.OPENALEX)
CITATION_SOURCES = (citations.S2, citations.OPENALEX)


@dataclass
class SourceFailure:
    source: str
    message: str


@dataclass
class Candidate:
    paper: Paper
    score: float
    rank: int
    why: str
    sources: list[str]


@dataclass
class DiscoveryResult:
    claim_id: str
    candidates: list[Candidate]
    failures: list[SourceFailure]
    new_papers: int
    fetched: dict[str, int] = field(default_factory=dict)  # papers each source returned this time
    notes: list[str] = field(default_factory=list)  # not failures: "anchor not known to openalex", ...
    embedded: int = 0  # papers embedded to rank this claim (the pool's papers Chroma did not hold yet)
    answered: list[str] = field(default_factory=list)  # sources that answered at least once this time

    @property
    def nothing_reached(self) -> bool:
        """Every source asked failed: nothing new could be looked at (the ranking is of what was stored)."""
        return bool(self.failures) and not self.answered


def claim_query(claim: Claim) -> str:
    """What candidates are ranked against: the claim's question, statement and curated terms."""
    return " ".join([claim.title, claim.statement, *claim.search.terms])


def discover(
    ws: Workspace,
    ledger: Ledger,
    claim: Claim,
    *,
    settings: Settings,
    extra_queries: Sequence[str] = (),
    offline: bool = False,
    k: int = 20,
    run_id: str | None = None,
    now: dt.datetime | None = None,
    in_turn: contextlib.AbstractContextManager[object] | None = None,
) -> DiscoveryResult:
    """Fetch, store, index and rank newer papers for `claim`; the top k become its candidates.

    The sources are asked first, in the caller's thread, and what they found is stored and ranked inside
    `in_turn`: a run that discovers for several claims at once passes each claim's turn, so every claim stores
    and ranks in the run's claim order and sees the ledger as a serial run would have left it (the lexical top
    of the whole ledger is in its pool, and which papers are new depends on what came before)."""
    now = now or dt.datetime.now(dt.UTC)
    result = DiscoveryResult(claim.id, [], [], 0)
    searched: list[tuple[Paper, str]] = []
    cited: list[citations.CitingPapers] = []
    if offline:
        result.failures = [SourceFailure(s, "offline: not queried; ranking what is already stored") for s in SOURCES]
    else:
        searched = _fetch_arxiv(ledger, claim, settings, extra_queries, now, result)
        cited = _fetch_citations(ledger, claim, settings, result)
    with in_turn or contextlib.nullcontext():
        if not offline:
            _store(ledger, searched, arxiv_source.SOURCE, claim, now, result)
        for each in cited:
            assert each.source is not None
            _store(ledger, [(p, f"cites {each.anchor}") for p in each.papers], each.source, claim, now, result)
            citations.store_contexts(ledger, each, now)
        result.candidates, result.embedded = rank(ws, ledger, claim, settings=settings, k=k)
        _record(ledger, claim, result.candidates, run_id, now)
    return result


def _store(
    ledger: Ledger,
    papers: list[tuple[Paper, str]],
    source: str,
    claim: Claim,
    now: dt.datetime,
    result: DiscoveryResult,
) -> None:
    """Upsert papers in one transaction, counting those the ledger did not hold before."""
    with ledger.transaction():
        for paper, detail in papers:
            known = get_paper(ledger, paper.id) is not None or (
                paper.doi is not None
                and ledger.conn.execute("SELECT 1 FROM papers WHERE doi = ?", (paper.doi.lower(),)).fetchone()
                is not None
            )
            upsert_paper(ledger, paper, source=source, detail=detail, claim_id=claim.id, now=now)
            result.new_papers += 0 if known else 1


def _fetch_arxiv(
    ledger: Ledger,
    claim: Claim,
    settings: Settings,
    extra_queries: Sequence[str],
    now: dt.datetime,
    result: DiscoveryResult,
) -> list[tuple[Paper, str]]:
    """What arXiv's searches return for the claim (not stored yet), with the query that found each paper."""
    source_fetcher = arxiv_source.api_fetcher(settings, ledger)
    client = arxiv_source.make_client(settings, source_fetcher)
    found: list[tuple[Paper, str]] = []
    anchors = set(claim.anchor_ids)
    try:
        overlap = dt.timedelta(days=settings.arxiv_overlap_days)
        for query in arxiv_source.build_queries(claim, extra_queries, now=now, overlap=overlap):
            try:
                for paper in arxiv_source.search(client, query, settings.arxiv_max_results):
                    if paper.id not in anchors:
                        found.append((paper, query.label))
                if arxiv_source.SOURCE not in result.answered:
                    result.answered.append(arxiv_source.SOURCE)
            except Unreachable as exc:
                result.failures.append(SourceFailure(arxiv_source.SOURCE, exc.detail))
                break  # the remaining queries would fail the same way
            except SourceError as exc:
                result.failures.append(SourceFailure(arxiv_source.SOURCE, exc.detail))
            except ValidationError as exc:
                result.failures.append(SourceFailure(arxiv_source.SOURCE, f"unusable entry ({query.label}): {exc}"))
    finally:
        source_fetcher.close()
    result.fetched[arxiv_source.SOURCE] = len(found)
    return found


def _fetch_citations(
    ledger: Ledger, claim: Claim, settings: Settings, result: DiscoveryResult
) -> list[citations.CitingPapers]:
    """The citation lookups of the claim's anchors that found papers (not stored yet)."""
    headers = citations.s2_headers(settings)
    s2 = Fetcher.for_source(
        citations.S2, settings, ledger=ledger, headers=headers, min_interval_s=settings.s2_interval_s
    )
    openalex = Fetcher.for_source(citations.OPENALEX, settings, ledger=ledger, min_interval_s=settings.openalex_delay_s)
    answered = []
    try:
        for anchor in claim.anchor_ids:
            try:
                found = citations.citing_papers(anchor, settings=settings, s2=s2, openalex=openalex)
            except ValidationError as exc:
                result.failures.append(SourceFailure("citations", f"unusable record for arXiv:{anchor}: {exc}"))
                continue
            result.failures += [SourceFailure(p.source, p.detail) for p in found.problems]
            result.notes += found.notes
            if found.source:
                if found.source not in result.answered:
                    result.answered.append(found.source)
                result.fetched[found.source] = result.fetched.get(found.source, 0) + len(found.papers)
                answered.append(found)
    finally:
        s2.close()
        openalex.close()
    return answered


def claim_scope(ledger: Ledger, claim: Claim) -> Scope:
    """Stored papers that can bear on the claim: dated after it, or citing one of its anchors; never an anchor."""
    anchors = frozenset(claim.anchor_ids)
    if not claim.claimed:
        return Scope(exclude=anchors)
    sources = ",".join("?" * len(CITATION_SOURCES))
    citing = ledger.conn.execute(
        f"SELECT DISTINCT paper_id FROM paper_sightings WHERE claim_id = ? AND source IN ({sources})",
        (claim.id, *CITATION_SOURCES),
    )
    start = partial_date_start(claim.claimed).isoformat()
    return Scope(after=start, include=frozenset(r[0] for r in citing), exclude=anchors)


def found_papers(ledger: Ledger, claim: Claim, scope: Scope) -> list[str]:
    """The papers in `scope` that this claim's own searches and citation lookups found (not snapshot papers)."""
    condition, params = scope.sql()
    rows = ledger.conn.execute(
        "SELECT p.id FROM papers p WHERE p.id IN (SELECT paper_id FROM paper_sightings WHERE claim_id = ?)"
        f" AND {condition} ORDER BY p.id",
        (claim.id, *params),
    )
    return [r[0] for r in rows]


def rank(
    ws: Workspace, ledger: Ledger, claim: Claim, *, settings: Settings, k: int = 20
) -> tuple[list[Candidate], int]:
    """Hybrid-rank the claim's eligible papers: the lexical top of the whole ledger and the papers its searches
    and citations found, re-scored by embeddings (computed only for that pool). Returns the top k and how many
    papers had to be embedded."""
    from claimtrack.discovery.index import PaperIndex

    scope = claim_scope(ledger, claim)
    found = found_papers(ledger, claim, scope)
    index = PaperIndex(ws.state_dir, ledger, settings)
    result = index.search(claim_query(claim), k, scope=scope, extra=found)
    candidates = []
    for rank_no, hit in enumerate(result.hits, start=1):
        paper = get_paper(ledger, hit.id)
        if paper is None:
            continue
        sightings = ledger.conn.execute(
            "SELECT DISTINCT source, detail FROM paper_sightings WHERE paper_id = ? AND claim_id IN (?, '')"
            " ORDER BY source, detail",
            (hit.id, claim.id),
        ).fetchall()
        sources = sorted({s["source"] for s in sightings})
        candidates.append(Candidate(paper, round(hit.score, 6), rank_no, _why(hit, sightings), sources))
    return candidates, result.embedded


def _why(hit: Hit, sightings: list[sqlite3.Row]) -> str:
    parts = []
    if hit.terms:
        parts.append("terms: " + ", ".join(hit.terms))
    if hit.cosine is not None:
        parts.append(f"dense {hit.cosine:.2f} (#{hit.dense_rank})")
    cited = sorted({s["detail"] for s in sightings if s["detail"].startswith("cites ")})
    parts += cited
    queries = sorted({s["detail"] for s in sightings if s["source"] == arxiv_source.SOURCE})
    if queries:
        parts.append("arXiv " + queries[0] + (f" (+{len(queries) - 1})" if len(queries) > 1 else ""))
    return "; ".join(parts)


def _record(ledger: Ledger, claim: Claim, candidates: list[Candidate], run_id: str | None, now: dt.datetime) -> None:
    """Upsert the candidates; a row's state (and first found_at) is kept, so judged rows stay judged."""
    found_at = now.isoformat(timespec="seconds")
    with ledger.transaction() as conn:
        for c in candidates:
            conn.execute(
                "INSERT INTO candidates (claim_id, paper_id, score, rank, why, found_at, run_id, state)"
                " VALUES (?,?,?,?,?,?,?,'unjudged') ON CONFLICT(claim_id, paper_id) DO UPDATE SET"
                " score = excluded.score, rank = excluded.rank, why = excluded.why, run_id = excluded.run_id",
                (claim.id, c.paper.id, c.score, c.rank, c.why, found_at, run_id),
            )
