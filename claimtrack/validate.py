"""Whole-store checks beyond what one file's schema can say: references, history, duplicates."""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from claimtrack.errors import Problem
from claimtrack.models import (
    Claim,
    EvidenceKind,
    HistoryEntry,
    PaperMerge,
    ReviewDecision,
    RulingLifted,
    Status,
    StatusChange,
)
from claimtrack.rulings import paper_identity, paper_of, rulings
from claimtrack.store import Library, Store


def validate_store(store: Store) -> tuple[Library, list[Problem]]:
    """Every problem in the store, each naming its file and field."""
    library = store.read()
    problems = list(library.problems)
    seen_titles: dict[str, str] = {}
    aliases: dict[str, str] = {}
    for claim in library.claims.values():
        file = store.display(store.claim_path(claim.id))
        problems.extend(_claim_problems(claim, file))
        title = " ".join(claim.title.split()).casefold()
        if title in seen_titles:
            problems.append(
                Problem(file, "title", f"same title as claim '{seen_titles[title]}'; a recurring note is one claim")
            )
        seen_titles.setdefault(title, claim.id)
        for alias in claim.aliases:
            owner = aliases.setdefault(alias, claim.id)
            if owner != claim.id or alias in library.claims:
                problems.append(
                    Problem(file, "aliases", f"'{alias}' also names claim '{owner if owner != claim.id else alias}'")
                )
    for line in library.lines.values():
        file = store.display(store.line_path(line.id))
        for index, claim_id in enumerate(line.claims):
            if claim_id not in library.claims:
                close = difflib.get_close_matches(claim_id, list(library.claims), n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                problems.append(Problem(file, f"claims.{index}", f"unknown claim id '{claim_id}'{hint}"))
            elif line.claims.index(claim_id) != index:
                problems.append(Problem(file, f"claims.{index}", f"'{claim_id}' is listed twice"))
    from claimtrack.replication.specs import validate_specs  # replication specs are checked like claims

    problems.extend(validate_specs(store.ws, library))
    return library, problems


def _claim_problems(claim: Claim, file: str) -> list[Problem]:
    problems = []
    if not claim.anchors and not claim.anchor_note:
        problems.append(Problem(file, "anchor_note", "a claim without anchors must say why (anchor_note)"))
    evidence_ids = [e.id for e in claim.evidence]
    for index, evidence_id in enumerate(evidence_ids):
        if evidence_ids.index(evidence_id) != index:
            problems.append(Problem(file, f"evidence.{index}.id", f"duplicate evidence id '{evidence_id}'"))
    previous: StatusChange | None = None
    for index, entry in enumerate(claim.history):
        if index and entry.at < claim.history[index - 1].at:
            problems.append(Problem(file, f"history.{index}.at", "earlier than the entry before it"))
        kind = _ENTRY[getattr(entry, "event", "status")]
        problems.extend(
            Problem(file, f"history.{index}.{field}", f"{kind} {message}")
            for field, message in _references(claim, index, entry)
        )
        if not isinstance(entry, StatusChange):
            continue
        if previous is not None and entry.from_ != previous.to:
            problems.append(
                Problem(file, f"history.{index}.from", f"'{entry.from_}' but the change before ends at '{previous.to}'")
            )
        previous = entry
    expected = claim.latest_change.to if claim.latest_change else Status.UNTESTED
    if claim.status != expected:
        problems.append(Problem(file, "status", f"'{claim.status}' but its history ends at '{expected}'"))
    return problems


_ENTRY = {
    "status": "the status change",
    "review": "the review decision",
    "lift": "the lift",
    "paper": "the paper merge",
    "anchor": "the anchor decision",
}


def _references(claim: Claim, index: int, entry: HistoryEntry) -> Iterator[tuple[str, str]]:
    """(field, problem) for each reference of history entry `index` that the claim file shows to be wrong. Only
    what every writer keeps is checked. Evidence is never removed, so the ids an entry names stay. A merge's
    evidence names the id kept (or one a later merge kept), never the id given up again; evidence judged
    elsewhere may name that id afresh, which readers follow through the merge (rulings.paper_of), so that is
    no defect. A rejected review leaves no evidence: its paper is known by the decision alone. A person's
    anchor may be edited by hand since, so an anchor decision is not held to the anchors."""
    held = {e.id: e for e in claim.evidence}
    named = entry.evidence if isinstance(entry, (StatusChange, PaperMerge)) else []
    if isinstance(entry, ReviewDecision) and entry.evidence is not None:
        named = [entry.evidence]
    for ref in named:
        if ref not in held:
            yield "evidence", f"names unknown evidence '{ref}'"
    if isinstance(entry, StatusChange):
        for ref in entry.overrules or []:
            if ref not in held:
                yield "overrules", f"overrules unknown evidence '{ref}'"
    elif isinstance(entry, ReviewDecision):
        item = held.get(entry.evidence or "")
        if item is not None and paper_of(claim, item.source) != paper_of(claim, entry.source):
            yield "evidence", f"names '{item.id}', evidence of {item.source}, not of its paper {entry.source}"
    elif isinstance(entry, RulingLifted):
        if paper_of(claim, entry.source) not in rulings(claim, before=index):
            yield "source", f"names {entry.source}, on which no ruling was in force"
    elif isinstance(entry, PaperMerge):
        kept = paper_of(claim, entry.into)
        gone = paper_identity(entry.merged)  # evidence naming it is read as `into`, so it cannot vouch for `into`
        papers = {
            paper_of(claim, e.source)
            for e in claim.evidence
            if e.kind == EvidenceKind.PAPER and paper_identity(e.source) != gone
        }
        if kept not in papers:
            yield "into", f"keeps {entry.into}, a paper none of the claim's evidence names"
        for item in (held[ref] for ref in entry.evidence if ref in held):
            if paper_identity(item.source) == gone:
                yield "evidence", f"rewrote '{item.id}', which still names {entry.merged}, the id given up"
            elif kept in papers and paper_of(claim, item.source) != kept:
                yield "evidence", f"rewrote '{item.id}', which names {item.source}, not {entry.into}, the paper kept"
