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
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from claimtrack.agent.judge import Judgement, JudgeOutcome, build_request, judge_pair, lookup, to_evidence
from claimtrack.agent.llm import LLM
from claimtrack.agent.material import Block
from claimtrack.agent.prompts import Prompt
from claimtrack.ledger import Ledger
from claimtrack.models import CONTESTING, Claim, Confirmation, Evidence, ReadMaterial, Stance
from claimtrack.papers import Paper
from claimtrack.review import enqueue


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


def confirmed_evidence(
    first: JudgeOutcome, second: JudgeOutcome, stance: Stance, run_id: str | None, material: ReadMaterial | None = None
) -> Evidence:
    """The claim's evidence item for a confirmed pair: the first judgement, counted at the agreed stance, with
    the confirming judgement recorded beside it."""
    evidence = to_evidence(first, run_id, material=material)
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
    """One pair after its first look, its full judgement and, where that was credible, its confirmation."""

    first: JudgeOutcome  # the judgement that counts: on the full material, or the first look when it is all
    second: JudgeOutcome | None = None  # None when the first was not credible (nothing to confirm)
    evidence: Evidence | None = None  # confirmed evidence for the claim
    review: str | None = None  # the open review item, when the two disagreed
    look: JudgeOutcome | None = None  # the first look, when the pair was read in two steps
    set_aside: bool = False  # the first look found the paper clearly unrelated: nothing more was read
    read_more: bool = False  # the full judgement was shown more than the first look (full-text passages)

    @property
    def material(self) -> ReadMaterial:
        """What the judgement that counts read."""
        return ReadMaterial.FULLTEXT if self.read_more else ReadMaterial.ABSTRACT

    def reading(self, run_id: str | None) -> Evidence | None:
        """The judgement that counts as an unconfirmed evidence item, unrelated included (None for an error):
        a paper the claim holds evidence of, read again with this result, is recorded so the newer reading
        retracts the earlier one (decide.counted)."""
        return to_evidence(self.first, run_id, material=self.material, unrelated=True)

    @property
    def outcomes(self) -> list[JudgeOutcome]:
        """Every judgement the pair took, each once."""
        seen = [o for o in (self.look, self.first, self.second) if o is not None]
        return [o for i, o in enumerate(seen) if all(o.key != s.key for s in seen[:i])]

    @property
    def fresh(self) -> bool:
        """Whether this run asked the model anything about the pair."""
        return any(not o.cached for o in self.outcomes)


@dataclass
class Assessor:
    """Judges pairs and confirms the credible ones, both through the ledger's judgement cache.

    With `set_aside_at`, a pair may be read in two steps: a first look on the title and abstract (and the
    citation contexts, which are short) and, unless it finds the paper clearly unrelated (unrelated at or above
    `set_aside_at`), a full judgement on more material (the full text's passages). The first look is a cached
    judgement like any other; when there is nothing more to read, the full judgement is the same request and
    costs nothing."""

    ledger: Ledger
    judge_llm: LLM
    confirm_llm: LLM
    judge_prompt: Prompt
    confirm_prompt: Prompt
    threshold: float
    run_id: str | None = None
    set_aside_at: float = 1.0

    def is_judged(self, claim: Claim, paper: Paper, extra: Sequence[Block] = ()) -> bool:
        """Whether the first judgement of the pair (its first look, when read in two steps) is in the cache."""
        request = build_request("judge", self.judge_prompt, self.judge_llm.model, claim, paper, extra)
        return lookup(self.ledger, request) is not None

    def judge(self, claim: Claim, paper: Paper, extra: Sequence[Block] = (), *, purpose: str = "judge") -> JudgeOutcome:
        return judge_pair(
            self.ledger,
            self.judge_llm,
            self.judge_prompt,
            claim,
            paper,
            run_id=self.run_id,
            extra=extra,
            purpose=purpose,
        )

    def confirm(self, claim: Claim, paper: Paper, extra: Sequence[Block] = ()) -> JudgeOutcome:
        return judge_pair(
            self.ledger,
            self.confirm_llm,
            self.confirm_prompt,
            claim,
            paper,
            run_id=self.run_id,
            role="confirm",
            extra=extra,
        )

    def sets_aside(self, look: JudgeOutcome) -> bool:
        """A first look that finds the paper clearly unrelated: reading further would not pay."""
        j = look.judgement
        return j is not None and j.stance == Stance.UNRELATED and j.confidence >= self.set_aside_at

    def assess(
        self,
        claim: Claim,
        paper: Paper,
        extra: Sequence[Block] = (),
        *,
        more: Callable[[], Sequence[Block]] | None = None,
        now: dt.datetime | None = None,
    ) -> Assessment:
        """Judge the pair on `extra` beside the title and abstract; with `more`, that is the first look, and
        unless it sets the pair aside, `more()` gives the further blocks (full-text passages) the full judgement
        also reads. Confirm the judgement that counts when it is credible (on the same material); queue the
        pair for review when the two disagree. Raises LLMError when the endpoint fails (what was answered
        before is cached)."""
        look: JudgeOutcome | None = None
        further: tuple[Block, ...] = ()
        if more is not None:
            look = self.judge(claim, paper, extra, purpose="look")
            if self.sets_aside(look):
                return Assessment(look, look=look, set_aside=True)
            further = tuple(more())
        shown = (*further, *extra)
        first = look if look is not None and not further else self.judge(claim, paper, shown)
        read_more = bool(further)
        if not is_credible_judgement(first.judgement, self.threshold):
            return Assessment(first, look=look, read_more=read_more)
        assert first.judgement is not None
        second = self.confirm(claim, paper, shown)
        stance = agreed_stance(first.judgement, second.judgement, self.threshold)
        if stance is not None:
            material = ReadMaterial.FULLTEXT if read_more else ReadMaterial.ABSTRACT
            evidence = confirmed_evidence(first, second, stance, self.run_id, material)
            return Assessment(first, second, evidence=evidence, look=look, read_more=read_more)
        item, state = enqueue(self.ledger, claim.id, paper.id, first.key, second.key, run_id=self.run_id, now=now)
        review = item if state == "open" else None  # decided: a person's call
        return Assessment(first, second, review=review, look=look, read_more=read_more)
