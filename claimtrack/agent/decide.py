"""The status rules, in one place (docs/agent.md shows them as a table).

Evidence is *credible* when it is grounded, confident and confirmed: a paper judgement carries a quote copied
from the sentences it cited, confidence at or above the threshold, and a confirmation (a second judgement
that agreed, or a person who accepted it from the review queue); a replication carries its spec rule's
verdict (judged_by "rule:..."); a manual item carries a person's name. A paper a person ruled on (a verdict's
overrule, a review's reject or accept) stays as they left it, however often it is judged again (see `counted`
and rulings.py).

Each credible item weighs its confidence (for a paper, the lower of its two judgements'; a replication or a
person's item without one weighs 1). Over the weighed evidence, the first matching row wins:

  1. nothing credible                                                        -> unchanged
  2. supersedes (from a paper newer than the claim, or a replication) outweigh
     all the other evidence together                                         -> superseded
  3. contests (relaxes, contradicts, supersedes) outweigh the supports       -> relaxed, with the scope note
                                                                                of the heaviest contesting paper
  4. otherwise: the supports weigh at least as much as the contests          -> holding

so one contest cannot overturn a well-supported claim, and the rationale states the balance. A paper counts
once, by its one identity: when it was judged again (its full text read after its abstract, a new version),
the newest reading of the most complete material is the one that counts, if it is credible.
"""

from __future__ import annotations

import datetime as dt

from claimtrack.models import (
    CONTESTING,
    Claim,
    Evidence,
    EvidenceKind,
    ReadMaterial,
    Stance,
    Status,
    StatusChange,
    partial_date_start,
)
from claimtrack.rulings import overruled_ids, paper_of, rulings


def is_credible(evidence: Evidence, threshold: float) -> bool:
    if evidence.stance == Stance.UNRELATED:
        return False
    if evidence.kind == EvidenceKind.PAPER:
        confirmation = evidence.confirmation
        return (
            bool(evidence.quote)
            and (evidence.confidence or 0.0) >= threshold
            and confirmation is not None
            and (confirmation.confidence is None or confirmation.confidence >= threshold)
        )
    if evidence.kind == EvidenceKind.REPLICATION:
        return evidence.judged_by.startswith("rule:") and (
            evidence.confidence is None or evidence.confidence >= threshold
        )
    return evidence.judged_by.startswith("person:")


def weight(evidence: Evidence) -> float:
    """How much a credible item weighs in the balance."""
    values = [evidence.confidence] if evidence.confidence is not None else []
    if evidence.confirmation is not None and evidence.confirmation.confidence is not None:
        values.append(evidence.confirmation.confidence)
    return min(values) if values else 1.0


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


def counted(claim: Claim, threshold: float) -> tuple[list[Evidence], int, int]:
    """The evidence the balance weighs, with how many of the claim's items a person's ruling kept out and how
    many earlier or less complete readings of a paper gave way to the one that counts.

    Per (claim, paper), by the paper's one identity (rulings.paper_of):
    - a paper a person overruled (a verdict) or rejected (a review) is not weighed, however it is judged again;
    - a paper a person accepted from the review queue counts as the reading they accepted, and no other;
    - otherwise the reading that counts is the newest judgement on the most complete material (the full text
      over the abstract), and it is weighed only when it is credible: a later reading that does not hold up
      (unconfirmed, unrelated) retracts an earlier one.
    Evidence that is not a paper's is weighed when credible and not overruled by a verdict (by id)."""
    ruled = rulings(claim)
    kept_out = overruled_ids(claim)
    readings: dict[str, Evidence] = {}
    weighed: list[Evidence] = []
    excluded = superseded = 0
    for item in claim.evidence:
        if item.kind != EvidenceKind.PAPER:
            if item.id in kept_out:
                excluded += 1
            elif is_credible(item, threshold):
                weighed.append(item)
            continue
        paper = paper_of(claim, item.source)
        ruling = ruled.get(paper)
        if ruling is not None and (ruling.kind != "accepted" or ruling.evidence != item.id):
            excluded += 1
            continue
        held = readings.get(paper)
        if held is None or ruling is not None or _reading_rank(item) >= _reading_rank(held):
            if held is not None:
                superseded += 1
            readings[paper] = item
        else:
            superseded += 1
    for item in readings.values():
        if ruled.get(paper_of(claim, item.source)) is not None or is_credible(item, threshold):
            weighed.append(item)
    order = {id(e): n for n, e in enumerate(claim.evidence)}
    return sorted(weighed, key=lambda e: order[id(e)]), excluded, superseded


def _reading_rank(item: Evidence) -> tuple[int, dt.datetime]:
    """Which of two readings of one paper counts: the more complete material, then the newer judgement."""
    return (list(ReadMaterial).index(item.read), item.judged_at)


def decide(claim: Claim, *, threshold: float, by: str, now: dt.datetime) -> StatusChange | None:
    """The status change the evidence calls for (dated `now`, made `by` a run or a person), or None."""
    weighed, excluded, superseded = counted(claim, threshold)
    if not weighed:
        return None
    supports = [e for e in weighed if effective_stance(e, claim) == Stance.SUPPORTS]
    contests = [e for e in weighed if effective_stance(e, claim) in CONTESTING]
    supersedes = [e for e in contests if effective_stance(e, claim) == Stance.SUPERSEDES]
    heavy_support, heavy_contest = _sum(supports), _sum(contests)
    balance = (
        f"{len(supports)} supports ({heavy_support:.2f}), {len(contests)} contests ({heavy_contest:.2f}"
        + (f", of which {len(supersedes)} supersedes {_sum(supersedes):.2f}" if supersedes else "")
        + ")"
    )
    scope = None
    if supersedes and _sum(supersedes) > heavy_support + heavy_contest - _sum(supersedes):
        target, deciding = Status.SUPERSEDED, supersedes
        why = "the superseding evidence outweighs all the rest"
    elif contests and heavy_contest > heavy_support:
        target, deciding = Status.RELAXED, contests
        why = "the contests outweigh the support"
        papers = [e for e in _heaviest_first(contests) if e.kind != EvidenceKind.REPLICATION and e.scope_note]
        scope = papers[0].scope_note if papers else None
    elif supports:
        target, deciding = Status.HOLDING, supports
        why = "the support outweighs the contests" if contests else "nothing contests it"
    else:
        return None
    if target == claim.status:
        return None
    deciding = _heaviest_first(deciding)
    reasons = "; ".join(_reason(e, claim) for e in deciding[:3])
    if len(deciding) > 3:
        reasons += f"; and {len(deciding) - 3} more"
    notes = []
    if excluded:
        notes.append(f"{excluded} ruled out by a person, not weighed")
    if superseded:
        notes.append(f"{superseded} other readings of papers judged again, not weighed")
    note = f" ({'; '.join(notes)})" if notes else ""
    rationale = f"{balance}: {why}{note}. {reasons}"
    return StatusChange(
        from_=claim.status,
        to=target,
        at=now.replace(microsecond=0),
        by=by,
        evidence=[e.id for e in deciding],
        rationale=rationale,
        scope=scope,
    )


def _sum(items: list[Evidence]) -> float:
    return sum(weight(e) for e in items)


def _heaviest_first(items: list[Evidence]) -> list[Evidence]:
    return sorted(items, key=lambda e: -weight(e))


def _reason(evidence: Evidence, claim: Claim) -> str:
    stance = effective_stance(evidence, claim)
    conf = f" ({weight(evidence):.2f})" if evidence.confidence is not None else ""
    quote = f': "{evidence.quote}"' if evidence.quote else ""
    return f"{evidence.source}{conf} {stance.value}{quote}"
