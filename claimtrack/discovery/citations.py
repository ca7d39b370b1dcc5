"""Papers that cite a claim's anchors: Semantic Scholar first, OpenAlex when it has nothing or fails.

Semantic Scholar failing while OpenAlex answers is a note, not a problem: the citations were looked up, so the
claim's check is complete (its last_checked advances). Only both failing is a problem of the check.

A citing paper is by construction newer than the anchor, so it is a candidate even when a source gives
no publication date. Semantic Scholar also says how it cites the anchor: the sentences around the citation
(`contexts`), why it cites (`intents`: background, methodology, result) and whether the citation is
influential. These are stored per (citing paper, anchor) for the judge: what a newer paper says about the
anchor is the most direct evidence about a dated claim. OpenAlex has no such data, so a paper found only
there has no contexts.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from claimtrack.config import Settings
from claimtrack.discovery.http import Fetcher, Response
from claimtrack.errors import SourceError
from claimtrack.ids import parse_arxiv_id
from claimtrack.ledger import Ledger
from claimtrack.papers import Paper

S2 = "semanticscholar"
OPENALEX = "openalex"
# Edge fields (how the citing paper cites) first, then the citing paper's own fields.
S2_FIELDS = "contexts,intents,isInfluential,title,abstract,externalIds,publicationDate,year,authors"


@dataclass(frozen=True)
class CitationContext:
    """How one citing paper cites one anchor, as Semantic Scholar extracted it from the citing paper's text."""

    anchor: str
    contexts: tuple[str, ...] = ()  # the citing sentences, verbatim as the source gives them
    intents: tuple[str, ...] = ()  # background | methodology | result
    influential: bool | None = None


_ARXIV_DOI = re.compile(r"^10\.48550/arxiv\.(.+)$", re.IGNORECASE)


