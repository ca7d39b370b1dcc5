"""A person's verdict: a dated, pinned status change that overrules the evidence it was made against.

The verdict lists the evidence the claim held when the person decided (`overrules`). Each paper among it is
overruled for the claim by its identity, not by that evidence's id: judged again on new material, a new version,
new prompts or another model, it still does not decide the claim, until a person lifts the ruling
(`claimtrack verdict ID --lift PAPER`; rulings.py). Papers the person had not seen can move the claim.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence

from claimtrack.errors import InvalidArgument
from claimtrack.ids import normalize_arxiv_id
from claimtrack.models import Claim, Evidence, EvidenceKind, Stance, Status, StatusChange
from claimtrack.store import Store

STANCE_OF = {Status.HOLDING: Stance.SUPPORTS, Status.RELAXED: Stance.RELAXES, Status.SUPERSEDED: Stance.SUPERSEDES}


def record_verdict(
    store: Store,
    claim_id: str,
    status: Status,
    because: str,
    *,
    by: str,
    evidence: Sequence[str] = (),
    scope: str | None = None,
    now: dt.datetime | None = None,
) -> Claim:
    """Set a claim's status on a person's authority, with each cited paper recorded as manual evidence."""
    if status == Status.UNTESTED:
        raise InvalidArgument("--status", "a verdict is holding, relaxed or superseded")
    if not because.strip():
        raise InvalidArgument("--because", "say why; the reason is the changelog")
    papers = []
    for ref in evidence:
        try:
            papers.append(normalize_arxiv_id(ref))
        except ValueError as exc:
            raise InvalidArgument("--evidence", str(exc)) from exc
    person = f"person:{by}"

    def apply(claim: Claim) -> None:
        # The clock is read under the store's lock, so verdicts written at once by two people are dated in
        # the order they land and the history stays in date order.
        at = claim.entry_time(now or dt.datetime.now(dt.UTC))
        items = [
            Evidence(
                id="manual-" + hashlib.sha256(f"{arxiv}|{at.isoformat()}|{by}".encode()).hexdigest()[:10],
                kind=EvidenceKind.MANUAL,
                source=f"arXiv:{arxiv}",
                stance=STANCE_OF[status],
                scope_note=scope,
                rationale=because,
                judged_by=person,
                judged_at=at,
            )
            for arxiv in dict.fromkeys(papers)  # a paper cited twice is one piece of evidence
        ]
        seen = [e.id for e in claim.evidence]
        claim.add_evidence(items)
        change = StatusChange(
            from_=claim.status,
            to=status,
            at=at,
            by=person,
            evidence=[item.id for item in items],
            rationale=because,
            scope=scope,
            pinned=True,
            overrules=seen,
        )
        claim.record_change(change)

    return store.update_claim(claim_id, apply)
