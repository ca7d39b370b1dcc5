"""The research prompt for an inquiring line: the line's dated claims, their anchors and what the tracker
has found, framed as a task for an LLM (or a person) to re-test each claim against newer work.

Deterministic by construction: it reads only the store and the ledger's pending candidates and review
queue, in their stored order, and prints no clock time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from claimtrack.models import Claim, Evidence, Line, Status
from claimtrack.reports.common import changing_evidence, evidence_date, format_numbers, one_line
from claimtrack.store import Library

MAX_PENDING_PER_CLAIM = 5  # the best-ranked unjudged candidates; the rest are in `report status`


@dataclass
class _AnchorRow:
    arxiv: str
    date: str
    title: str
    claims: list[str]
    confidence: str = "verified"


Rows = dict[str, list[dict[str, Any]]]


def build_prompts(library: Library, pending: Rows, line_id: str | None = None, review: Rows | None = None) -> str:
    """One prompt per line (all lines, in file order, when `line_id` is None). `review` holds the open review
    items per claim (review.open_by_claim)."""
    lines = [library.line(line_id)] if line_id is not None else list(library.lines.values())
    if not lines:
        return "No inquiring lines in the store: import one with `claimtrack import-line FILE`.\n"
    return "\n---\n\n".join(line_prompt(library, line, pending, review or {}) for line in lines)


def line_prompt(library: Library, line: Line, pending: Rows, review: Rows | None = None) -> str:
    claims = [library.claims[c] for c in line.claims if c in library.claims]
    missing = [c for c in line.claims if c not in library.claims]
    years = sorted({c.year for c in claims if c.year})
    span = f"{years[0]}–{years[-1]}" if len(years) > 1 else (years[0] if years else "undated")
    out = [
        f"# Research prompt: {one_line(line.question)}",
        "",
        f"*Inquiring line `{line.id}`, {len(claims)} claims, from the claimtrack store.*",
        "",
        "You are re-examining a line of research on how models learn. Its claims were true of the work"
        " they came from, at the time they were made; your job is to find out which of them still hold.",
        "",
        "## The question",
        "",
        f"**{one_line(line.question)}**",
        "",
        one_line(line.framing),
        "",
        "## Dated claims (what was found, and when; not current truth)",
        "",
        f"The findings date from {span}. Treat each as perishable until it has been re-tested.",
        "",
    ]
    for claim in claims:
        out += _claim_bullet(claim)
    for claim_id in missing:
        out.append(f"- `{claim_id}`: listed by the line but missing from the store.")
    out += ["", "## Anchor papers (verify each; mind its date)", ""]
    anchors = _anchor_rows(line, claims)
    if anchors:
        for row in anchors:
            used = (
                f" Anchor of {', '.join(f'`{c}`' for c in row.claims)}."
                if row.claims
                else " Named by the line's prompt."
            )
            doubt = {
                "verified": "",
                "resolved": " Linked to its claim by claimtrack; no person has confirmed it yet.",
            }.get(row.confidence, f" Tied to its claim with {row.confidence} confidence.")
            out.append(f"- arXiv:{row.arxiv} ({row.date}): {one_line(row.title).rstrip('.')}.{used}{doubt}")
    else:
        out.append("- None recorded: every claim in this line still needs a paper behind it.")
    unanchored = [c.id for c in claims if not c.anchors]
    if unanchored:
        out += ["", "Claims with no anchor paper (grounding unknown): " + ", ".join(f"`{c}`" for c in unanchored) + "."]
    out += ["", "## What the tracker has already found", ""]
    found = _found(claims, pending, review or {})
    out += found or [NOTHING_FOUND]
    out += ["", "## Your task", ""]
    out += _task(claims, found=bool(found))
    return "\n".join(out) + "\n"


def _claim_bullet(claim: Claim) -> list[str]:
    when = claim.claimed or "undated"
    status = str(claim.status)
    change = claim.latest_change
    if change is not None:
        status += f" since {change.at.date().isoformat()}"
    anchor = (
        "; ".join(f"arXiv:{a.arxiv}" for a in claim.anchors) if claim.anchors else "no anchor paper (not yet grounded)"
    )
    rows = [f"- **{one_line(claim.title)}** ({when}; {status}) {one_line(claim.statement)} [`{claim.id}`; {anchor}]"]
    if claim.caveat:
        rows.append(f"  - Caveat: {one_line(claim.caveat)}")
    if claim.contested:
        rows.append(f"  - Contested (the evidence is split; the status stays): {one_line(claim.contested)}")
    if claim.status in (Status.RELAXED, Status.SUPERSEDED):
        if change is not None and change.scope:
            rows.append(f"  - Still holds within: {one_line(change.scope)}")
        evidence = changing_evidence(claim)
        if change is not None:
            rows.append(f"  - Why it changed: {one_line(change.rationale)}")
        for item in evidence:
            rows.append(f"  - Changed by {_evidence_line(item)}")
        if not evidence:
            rows.append("  - No evidence is recorded for this change: treat it as ungrounded.")
    return rows


def _evidence_line(item: Evidence) -> str:
    text = f"{item.source} ({evidence_date(item)}, {item.stance})"
    if item.title:
        text += f" {one_line(item.title)}"
    if item.quote:
        text += f': "{one_line(item.quote)}"' + (f" ({item.quote_origin})" if item.quote_origin else "")
    if item.numbers:
        text += f" [{format_numbers(item.numbers)}]"
    if item.scope_note:
        text += f" Scope: {one_line(item.scope_note)}"
    return text


def _anchor_rows(line: Line, claims: list[Claim]) -> list[_AnchorRow]:
    """Anchors of the line's claims, then the line's own prompt anchors, each paper once, oldest first."""
    rows: dict[str, _AnchorRow] = {}
    for claim in claims:
        for anchor in claim.anchors:
            row = rows.setdefault(
                anchor.arxiv,
                _AnchorRow(anchor.arxiv, anchor.date or "undated", anchor.display_title, [], str(anchor.confidence)),
            )
            if claim.id not in row.claims:
                row.claims.append(claim.id)
    for anchor in line.prompt_anchors:
        if anchor.arxiv not in rows:
            year = str(anchor.year) if anchor.year else "undated"
            rows[anchor.arxiv] = _AnchorRow(anchor.arxiv, year, anchor.topic, [])
    return sorted(rows.values(), key=lambda r: (r.date, r.arxiv))


def _found(claims: list[Claim], pending: Rows, review: Rows) -> list[str]:
    out: list[str] = []
    for claim in claims:
        judged = [e for e in claim.evidence if e.stance != "unrelated"]
        waiting = pending.get(claim.id, [])
        disputed = review.get(claim.id, [])
        if not judged and not waiting and not disputed and not claim.replications:
            continue
        out.append(f"- `{claim.id}`:")
        for item in judged:
            out.append(f"  - judged: {_evidence_line(item)}")
        for record in claim.replications:
            out.append(f"  - measured {record.at.date().isoformat()} (lm-eval probe): {one_line(record.describe())}")
        for item in disputed:
            first, second = item["judge"], item["confirm"]
            out.append(
                f"  - disputed, waiting for a person's review: {item['paper']} {one_line(item['title'])}"
                f" (one judgement says {first.get('stance', 'nothing')}, the other"
                f" {second.get('stance', 'nothing')})"
            )
        for row in waiting[:MAX_PENDING_PER_CLAIM]:
            paper = row["paper_id"]
            ref = paper if ":" in paper else f"arXiv:{paper}"
            out.append(f"  - not yet judged: {ref} ({row['published'] or 'undated'}) {one_line(row['title'])}")
        if len(waiting) > MAX_PENDING_PER_CLAIM:
            out.append(f"  - and {len(waiting) - MAX_PENDING_PER_CLAIM} more candidates not yet judged")
    queued = sum(len(review.get(c.id, [])) for c in claims)
    if queued:
        pairs = "1 judged pair of this line waits" if queued == 1 else f"{queued} judged pairs of this line wait"
        out += ["", f"{pairs} for a person's review (their two judgements disagree)."]
    return out


NOTHING_FOUND = "Nothing yet: no evidence has been judged, nothing measured, and no candidate papers wait to be judged."


def _task(claims: list[Claim], *, found: bool) -> list[str]:
    """The task, worded for what the tracker has: step 2 starts from its papers only when it has some."""
    newest = max((c.claimed for c in claims if c.claimed), default=None)
    after = f" (especially work after {newest})" if newest else ""
    start = (
        "Start from the papers the tracker has already found (listed above), check whether they say what is"
        " recorded, then go beyond them."
        if found
        else "The tracker has found none yet, so start from the anchor papers: the work that cites them and"
        " newer work on the same question."
    )
    return [
        f"1. **Re-test each claim.** For every claim above, look for newer work{after} that narrows,"
        " overturns or confirms it. Say for each whether it still holds, holds only in a narrower scope"
        " (state the scope), or has been replaced, and keep the lasting question apart from the limit"
        " that may have expired.",
        f"2. **Find the strongest contradicting or superseding work.** {start}",
        "3. **Propose two research questions** that assume the regime may have shifted since these"
        " claims were made: what would you test if the old constraint no longer held?",
        "4. **Ground everything.** Cite an arXiv id for each statement. Flag anything you cannot tie to"
        ' a real paper, and treat claims marked "no anchor paper" as unverified until you find one.',
    ]
