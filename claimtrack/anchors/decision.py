"""`claimtrack anchors set`: a person links a claim to its paper, or confirms or corrects the link."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from claimtrack.anchors.resolve import NO_ANCHOR
from claimtrack.models import Anchor, AnchorConfidence, AnchorDecision, Claim
from claimtrack.store import Store

_COMPARED = ("title", "first_author", "date", "version", "confidence")


def changes(before: Anchor | None, after: Anchor) -> list[str]:
    """What the decision changes, one field per entry ("first_author: 'X' -> 'Y'")."""
    if before is None:
        return [f"linked arXiv:{after.arxiv}"]
    out = []
    for name in _COMPARED:
        old, new = getattr(before, name), getattr(after, name)
        if old != new:
            out.append(f"{name}: {_shown(old)} -> {_shown(new)}")
    if before.found_by is not None:
        out.append(f"found_by: {before.found_by} -> a person")
    return out


def _shown(value: object) -> str:
    return "none" if value is None else f"'{value}'"


def set_anchor(
    store: Store,
    claim_id: str,
    anchor: Anchor,
    *,
    by: str,
    because: str,
    categories: Sequence[str] = (),
    anchor_note: str | None = None,
    now: dt.datetime | None = None,
) -> tuple[Claim, AnchorDecision]:
    """Write `anchor` (a person's: its confidence is not `resolved`) into the claim, with a dated decision in
    its history naming what changed. The claim's date and search categories are filled where it has none;
    `anchor_note` replaces the claim's note when given, and the import's "no paper tied" note goes."""
    person = by if by.startswith("person:") else f"person:{by}"
    anchor = Anchor.model_validate({**anchor.model_dump(), "found_by": None, "score": None})
    decided: list[AnchorDecision] = []

    def apply(claim: Claim) -> None:
        before = next((a for a in claim.anchors if a.arxiv == anchor.arxiv), None)
        decision = AnchorDecision(
            at=claim.entry_time(now or dt.datetime.now(dt.UTC)),
            by=person,
            arxiv=anchor.arxiv,
            confidence=AnchorConfidence(anchor.confidence),
            changes=changes(before, anchor) or ["confirmed as stored"],
            rationale=because,
        )
        claim.decide_anchor(anchor, decision)
        if claim.claimed is None:
            claim.claimed = anchor.date
        if not claim.search.categories and categories:
            claim.search = claim.search.model_copy(update={"categories": list(categories)})
        if anchor_note is not None:
            claim.anchor_note = anchor_note
        elif claim.anchor_note == NO_ANCHOR:
            claim.anchor_note = None
        decided.append(decision)

    return store.update_claim(claim_id, apply), decided[-1]
