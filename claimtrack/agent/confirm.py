"""Confirmation: a credible judgement counts only when a second, independent judgement of the same pair agrees.

The second judgement is made in the judge's reply format but from another presentation (prompt
agents/confirm.txt: the paper first, then the claim, worded differently), by the same model or by
CLAIMTRACK_CONFIRM_MODEL on the same endpoint, and it never sees the first answer. It must be credible itself
and agree on the direction (supports, or contesting); the stronger contesting stances need both: supersedes
only when both say supersedes, contradicts only when both say contradicts, otherwise the pair counts as
relaxes. A pair whose judgements disagree waits in the review queue (review.py) for a person.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from claimtrack.agent.judge import Judgement, JudgeOutcome, ask, build_request, lookup, to_evidence
from claimtrack.agent.llm import LLM
from claimtrack.agent.material import Block
from claimtrack.agent.prompts import Prompt
from claimtrack.ledger import Ledger
from claimtrack.models import Claim, Confirmation, Evidence, Stance
from claimtrack.papers import Paper
from claimtrack.review import enqueue

CONTESTING = (Stance.RELAXES, Stance.CONTRADICTS, Stance.SUPERSEDES)


def is_credible_judgement(judgement: Judgement | None, threshold: float) -> bool:
    """A judgement that could move a status: not unrelated, at or above the threshold."""
    return judgement is not None and judgement.stance != Stance.UNRELATED and judgement.confidence >= threshold


def agreed_stance(first: Judgement, second: Judgement | None, threshold: float) -> Stance | None:
    """The stance the pair counts as when the second judgement confirms the first, else None."""
    if not is_credible_judgement(second, threshold):
        return None
    assert second is not None
    if (first.stance in CONTESTING) != (second.stance in CONTESTING):
        return None
    if first.stance == second.stance:
        return first.stance
    return Stance.RELAXES  # both contest, in different strengths: the weakest claim both make


def confirmed_evidence(first: JudgeOutcome, second: JudgeOutcome, stance: Stance, run_id: str | None) -> Evidence:
    """The claim's evidence item for a confirmed pair: the first judgement, counted at the agreed stance, with
    the confirming judgement recorded beside it."""
    evidence = to_evidence(first, run_id)
    assert evidence is not None and first.judgement is not None and second.judgement is not None
    rationale = evidence.rationale or ""
    if stance != first.judgement.stance:
        rationale = (
            f"[judged {first.judgement.stance}, confirmed as {second.judgement.stance}: counts as {stance}] {rationale}"
        ).strip()
    confirmation = Confirmation(
        by=second.judged_by,
        stance=second.judgement.stance,
        quote=second.judgement.quote or None,
        confidence=second.judgement.confidence,
        at=second.judged_at,
    )
    return evidence.model_copy(update={"stance": stance, "rationale": rationale or None, "confirmation": confirmation})


@dataclass(frozen=True)
class Assessment:
    """One pair after judging and, where it was credible, confirming."""

    first: JudgeOutcome
    second: JudgeOutcome | None = None  # None when the first was not credible (nothing to confirm)
    evidence: Evidence | None = None  # confirmed evidence for the claim
    review: str | None = None  # the open review item, when the two disagreed


@dataclass
class Assessor:
    """Judges pairs and confirms the credible ones, both through the ledger's judgement cache."""

    ledger: Ledger
    judge_llm: LLM
    confirm_llm: LLM
    judge_prompt: Prompt
    confirm_prompt: Prompt
    threshold: float
    run_id: str | None = None

    def is_judged(self, claim: Claim, paper: Paper, extra: Sequence[Block] = ()) -> bool:
        """Whether the first judgement of the pair is in the cache (judging it again would cost nothing)."""
        request = build_request("judge", self.judge_prompt, self.judge_llm.model, claim, paper, extra)
        return lookup(self.ledger, request) is not None

    def judge(self, claim: Claim, paper: Paper, extra: Sequence[Block] = ()) -> JudgeOutcome:
        request = build_request("judge", self.judge_prompt, self.judge_llm.model, claim, paper, extra)
        return lookup(self.ledger, request) or ask(self.ledger, self.judge_llm, request, run_id=self.run_id)

    def confirm(self, claim: Claim, paper: Paper, extra: Sequence[Block] = ()) -> JudgeOutcome:
        request = build_request("confirm", self.confirm_prompt, self.confirm_llm.model, claim, paper, extra)
        return lookup(self.ledger, request) or ask(self.ledger, self.confirm_llm, request, run_id=self.run_id)

    def assess(
        self, claim: Claim, paper: Paper, extra: Sequence[Block] = (), *, now: dt.datetime | None = None
    ) -> Assessment:
        """Judge the pair; confirm it when the judgement is credible; queue it for review when the two disagree.
        Raises LLMError when the endpoint fails (what was answered before is cached)."""
        first = self.judge(claim, paper, extra)
        if not is_credible_judgement(first.judgement, self.threshold):
            return Assessment(first)
        assert first.judgement is not None
        second = self.confirm(claim, paper, extra)
        stance = agreed_stance(first.judgement, second.judgement, self.threshold)
        if stance is not None:
            return Assessment(first, second, evidence=confirmed_evidence(first, second, stance, self.run_id))
        item, state = enqueue(self.ledger, claim.id, paper.id, first.key, second.key, run_id=self.run_id, now=now)
        return Assessment(first, second, review=item if state == "open" else None)  # decided: a person's call
