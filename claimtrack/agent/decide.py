"""The status rules, in one place (docs/agent.md shows them as a table).

Evidence is *credible* when its confidence reaches the threshold and it is grounded: a paper judgement
carries a verbatim quote (checked when it was judged), a replication carries its spec rule's verdict
(judged_by "rule:..."), a manual item carries a person's name. Over the credible evidence, first match wins:

  1. any supersedes (from a paper newer than the claim, or a replication) -> superseded
  2. any relaxes or contradicts (or a supersedes from a paper not newer than the claim) -> relaxed,
     with the scope note of the most confident one
  3. any supports                                                           -> holding
  4. nothing credible                                                       -> unchanged

A person's pinned verdict stands until credible evidence judged after it arrives; then only the evidence
newer than the verdict is weighed, so the person's call is not overturned by what they already saw.
"""

from __future__ import annotations

import datetime as dt

from claimtrack.models import Claim, Evidence, EvidenceKind, Stance, Status, StatusChange, partial_date_start

CONTESTING = (Stance.RELAXES, Stance.CONTRADICTS, Stance.SUPERSEDES)


def is_credible(evidence: Evidence, threshold: float) -> bool:
    if evidence.stance == Stance.UNRELATED:
        return False
    if evidence.kind == EvidenceKind.PAPER:
        return bool(evidence.quote) and (evidence.confidence or 0.0) >= threshold
    if evidence.kind == EvidenceKind.REPLICATION:
        return evidence.judged_by.startswith("rule:") and (
            evidence.confidence is None or evidence.confidence >= threshold
        )
    return evidence.judged_by.startswith("person:")


def effective_stance(evidence: Evidence, claim: Claim) -> Stance:
    """A paper that predates the claim cannot supersede it; it can only contest it."""
    if (
        evidence.stance == Stance.SUPERSEDES
        and evidence.kind == EvidenceKind.PAPER
        and evidence.published
        and claim.claimed
        and partial_date_start(evidence.published) < partial_date_start(claim.claimed)
    ):
        return Stance.CONTRADICTS
    return evidence.stance


def latest_pin(claim: Claim) -> StatusChange | None:
    """The person's verdict in force: the latest change, when it is pinned."""
    change = claim.latest_change
    return change if change is not None and change.pinned else None


def decide(claim: Claim, *, threshold: float, run_id: str, now: dt.datetime) -> StatusChange | None:
    """The status change the evidence calls for, or None when the status stays."""
    weighed = [e for e in claim.evidence if is_credible(e, threshold)]
    pin = latest_pin(claim)
    if pin is not None:
        weighed = [e for e in weighed if e.judged_at > pin.at]
    if not weighed:
        return None
    by_stance: dict[Stance, list[Evidence]] = {}
    for item in weighed:
        by_stance.setdefault(effective_stance(item, claim), []).append(item)
    scope = None
    if by_stance.get(Stance.SUPERSEDES):
        target, deciding = Status.SUPERSEDED, by_stance[Stance.SUPERSEDES]
    elif by_stance.get(Stance.RELAXES) or by_stance.get(Stance.CONTRADICTS):
        target = Status.RELAXED
        deciding = sorted(
            by_stance.get(Stance.RELAXES, []) + by_stance.get(Stance.CONTRADICTS, []),
            key=lambda e: -(e.confidence or 1.0),
        )
        scope = next((e.scope_note for e in deciding if e.scope_note), None)
    else:
        target, deciding = Status.HOLDING, by_stance[Stance.SUPPORTS]
    if target == claim.status:
        return None
    rationale = "; ".join(_reason(e, claim) for e in deciding[:3])
    if len(deciding) > 3:
        rationale += f"; and {len(deciding) - 3} more"
    return StatusChange(
        from_=claim.status,
        to=target,
        at=now.replace(microsecond=0),
        by=run_id,
        evidence=[e.id for e in deciding],
        rationale=rationale,
        scope=scope,
    )


def _reason(evidence: Evidence, claim: Claim) -> str:
    stance = effective_stance(evidence, claim)
    conf = f" ({evidence.confidence:.2f})" if evidence.confidence is not None else ""
    quote = f': "{evidence.quote}"' if evidence.quote else ""
    return f"{evidence.source}{conf} {stance.value}{quote}"
