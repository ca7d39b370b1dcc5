"""The status rules, in one place (docs/agent.md shows them as a table).

Evidence is *credible* when it is grounded and either measured or confirmed: a paper judged by a qualified
judge carries its quote and its stance probabilities (assess.py); any other paper judgement carries a quote,
confidence at or above the threshold, and a confirmation (a second judgement that agreed, or a person who
accepted it from the review queue); a replication carries its spec rule's verdict (judged_by "rule:..."); a
manual item carries a person's name. A paper a person ruled on (a verdict's overrule, a review's reject or
accept) stays as they left it, however often it is judged again (see `counted` and rulings.py).

The rule over weights: superseded when the supersedes (from a paper newer than the claim, or a replication)
outweigh all the rest; relaxed when the contests outweigh the supports (with the scope note of the heaviest
contesting paper); holding when the supports outweigh the contests; split when they weigh the same; none when
nothing bears on the claim. A measured paper weighs 1 when its stance is true, which it is with its
probability; anything else weighs its confidence (a paper: the lower of its two judgements'; a replication or a
person's item without one: 1), certainly. weighing.py turns that into a probability per outcome, and the
status moves only when one is clearly the most probable (by the margin); inside it the status stays, and the
claim is contested when another outcome comes within the margin. A paper counts once, by its one identity:
when it was judged again (its full text read after its abstract, a new version), the newest reading of the most
complete material is the one that counts, if it is credible.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from claimtrack.agent.weighing import Choice, Item, choose, outcome_probabilities
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

DEFAULT_MARGIN = 0.5  # Settings.status_margin


def is_credible(evidence: Evidence, threshold: float) -> bool:
    if evidence.stance == Stance.UNRELATED:
        return False
    if evidence.kind == EvidenceKind.PAPER and evidence.probability is not None:
        return bool(evidence.quote)  # measured: it counts by its probabilities, not by a confidence it wrote
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
    """How much a credible item weighs in the balance: a measured paper, the probability of its direction (it
    counts 1 when true); anything else, its confidence (a paper: the lower of its two judgements')."""
    if evidence.probability is not None:
        if evidence.stance in CONTESTING:
            return sum(evidence.probability.get(s, 0.0) for s in CONTESTING)
        return evidence.probability.get(evidence.stance, 0.0)
    values = [evidence.confidence] if evidence.confidence is not None else []
    if evidence.confirmation is not None and evidence.confirmation.confidence is not None:
        values.append(evidence.confirmation.confidence)
    return min(values) if values else 1.0


def effective_stance(evidence: Evidence, claim: Claim) -> Stance:
    """A paper that predates the claim cannot supersede it; it can only contest it."""
    if evidence.stance == Stance.SUPERSEDES and _predates(evidence, claim):
        return Stance.CONTRADICTS
    return evidence.stance


def _predates(evidence: Evidence, claim: Claim) -> bool:
    return bool(
        evidence.kind == EvidenceKind.PAPER
        and evidence.published
        and claim.claimed
        and partial_date_start(evidence.published) < partial_date_start(claim.claimed)
    )


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


@dataclass(frozen=True)
class Decision:
    """What the evidence calls for: a status change (or None), and why the status in force is contested."""

    change: StatusChange | None
    contested: str | None = None  # the balance, when another outcome is within the margin of the status in force


def decide(claim: Claim, **options: Any) -> StatusChange | None:
    """The status change the evidence calls for (dated `now`, made `by` a run or a person), or None; the
    options are weigh()'s."""
    return weigh(claim, **options).change


def weigh(
    claim: Claim,
    *,
    threshold: float,
    by: str,
    now: dt.datetime,
    margin: float = DEFAULT_MARGIN,
    waiting: Sequence[tuple[str, Mapping[Stance, float]]] = (),
) -> Decision:
    """Weigh the claim's credible evidence into outcome probabilities (weighing.py), and move the status when one
    is clearly the most probable. The measured pairs `waiting` for review, as (paper id, probabilities), weigh
    by their probabilities until a person decides them, but only to hold the status in force: a move needs the
    counted evidence to call for it, with and without them."""
    weighed, excluded, superseded = counted(claim, threshold)
    ruled = rulings(claim)
    held = {paper_of(claim, e.source) for e in weighed if e.kind == EvidenceKind.PAPER}
    named = [(paper_of(claim, paper if ":" in paper else f"arXiv:{paper}"), p) for paper, p in waiting]  # ledger id
    pending = [(paper, p) for paper, p in named if paper not in held | set(ruled)]
    if not weighed and not pending:
        return Decision(None)
    items = [_item(e, claim) for e in weighed]
    odds = outcome_probabilities([*items, *(Item(Stance.UNRELATED, probability=p) for _, p in pending)])
    choice = choose(odds, claim.status, margin)
    if pending:  # a pair waiting for a person can stop a move, never make one: the counted evidence must call for it
        alone = choose(outcome_probabilities(items), claim.status, margin) if items else Choice(None, False)
        if alone.target != choice.target:
            choice = Choice(None, choice.contested or alone.contested or choice.target is not None)
    supports = [e for e in weighed if effective_stance(e, claim) == Stance.SUPPORTS]
    contests = [e for e in weighed if effective_stance(e, claim) in CONTESTING]
    supersedes = [e for e in contests if effective_stance(e, claim) == Stance.SUPERSEDES]
    balance = (
        f"{len(supports)} supports ({_sum(supports):.2f}), {len(contests)} contests ({_sum(contests):.2f}"
        + (f", of which {len(supersedes)} supersedes {_sum(supersedes):.2f}" if supersedes else "")
        + ")"
        + (f", {len(pending)} waiting for review" if pending else "")
    )
    chances = _chances(odds)
    if choice.target is None:
        contested = f"{balance}; {chances}; {claim.status} stays" if choice.contested else None
        return Decision(None, contested)
    target = choice.target
    scope = None
    if target == Status.SUPERSEDED:
        deciding, why = supersedes, "the superseding evidence outweighs all the rest"
    elif target == Status.RELAXED:
        deciding, why = contests, "the contests outweigh the support"
        papers = [e for e in _heaviest_first(contests) if e.kind != EvidenceKind.REPLICATION and e.scope_note]
        scope = papers[0].scope_note if papers else None
    else:
        deciding = supports
        why = "the support outweighs the contests" if contests else "nothing contests it"
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
    rationale = f"{balance}: {why}{note}; {chances}. {reasons}"
    change = StatusChange(
        from_=claim.status,
        to=target,
        at=now.replace(microsecond=0),
        by=by,
        evidence=[e.id for e in deciding],
        rationale=rationale,
        scope=scope,
    )
    return Decision(change)


def _item(evidence: Evidence, claim: Claim) -> Item:
    """The evidence as the status rule weighs it: a measured paper by its probabilities (a supersedes from a
    paper older than the claim counting as contradicts), anything else certainly, at its weight."""
    stance = effective_stance(evidence, claim)
    if evidence.probability is None:
        return Item(stance, weight(evidence))
    probability = dict(evidence.probability)
    if stance != evidence.stance or _predates(evidence, claim):
        probability[Stance.CONTRADICTS] = probability.get(Stance.CONTRADICTS, 0.0) + probability.pop(
            Stance.SUPERSEDES, 0.0
        )
    return Item(stance, probability=probability)


def _chances(odds: Mapping[str, float]) -> str:
    """The outcome probabilities as the rationale states them, most probable first."""
    ranked = sorted(odds.items(), key=lambda kv: -kv[1])
    return "P(" + ", ".join(f"{name} {p:.2f}" for name, p in ranked if p >= 0.005) + ")"


def _sum(items: list[Evidence]) -> float:
    return sum(weight(e) for e in items)


def _heaviest_first(items: list[Evidence]) -> list[Evidence]:
    return sorted(items, key=lambda e: -weight(e))


def _reason(evidence: Evidence, claim: Claim) -> str:
    stance = effective_stance(evidence, claim)
    conf = f" ({weight(evidence):.2f})" if evidence.confidence is not None else ""
    quote = f': "{evidence.quote}"' if evidence.quote else ""
    return f"{evidence.source}{conf} {stance.value}{quote}"