@dataclass
class CitingPapers:
    """What one anchor's citation lookup found, which source answered, and what went wrong on the way."""

    anchor: str
    papers: list[Paper] = field(default_factory=list)
    source: str | None = None
    problems: list[SourceError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. "anchor not known to semanticscholar"
    contexts: dict[str, CitationContext] = field(default_factory=dict)  # by citing paper id (Semantic Scholar)


def citing_papers(anchor: str, *, settings: Settings, s2: Fetcher, openalex: Fetcher) -> CitingPapers:
    """Citing papers of one arXiv anchor, up to settings.citations_max."""
    found = CitingPapers(anchor)
    s2_failed = None
    try:
        found.papers = list(_s2_citations(anchor, settings, s2, found))
        if found.papers:
            found.source = S2
            return found
    except SourceError as exc:
        s2_failed = exc
    try:
        found.papers = list(_openalex_citations(anchor, settings, openalex, found))
        found.source = OPENALEX if found.papers else None
    except SourceError as exc:
        found.problems += [p for p in (s2_failed, exc) if p is not None]
        return found
    if s2_failed is not None:  # the fallback answered: the anchor's citations were looked up after all
        found.notes.append(f"{S2} failed ({s2_failed.detail}); {OPENALEX} answered for arXiv:{anchor}")
    return found


def s2_headers(settings: Settings) -> dict[str, str]:
    """The API key header, sent but never logged or cached (the cache key is the URL alone)."""
    key = settings.s2_api_key
    return {"x-api-key": key.get_secret_value()} if key is not None else {}


def _s2_citations(anchor: str, settings: Settings, fetcher: Fetcher, found: CitingPapers) -> Iterator[Paper]:
    url = f"{settings.s2_url.rstrip('/')}/paper/arXiv:{anchor}/citations"
    offset, limit, taken = 0, min(100, settings.citations_max), 0
    while taken < settings.citations_max:
        answer = fetcher.get(url, {"fields": S2_FIELDS, "offset": offset, "limit": limit})
        if answer.status == 404:
            found.notes.append(f"{S2}: anchor arXiv:{anchor} not found")
            return
        if answer.status != 200:
            raise SourceError(S2, f"HTTP {answer.status} for citations of arXiv:{anchor}")
        page = _json_object(answer, S2, anchor)
        for item in _list(page.get("data")):
            paper = s2_paper(_obj(_obj(item).get("citingPaper")))
            if paper is not None:
                taken += 1
                found.contexts[paper.id] = s2_context(anchor, _obj(item))
                yield paper
        nxt = page.get("next")
        if not isinstance(nxt, int) or nxt <= offset:
            return
        offset = nxt


def s2_paper(data: dict) -> Paper | None:
    """A Semantic Scholar paper record as a Paper (arXiv id when it has one, else DOI, else S2 id); None for a
    record without a title or too malformed to use."""
    title = _str(data.get("title")).strip()
    if not title:
        return None
    ids = _obj(data.get("externalIds"))
    doi = _str(ids.get("DOI")).lower() or None
    arxiv_id = _arxiv_or_none(_str(ids.get("ArXiv")))
    if arxiv_id is None and doi and (m := _ARXIV_DOI.match(doi)):
        arxiv_id = _arxiv_or_none(m.group(1))
    ident = arxiv_id or (f"doi:{doi}" if doi else f"s2:{_str(data.get('paperId')) or title}")
    year = data.get("year")
    published = _str(data.get("publicationDate")) or (str(year) if isinstance(year, int) and year > 0 else None)
    return _paper(
        id=ident,
        doi=doi,
        title=title,
        abstract=_str(data.get("abstract")).strip(),
        authors=[_str(_obj(a).get("name")) for a in _list(data.get("authors")) if _str(_obj(a).get("name"))],
        published=published,
        url=f"https://arxiv.org/abs/{arxiv_id}" if arxiv_id else (f"https://doi.org/{doi}" if doi else None),
    )


def s2_context(anchor: str, item: dict) -> CitationContext:
    """The edge fields of one citations record; absent or null fields (publishers that withhold the text) are
    empty, not errors."""
    contexts = [c.strip() for c in _list(item.get("contexts")) if isinstance(c, str) and c.strip()]
    intents = [i for i in _list(item.get("intents")) if isinstance(i, str) and i]
    influential = item.get("isInfluential")
    return CitationContext(
        anchor,
        tuple(dict.fromkeys(contexts)),
        tuple(dict.fromkeys(intents)),
        influential if isinstance(influential, bool) else None,
    )


def store_contexts(ledger: Ledger, found: CitingPapers, now: dt.datetime | None = None) -> int:
    """Keep the citation contexts of the found papers, once they are stored (upsert_paper first); returns how
    many.

    A paper is looked up by its id, then by DOI, the way upsert_paper matches it, so a context lands on the row
    the paper was merged into. A later lookup replaces the earlier one (citing sentences can be added).
    """
    stamp = (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
    stored = 0
    with ledger.transaction() as conn:
        for paper in found.papers:
            context = found.contexts.get(paper.id)
            if context is None:  # found through OpenAlex
                continue
            row = conn.execute(
                "SELECT id FROM papers WHERE id = ? OR (? IS NOT NULL AND doi = ?) ORDER BY id = ? DESC LIMIT 1",
                (paper.id, paper.doi, paper.doi, paper.id),
            ).fetchone()
            if row is None:
                continue
            conn.execute(
                "INSERT INTO citation_contexts (paper_id, anchor, contexts_json, intents_json, influential, source,"
                " fetched_at) VALUES (?,?,?,?,?,?,?) ON CONFLICT(paper_id, anchor) DO UPDATE SET"
                " contexts_json = excluded.contexts_json, intents_json = excluded.intents_json,"
                " influential = excluded.influential, source = excluded.source, fetched_at = excluded.fetched_at",
                (
                    row["id"],
                    context.anchor,
                    json.dumps(list(context.contexts)),
                    json.dumps(list(context.intents)),
                    None if context.influential is None else int(context.influential),
                    S2,
                    stamp,
                ),
            )
            stored += 1
    return stored


def contexts_for(ledger: Ledger, paper_id: str, anchor_ids: Sequence[str]) -> list[CitationContext]:
    """What a stored paper says where it cites each of the given anchors (those it has contexts for), in the
    anchors' order. Empty for a paper found only through OpenAlex or arXiv."""
    if not anchor_ids:
        return []
    rows = ledger.conn.execute(
        "SELECT anchor, contexts_json, intents_json, influential FROM citation_contexts"
        f" WHERE paper_id = ? AND anchor IN ({','.join('?' * len(anchor_ids))})",
        (paper_id, *anchor_ids),
    ).fetchall()
    found = {
        r["anchor"]: CitationContext(
            r["anchor"],
            tuple(json.loads(r["contexts_json"])),
            tuple(json.loads(r["intents_json"])),
            None if r["influential"] is None else bool(r["influential"]),
        )
        for r in rows
    }
    return [found[a] for a in dict.fromkeys(anchor_ids) if a in found]


def _openalex_citations(anchor: str, settings: Settings, fetcher: Fetcher, found: CitingPapers) -> Iterator[Paper]:
    base = settings.openalex_url.rstrip("/")
    polite = {"mailto": settings.openalex_mailto} if settings.openalex_mailto else {}
    answer = fetcher.get(f"{base}/works/doi:10.48550/arXiv.{anchor}", {"select": "id", **polite})
    if answer.status == 404:
        found.notes.append(f"{OPENALEX}: anchor arXiv:{anchor} not found")
        return
    if answer.status != 200:
        raise SourceError(OPENALEX, f"HTTP {answer.status} resolving arXiv:{anchor}")
    work_id = str(_json_object(answer, OPENALEX, anchor).get("id", "")).rsplit("/", 1)[-1]
    if not work_id.startswith("W"):
        raise SourceError(OPENALEX, f"no work id for arXiv:{anchor}")
    cursor, taken = "*", 0
    while cursor and taken < settings.citations_max:
        answer = fetcher.get(
            f"{base}/works", {"filter": f"cites:{work_id}", "per-page": 100, "cursor": cursor, **polite}
        )
        if answer.status != 200:
            raise SourceError(OPENALEX, f"HTTP {answer.status} for works citing {work_id}")
        page = _json_object(answer, OPENALEX, anchor)
        results = _list(page.get("results"))
        for work in results:
            paper = openalex_paper(_obj(work))
            if paper is not None:
                taken += 1
                yield paper
        after = _obj(page.get("meta")).get("next_cursor") if results else None
        cursor = after if isinstance(after, str) and after != cursor else None


def openalex_paper(work: dict) -> Paper | None:
    """An OpenAlex work as a Paper, its abstract rebuilt from the inverted index; None for a work without a title
    or too malformed to use."""
    title = (_str(work.get("title")) or _str(work.get("display_name"))).strip()
    if not title:
        return None
    doi = _str(work.get("doi")).lower().removeprefix("https://doi.org/") or None
    arxiv_id = None
    if doi and (m := _ARXIV_DOI.match(doi)):
        arxiv_id = _arxiv_or_none(m.group(1))
    for location in _list(work.get("locations")):
        landing = _str(_obj(location).get("landing_page_url"))
        if arxiv_id is None and "arxiv.org/abs/" in landing:
            arxiv_id = _arxiv_or_none(landing)
    openalex_id = _str(work.get("id")).rsplit("/", 1)[-1]
    ident = arxiv_id or (f"doi:{doi}" if doi else f"openalex:{openalex_id or title}")
    authors = [_str(_obj(_obj(a).get("author")).get("display_name")) for a in _list(work.get("authorships"))]
    return _paper(
        id=ident,
        doi=doi,
        title=title,
        abstract=abstract_from_inverted_index(_obj(work.get("abstract_inverted_index"))),
        authors=[a for a in authors if a],
        published=_str(work.get("publication_date")) or None,
        url=f"https://arxiv.org/abs/{arxiv_id}" if arxiv_id else (f"https://doi.org/{doi}" if doi else None),
    )


def abstract_from_inverted_index(index: dict[str, list[int]] | None) -> str:
    """OpenAlex stores abstracts as word -> positions; put each word back at its positions (positions that are
    not small whole numbers are skipped: a malformed index must not make a giant string)."""
    if not index:
        return ""
    slots: dict[int, str] = {}
    for word, positions in index.items():
        for position in _list(positions):
            if isinstance(position, int) and 0 <= position < 100_000:
                slots[position] = str(word)
    return " ".join(slots[i] for i in sorted(slots))


def _paper(**fields: Any) -> Paper | None:
    """A Paper from an API record's fields, or None when they do not make one (a malformed date, say)."""
    try:
        return Paper(**fields)
    except ValidationError:
        return None


def _obj(value: object) -> dict:
    """A JSON value that should be an object: itself, or {} when it is something else."""
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list:
    return value if isinstance(value, list) else []


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _arxiv_or_none(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return parse_arxiv_id(value)[0]
    except ValueError:
        return None


def _json_object(answer: Response, source: str, anchor: str) -> dict:
    try:
        data = answer.json()
    except (ValueError, RecursionError) as exc:  # not JSON; or nested deeper than the parser goes ("[[[[...")
        raise SourceError(source, f"answer for arXiv:{anchor} is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise SourceError(source, f"answer for arXiv:{anchor} is not a JSON object")
    return data
