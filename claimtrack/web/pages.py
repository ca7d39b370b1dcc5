"""What the pages show, gathered from the ledger and the claim files: the cited sentence inside its passage,
the queue's filters, and one line per history entry. Templates render it; Jinja escapes every value."""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from typing import Any

from claimtrack.discovery.citations import contexts_for
from claimtrack.fulltext.models import FullText
from claimtrack.ledger import Ledger
from claimtrack.models import AnchorDecision, PaperMerge, ReviewDecision, RulingLifted, StatusChange
from claimtrack.papers import Paper
from claimtrack.review import ReviewItem

Segments = list[tuple[str, bool]]  # (text, is the cited sentence)


@dataclass(frozen=True)
class Passage:
    """The block of text a judgement quoted from, split around the quote (or the quote alone when the block is
    not stored): `where` says which block, with its section."""

    where: str
    segments: Segments
    found: bool


def split_on(text: str, quote: str) -> Segments | None:
    """`text` cut around the first occurrence of `quote`, spacing and case aside; None when it does not occur."""
    words = quote.split()
    if not words:
        return None
    match = re.search(r"\s+".join(map(re.escape, words)), text, re.IGNORECASE)
    if match is None:
        return None
    parts = [(text[: match.start()], False), (match.group(0), True), (text[match.end() :], False)]
    return [p for p in parts if p[0]]


def _fulltext_passages(ledger: Ledger, paper_id: str) -> list[tuple[str, str]]:
    rows = ledger.conn.execute(
        "SELECT fulltext FROM fulltexts WHERE paper_id = ? AND source IN ('html', 'pdf') ORDER BY fetched_at DESC",
        (paper_id,),
    ).fetchall()
    return [
        (p.label, p.text)
        for row in rows
        for p in FullText.model_validate_json(zlib.decompress(row["fulltext"])).passages
    ]


def passage(ledger: Ledger, paper: Paper, judgement: dict[str, Any]) -> Passage:
    quote = judgement.get("quote") or ""
    source, section = judgement.get("quote_source"), judgement.get("quote_section") or ""
    blocks: list[tuple[str, str]] = []
    if source == "abstract":
        blocks = [("abstract", paper.abstract)]
    elif source == "fulltext":
        blocks = [(f"full text, {label}", text) for label, text in _fulltext_passages(ledger, paper.id)]
    elif source == "citation-context" and section:
        cited = contexts_for(ledger, paper.id, [section])
        blocks = [(f"where it cites {section}", text) for c in cited for text in c.contexts]
    for where, text in blocks:
        segments = split_on(text, quote)
        if segments is not None:
            return Passage(where, segments, True)
    where = ", ".join(filter(None, [source, section])) or "quote"
    return Passage(where, [(quote, True)] if quote else [], False)


def history_line(entry: Any) -> tuple[str, str]:
    """One history entry as (what happened, why)."""
    if isinstance(entry, StatusChange):
        pin = " (pinned verdict)" if entry.pinned else ""
        return f"{entry.from_} → {entry.to} by {entry.by}{pin}", entry.rationale
    if isinstance(entry, ReviewDecision):
        return f"review {entry.item}: {entry.decision}ed {entry.stance} from {entry.source} by {entry.by}", (
            entry.rationale or ""
        )
    if isinstance(entry, RulingLifted):
        return f"lifted the ruling ({entry.lifted}) on {entry.source} by {entry.by}", entry.rationale
    if isinstance(entry, AnchorDecision):
        return f"anchor arXiv:{entry.arxiv} set {entry.confidence} by {entry.by}", entry.rationale
    if isinstance(entry, PaperMerge):
        return f"paper {entry.merged} is {entry.into} (by {entry.by})", ""
    return type(entry).__name__, ""


def stances(item: ReviewItem) -> set[str]:
    return {j["stance"] for j in (item.judge, item.confirm) if j.get("stance")}


def quote_sources(item: ReviewItem) -> set[str]:
    return {j["quote_source"] for j in (item.judge, item.confirm) if j.get("quote_source")}


def matches(item: ReviewItem, lines: list[str], wanted: dict[str, str]) -> bool:
    """The queue's filters: claim, line, stance (either judgement's), source (the block either one quoted), and
    why the pair waits (disagree, uncertain, unqualified)."""
    return (
        wanted.get("reason", "") in ("", item.reason or "")
        and wanted.get("claim", "") in ("", item.claim_id)
        and wanted.get("line", "") in ("", *lines)
        and wanted.get("stance", "") in ("", *stances(item))
        and wanted.get("source", "") in ("", *quote_sources(item))
    )
