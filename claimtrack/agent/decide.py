"""The status rules, in one place (docs/agent.md shows them as a table).

Evidence is *credible* when it is grounded, confident and confirmed: a paper judgement carries a quote copied
from the sentences it cited, confidence at or above the threshold, and a confirmation (a second judgement
that agreed, or a person who accepted it from the review queue); a replication carries its spec rule's
verdict (judged_by "rule:..."); a manual item carries a person's name. Evidence a person's verdict overruled
is never weighed again (see `overruled`).

Each credible item weighs its confidence (for a paper, the lower of its two judgements'; a replication or a
person's item without one weighs 1). Over the weighed evidence, the first matching row wins:

  1. nothing credible                                                        -> unchanged
  2. supersedes (from a paper newer than the claim, or a replication) outweigh
     all the other evidence together                                         -> superseded
  3. contests (relaxes, contradicts, supersedes) outweigh the supports       -> relaxed, with the scope note
                                                                                of the heaviest contesting paper
  4. otherwise: the supports weigh at least as much as the contests          -> holding

so one contest cannot overturn a well-supported claim, and the rationale states the balance. A paper counts
once: when it was judged again (its full text read after its abstract, a new version), its newest credible
judgement is weighed and the earlier ones are not.
"""

from __future__ import annotations

import datetime as dt

from claimtrack.models import (
    CONTESTING,
    Claim,
    Evidence,
    EvidenceKind,
    ReviewDecision,
    Stance,
    Status,
    StatusChange,
    partial_date_start,
)


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


def overruled(claim: Claim) -> set[str]:
    """Evidence ids a person's verdict overruled, for good: each pinned change lists the evidence the claim held
    when the person decided (its `overrules`), and only a person re-admits one (accepting it from the review
    queue after the verdict). A pinned change written before `overrules` existed overrules the evidence judged
    at or before it, except the items the verdict itself cites."""
    out: set[str] = set()
    for entry in claim.history:
        if isinstance(entry, ReviewDecision):
            if entry.decision == "accept" and entry.evidence:
                out.discard(entry.evidence)
        elif isinstance(entry, StatusChange) and entry.pinned:  # other entries (anchor decisions) overrule nothing
            if entry.overrules is not None:
                out |= set(entry.overrules)
            else:
                own = set(entry.evidence)
                out |= {e.id for e in claim.evidence if e.judged_at <= entry.at and e.id not in own}
    return out


def newest_per_paper(items: list[Evidence]) -> list[Evidence]:
    """The items with only each paper's newest judgement: a paper judged again (its full text read after its
    abstract, a new version, an edited prompt) is one paper and counts once, as it was last read."""
    newest: dict[str, Evidence] = {}
    for item in items:
        if item.kind == EvidenceKind.PAPER and (
            item.source not in newest or item.judged_at >= newest[item.source].judged_at
        ):
            newest[item.source] = item
    return [e for e in items if e.kind != EvidenceKind.PAPER or newest[e.source] is e]


def decide(claim: Claim, *, threshold: float, by: str, now: dt.datetime) -> StatusChange | None:
    """The status change the evidence calls for (dated `now`, made `by` a run or a person), or None."""
    excluded = overruled(claim)
    credible = [e for e in claim.evidence if e.id not in excluded and is_credible(e, threshold)]
    weighed = newest_per_paper(credible)
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
        notes.append(f"{len(excluded & {e.id for e in claim.evidence})} overruled by a person's verdict, not weighed")
    if len(weighed) < len(credible):
        notes.append(f"{len(credible) - len(weighed)} earlier judgements of papers judged again, not weighed")
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
