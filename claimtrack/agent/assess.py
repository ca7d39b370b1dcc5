"""One pair's assessment in one place: asking the judge, asking again while that leaves the pair unresolved,
and weighing what was said (docs/agent.md, "Judging a pair").

The flow of `Assessor.assess`, read top to bottom:

1. **First look** (role `judge`, prompt agents/judge.txt) on the title, the abstract and the citation
   contexts. A look that says unrelated is put to second opinions on the same material (the confirming role,
   then rechecks) for as long as they say unrelated too; the pair is set aside only when they together are as
   strong as it takes to count a pair (below), so screening a paper out is no easier than counting it.
2. **Full judgement** on the full text's best passages besides (the look's own request, from the cache, when
   there is nothing more to read), then its **confirmation** (role `confirm`, agents/confirm.txt, the confirm
   model) on the same material.
3. **Rechecks** (role `recheck`, agents/recheck.txt, the confirm model), while the answers leave the pair
   unresolved: with a qualified judge, one variant of the prompt after another (prompts.py: the verdicts in
   another order), as long as its measurement says another answer can still settle the pair; without one,
   once. Never more than `max_calls` distinct requests per pair. Every request is cached, so a re-run asks
   nothing.
4. **Weigh** the answers on the most complete material the pair was shown. With a qualified judge, the pair's
   stance probabilities come from its measured confusion matrices (weighing.py): a stance at or above
   `pair_probability` counts (or sets the pair aside when it is unrelated). Without one (`standing.measure` is
   None) two judgements must agree, each at the confidence threshold; a trusted judge's agreement counts by
   confidence, as before measurement existed, and an unqualified judge's waits for a person. A pair left
   unresolved waits for review when any judgement said it bears on the claim.

The review queue's store (reviews_table.py) sits below this module, so queueing a pair reaches up nowhere.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from claimtrack.agent.judge import Judgement, JudgeOutcome, Role, build_request, judge_pair, lookup, to_evidence
from claimtrack.agent.llm import LLM, make_llm
from claimtrack.agent.material import Block
from claimtrack.agent.prompts import Prompt, load_prompt
from claimtrack.agent.qualification import ROLES, JudgeIdentity, Standing, identity_for
from claimtrack.config import Settings
from claimtrack.ledger import Ledger
from claimtrack.models import CONTESTING, Claim, Confirmation, Evidence, ReadMaterial, Stance
from claimtrack.papers import Paper
from claimtrack.reviews_table import Reason, enqueue
from claimtrack.workspace import Workspace


def is_credible_judgement(judgement: Judgement | None, threshold: float) -> bool:
    """A judgement that could move a status: not unrelated, at or above the threshold."""
    return judgement is not None and judgement.stance != Stance.UNRELATED and judgement.confidence >= threshold


def agreed_stance(first: Judgement, second: Judgement | None, threshold: float) -> Stance | None:
    """The stance the pair counts as when the second judgement confirms the first, else None: both credible
    and the same direction (supports, or contesting); supersedes only when both say it, contradicts likewise,
    any other two contests count as relaxes."""
    if not is_credible_judgement(second, threshold):
        return None
    assert second is not None
    if (first.stance in CONTESTING) != (second.stance in CONTESTING):
        return None
    if first.stance == second.stance:
        return first.stance
    return Stance.RELAXES  # both contest, in different strengths: the weakest claim both make


def _agree(a: JudgeOutcome, b: JudgeOutcome, threshold: float) -> Stance | None:
    """What two judgements agree on without a measurement: both unrelated at the threshold, or agreed_stance."""
    ja, jb = a.judgement, b.judgement
    if ja is None or jb is None or min(ja.confidence, jb.confidence) < threshold:
        return None
    if ja.stance == Stance.UNRELATED or jb.stance == Stance.UNRELATED:
        return Stance.UNRELATED if ja.stance == jb.stance else None
    return agreed_stance(ja, jb, threshold)


def counted_stance(probability: dict[Stance, float], at: float) -> Stance | None:
    """The stance a measured pair settles on, or None: unrelated or supports at `at`; a contest when the
    contesting stances together reach it (supersedes or contradicts when that one alone does, else relaxes,
    the weakest, as with agreement)."""
    for stance in (Stance.UNRELATED, Stance.SUPPORTS, Stance.SUPERSEDES, Stance.CONTRADICTS):
        if probability[stance] >= at:
            return stance
    return Stance.RELAXES if sum(probability[s] for s in CONTESTING) >= at else None


@dataclass(frozen=True)
class Settled:
    """What a pair's judgements settle: a stance (None: unresolved), the judgement the evidence is made from
    and one that agrees with it, and the measured probabilities."""

    stance: Stance | None
    basis: JudgeOutcome | None = None
    agreeing: JudgeOutcome | None = None
    probability: dict[Stance, float] | None = None


@dataclass(frozen=True)
class Assessment:
    """One pair after its first look, its full judgement, its confirmation and any rechecks."""

    first: JudgeOutcome  # the judge role's judgement that counts: on the full material, or the first look
    asked: tuple[JudgeOutcome, ...] = ()  # every distinct request of the pair, in order, the first look's included
    evidence: Evidence | None = None  # evidence that counts, for the claim
    review: str | None = None  # the open review item
    set_aside: bool = False  # the first look (and its second opinions) found the paper unrelated: nothing more read
    read_more: bool = False  # the full judgement was shown more than the first look (full-text passages)
    probability: dict[Stance, float] | None = None  # measured stance probabilities, with a qualified judge

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
    def fresh(self) -> bool:
        """Whether this run asked the model anything about the pair."""
        return any(not o.cached for o in self.asked)


@dataclass
class Assessor:
    """Asks a pair's judgements through the ledger's cache and weighs them (see the module's flow)."""

    ledger: Ledger
    llms: dict[Role, LLM]  # judge, confirm and recheck
    prompts: dict[Role, Prompt]
    standing: Standing
    threshold: float  # a judgement's own confidence that counts, without a measurement
    run_id: str | None = None
    set_aside_at: float = 0.8  # without a measurement: a look this sure it is unrelated is put to the confirmer
    pair_probability: float = 0.999
    max_calls: int = 9

    def is_judged(self, claim: Claim, paper: Paper, extra: Sequence[Block] = ()) -> bool:
        """Whether the first judgement of the pair (its first look, when read in two steps) is in the cache."""
        request = build_request("judge", self.prompts["judge"], self.llms["judge"].model, claim, paper, extra)
        return lookup(self.ledger, request) is not None

    def assess(
        self,
        claim: Claim,
        paper: Paper,
        extra: Sequence[Block] = (),
        *,
        more: Callable[[], Sequence[Block]] | None = None,
        now: dt.datetime | None = None,
    ) -> Assessment:
        """Assess the pair on `extra` beside the title and abstract; with `more`, that is the first look, and
        unless the look sets the pair aside, `more()` gives the further blocks (full-text passages) the full
        judgement reads. Raises LLMError when the endpoint fails (what was answered before is cached)."""
        asked: dict[str, JudgeOutcome] = {}  # this pair's requests (kept per call: pairs are assessed in threads)
        screened: list[JudgeOutcome] = []  # the look and its second opinions, on the look's material
        further: tuple[Block, ...] = ()
        if more is not None:
            look = self._ask(asked, "judge", claim, paper, extra, purpose="look")
            screened = [look]
            if _unrelated(look) and self._sure(look):
                screened = self._opinions(
                    asked, [look], claim, paper, extra, while_=lambda said: all(map(_unrelated, said))
                )
                settled = self._settle(screened)
                if settled.stance == Stance.UNRELATED:
                    return Assessment(look, tuple(asked.values()), set_aside=True, probability=settled.probability)
            further = tuple(more())
        shown = (*further, *extra)
        if screened and not further:  # nothing more to read: the look is the judgement, and its opinions stand
            answers = self._opinions(asked, screened, claim, paper, shown)
        else:
            answers = self._opinions(asked, [self._ask(asked, "judge", claim, paper, shown)], claim, paper, shown)
        settled = self._settle(answers)
        done = Assessment(answers[0], tuple(asked.values()), read_more=bool(further), probability=settled.probability)
        return self._conclude(done, claim, paper, answers, settled, now)

    # --- asking -------------------------------------------------------------------------------------------

    def _opinions(
        self,
        asked: dict[str, JudgeOutcome],
        answers: list[JudgeOutcome],
        claim: Claim,
        paper: Paper,
        blocks: Sequence[Block],
        *,
        while_: Callable[[list[JudgeOutcome]], bool] = lambda said: True,
    ) -> list[JudgeOutcome]:
        """`answers` (a judgement and the second opinions it already has) and the further opinions asked on
        the same material, in order: the confirmation, then rechecks (prompt variant 0, 1, ...), for as long as
        the pair is unresolved, `while_` holds and the pair has requests left; one recheck at most without a
        measurement (agreement of two is all that can settle such a pair) or with one that never measured how
        far a recheck repeats itself."""
        said = list(answers)
        measure = self.standing.measure
        rechecks = self.prompts["recheck"].variants if measure is not None and measure.repeats("recheck") else 1
        opinions: list[tuple[Role, int]] = [("confirm", 0), *(("recheck", k) for k in range(rechecks))]
        for role, variant in opinions[len(said) - 1 :]:
            if self._settle(said).stance is not None or not while_(said):
                break
            if len(asked) >= self.max_calls:
                break
            said.append(self._ask(asked, role, claim, paper, blocks, variant=variant))
        return said

    def _ask(
        self,
        asked: dict[str, JudgeOutcome],
        role: Role,
        claim: Claim,
        paper: Paper,
        blocks: Sequence[Block],
        *,
        variant: int = 0,
        purpose: str | None = None,
    ) -> JudgeOutcome:
        outcome = judge_pair(
            self.ledger,
            self.llms[role],
            self.prompts[role].variant(variant),
            claim,
            paper,
            run_id=self.run_id,
            role=role,
            extra=blocks,
            purpose=purpose,
        )
        asked.setdefault(outcome.key, outcome)
        return outcome

    def _sure(self, look: JudgeOutcome) -> bool:
        """Whether an unrelated look is worth second opinions before the full text is read: always with a
        measurement (the probabilities decide), else when the look is at least `set_aside_at` sure."""
        return self.standing.measure is not None or (
            look.judgement is not None and look.judgement.confidence >= self.set_aside_at
        )

    # --- weighing -----------------------------------------------------------------------------------------

    def _probability(self, answers: Sequence[JudgeOutcome]) -> dict[Stance, float] | None:
        """The measured stance probabilities given every answer (each request once), or None unmeasured."""
        measure = self.standing.measure
        if measure is None:
            return None
        said = [o for i, o in enumerate(answers) if all(o.key != a.key for a in answers[:i])]
        return measure.posterior([(o.role, o.judgement.stance) for o in said if o.judgement is not None])

    def _settle(self, answers: Sequence[JudgeOutcome]) -> Settled:
        probability = self._probability(answers)
        if probability is not None:
            stance = counted_stance(probability, self.pair_probability)
            if stance is None:
                return Settled(None, probability=probability)
            basis = _first_saying(answers, stance)
            return Settled(stance, basis, _agreeing(answers, basis), probability)
        for i, a in enumerate(answers):
            for b in answers[i + 1 :]:
                if a.key != b.key and (stance := _agree(a, b, self.threshold)) is not None:
                    return Settled(stance, a, b)
        return Settled(None)

    def _conclude(
        self,
        done: Assessment,
        claim: Claim,
        paper: Paper,
        answers: list[JudgeOutcome],
        settled: Settled,
        now: dt.datetime | None,
    ) -> Assessment:
        """Evidence for a pair that counts, a review item for one that waits, nothing for an unrelated one."""
        measured = settled.probability is not None
        if settled.stance == Stance.UNRELATED:
            return done
        if settled.stance is not None and settled.basis is not None:
            if measured or self.standing.trusted:
                evidence = _evidence(
                    settled.basis, settled.agreeing, settled.stance, self.run_id, settled.probability, done.material
                )
                return _with(done, evidence=evidence)
            return self._queue(done, claim, paper, settled.basis, answers, "unqualified", None, now)
        bearing = [
            a
            for a in answers
            if a.judgement is not None
            and a.judgement.stance != Stance.UNRELATED
            and (measured or a.judgement.confidence >= self.threshold)
        ]
        if not bearing:
            return done
        reason: Reason = "uncertain" if measured else "disagree"
        return self._queue(done, claim, paper, bearing[0], answers, reason, settled.probability, now)

    def _queue(
        self,
        done: Assessment,
        claim: Claim,
        paper: Paper,
        basis: JudgeOutcome,
        answers: Sequence[JudgeOutcome],
        reason: Reason,
        probability: dict[Stance, float] | None,
        now: dt.datetime | None,
    ) -> Assessment:
        """Queue the pair with the judgement a person would accept (`basis`) beside the first that said
        otherwise (else another one), so the listing shows what is in doubt."""
        said = basis.judgement.stance if basis.judgement else None
        others = [a for a in answers if a.key != basis.key]
        differing = [a for a in others if a.judgement is None or a.judgement.stance != said]
        other = (differing or others or [basis])[0]
        item, state = enqueue(
            self.ledger,
            claim.id,
            paper.id,
            basis.key,
            other.key,
            reason=reason,
            probability=probability,
            run_id=self.run_id,
            now=now,
        )
        return _with(done, review=item if state == "open" else None)  # decided: a person's call


def _unrelated(outcome: JudgeOutcome) -> bool:
    return outcome.judgement is not None and outcome.judgement.stance == Stance.UNRELATED


def _with(done: Assessment, **changes: object) -> Assessment:
    return replace(done, **changes)


def _first_saying(answers: Sequence[JudgeOutcome], stance: Stance) -> JudgeOutcome | None:
    """The earliest judgement that said `stance`, else the earliest in its direction (for evidence's quote)."""
    said = [a for a in answers if a.judgement is not None]
    exact = [a for a in said if a.judgement is not None and a.judgement.stance == stance]
    same_way = [a for a in said if a.judgement is not None and _direction(a.judgement.stance) == _direction(stance)]
    return (exact or same_way or [None])[0]


def _agreeing(answers: Sequence[JudgeOutcome], basis: JudgeOutcome | None) -> JudgeOutcome | None:
    if basis is None or basis.judgement is None:
        return None
    way = _direction(basis.judgement.stance)
    return next(
        (
            a
            for a in answers
            if a.key != basis.key and a.judgement is not None and _direction(a.judgement.stance) == way
        ),
        None,
    )


def _direction(stance: Stance) -> str:
    return "contests" if stance in CONTESTING else stance.value


def _evidence(
    basis: JudgeOutcome,
    agreeing: JudgeOutcome | None,
    stance: Stance,
    run_id: str | None,
    probability: dict[Stance, float] | None,
    material: ReadMaterial,
) -> Evidence | None:
    """The claim's evidence item: the basis judgement, counted at the settled stance, with the judgement that
    agreed recorded beside it and, when measured, the pair's stance probabilities."""
    evidence = to_evidence(basis, run_id, material=material)
    if evidence is None or basis.judgement is None:
        return None
    rationale = evidence.rationale or ""
    said = basis.judgement.stance
    if stance != said:
        by = f", confirmed as {agreeing.judgement.stance}" if agreeing and agreeing.judgement else ""
        rationale = f"[judged {said}{by}: counts as {stance}] {rationale}".strip()
    confirmation = None
    if agreeing is not None and agreeing.judgement is not None:
        confirmation = Confirmation(
            by=agreeing.judged_by,
            stance=agreeing.judgement.stance,
            quote=agreeing.judgement.quote or None,
            confidence=agreeing.judgement.confidence,
            at=agreeing.judged_at,
        )
    measured = {s: round(p, 4) for s, p in probability.items()} if probability is not None else None
    return evidence.model_copy(
        update={
            "stance": stance,
            "rationale": rationale or None,
            "confirmation": confirmation,
            "probability": measured,
        }
    )


@dataclass(frozen=True)
class Judges:
    """The models and prompts of the three roles as a run asks them (and `judge qualify` measures them)."""

    llms: dict[Role, LLM]
    prompts: dict[Role, Prompt]
    identity: JudgeIdentity

    @property
    def label(self) -> str:
        judge, confirm = self.llms["judge"].model, self.llms["confirm"].model
        return judge if confirm == judge else f"{judge} (confirmed by {confirm})"


def load_prompts(ws: Workspace) -> dict[Role, Prompt]:
    """The three roles' prompts; a missing or malformed file is bad input (InvalidInput)."""
    return {role: load_prompt(ws, role) for role in ROLES}


def make_judges(
    prompts: dict[Role, Prompt], settings: Settings, *, ledger: Ledger, run_id: str | None
) -> Judges | None:
    """The judge (CLAIMTRACK_LLM_MODEL, agents/judge.txt), the confirmer and the rechecker (the confirm model,
    agents/confirm.txt and agents/recheck.txt), adding to one usage account and sharing one pool of calls; None
    without an endpoint."""
    judge = make_llm(settings, ledger=ledger, run_id=run_id)
    if judge is None:
        return None
    confirmer = judge
    if settings.confirm_model and settings.confirm_model != judge.model:
        made = make_llm(
            settings, ledger=ledger, run_id=run_id, model=settings.confirm_model, usage=judge.usage, pool=judge.pool
        )
        assert made is not None  # the endpoint that made the judge makes the confirmer
        confirmer = made
    identity = identity_for(settings, {role: prompt.version for role, prompt in prompts.items()})
    return Judges({"judge": judge, "confirm": confirmer, "recheck": confirmer}, prompts, identity)
