"""Whole-store checks beyond what one file's schema can say: references, history, duplicates."""

from __future__ import annotations

import difflib

from claimtrack.errors import Problem
from claimtrack.models import Claim, Status, StatusChange
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
    known = set(evidence_ids)
    previous: StatusChange | None = None
    for index, entry in enumerate(claim.history):
        if index and entry.at < claim.history[index - 1].at:
            problems.append(Problem(file, f"history.{index}.at", "earlier than the entry before it"))
        if not isinstance(entry, StatusChange):
            continue
        for ref in entry.evidence:
            if ref not in known:
                problems.append(Problem(file, f"history.{index}.evidence", f"names unknown evidence '{ref}'"))
        if previous is not None and entry.from_ != previous.to:
            problems.append(
                Problem(file, f"history.{index}.from", f"'{entry.from_}' but the change before ends at '{previous.to}'")
            )
        previous = entry
    expected = claim.latest_change.to if claim.latest_change else Status.UNTESTED
    if claim.status != expected:
        problems.append(Problem(file, "status", f"'{claim.status}' but its history ends at '{expected}'"))
    return problems
