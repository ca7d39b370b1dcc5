"""What a judgement is worth: the probability of each stance of a pair given the judge's measured confusion
matrices, and the probability of each status given the pairs (docs/agent.md, "Weighing by measurement").

Why measured and not the confidence a model writes: a model's confidence is its own word, and a model that
answers `contradicts` for everything writes it confidently too. What a judgement `answered a` says about the
truth is P(a | truth), read off the judge's qualification (`claimtrack judge qualify`: answers on pairs whose
truth is known). By Bayes, a judge whose answers do not depend on the truth has equal rows, its answers have
likelihood ratio 1, and the posterior stays the prior: it moves nothing, by construction.

- **Pair.** P(t | answers) is proportional to prior(t) times, for each answer on the most complete material
  the pair was shown (the judge's, the confirmation, each recheck), P(answer | t) of its role raised to a
  weight. The prior is uniform over the five stances, so setting a pair aside as unrelated and counting it
  take the same strength of evidence. The first answer weighs 1; a later one weighs 1 - r, r being the largest
  measured correlation of its role's errors with an earlier answer's role (never below 0; recheck with recheck
  is two variants of its prompt on the same pairs): roles that err together are counted as one, a
  conservative reading of naive Bayes. Counts are smoothed (ALPHA per cell), so a row measured on few pairs
  says little, and no single answer is ever worth more than the measurement behind it.
- **Claim.** Each pair's truth is drawn from its posterior, independently; the status rule (decide.py's table)
  applied to the true stances, each paper counting 1 (items without a measurement, such as a replication or a
  person's, count their weight, certainly), gives a probability to each outcome: holding, relaxed,
  superseded, split (supports and contests weigh the same) or none (nothing bears on the claim).
- **Move.** A status moves only when the new status is more probable than every other outcome, the one in
  force included, by MARGIN; inside the margin the status stays, and the claim is contested when an outcome
  other than the status in force is within the margin of it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from claimtrack.models import CONTESTING, Stance, Status

STANCES: tuple[Stance, ...] = tuple(Stance)
ALPHA = 0.5  # pseudo-count per confusion-matrix cell (Jeffreys): an unmeasured row is uniform
SPLIT = "split"  # supports and contests weigh the same
NONE = "none"  # nothing bears on the claim
OUTCOMES: tuple[str, ...] = (Status.HOLDING, Status.RELAXED, Status.SUPERSEDED, SPLIT, NONE)


def likelihoods(confusion: Sequence[Sequence[int]]) -> list[list[float]]:
    """P(answer | truth) from a confusion matrix (rows truth, columns answer, both in STANCES order; a column
    past the five, such as replies that were errors, is not an answer and is left out), smoothed."""
    rows = []
    for row in confusion:
        counts = [float(c) + ALPHA for c in row[: len(STANCES)]]
        total = sum(counts)
        rows.append([c / total for c in counts])
    return rows


def error_correlation(truth: Sequence[Stance], a: Sequence[Stance | None], b: Sequence[Stance | None]) -> float | None:
    """Pearson correlation (phi) of two roles' errors over the same pairs (an error reply counts as wrong); None
    when it is undefined (a role that never errs, or always does)."""
    x = [int(ans != t) for t, ans in zip(truth, a, strict=True)]
    y = [int(ans != t) for t, ans in zip(truth, b, strict=True)]
    n = len(x)
    if n == 0:
        return None
    mx, my = sum(x) / n, sum(y) / n
    vx, vy = mx * (1 - mx), my * (1 - my)
    if vx == 0 or vy == 0:
        return None
    cov = sum(i * j for i, j in zip(x, y, strict=True)) / n - mx * my
    return cov / math.sqrt(vx * vy)


@dataclass(frozen=True)
class Measure:
    """A judge's measured worth: P(answer | truth) per role, and how correlated the roles' errors are."""

    matrices: Mapping[str, Sequence[Sequence[float]]]  # role -> likelihood rows (likelihoods())
    correlations: Mapping[str, float | None]  # "role_a/role_b" (sorted) -> phi of their errors

    def correlation(self, a: str, b: str) -> float:
        """How far an answer of `a` repeats an answer of `b` (0 to 1): their measured error correlation, never
        below 0; 0 when it was measured undefined (a role that never errs); 1 for a role asked again whose
        repeats were never measured (a record from before rechecks had variants), so it adds nothing."""
        name = "/".join(sorted((a, b)))
        if name not in self.correlations:
            return 1.0 if a == b else 0.0
        value = self.correlations[name]
        return max(0.0, value) if value is not None else 0.0

    def repeats(self, role: str) -> bool:
        """Whether asking `role` again (another variant of its prompt) can add to what it said."""
        return role in self.matrices and self.correlation(role, role) < 1.0

    def posterior(self, answers: Sequence[tuple[str, Stance]]) -> dict[Stance, float]:
        """P(stance | answers): `answers` are (role, stance) in the order asked, a role possibly more than once
        (the rechecks)."""
        logs = [math.log(1 / len(STANCES))] * len(STANCES)
        seen: list[str] = []
        for role, answer in answers:
            weight = 1.0 - max((self.correlation(role, earlier) for earlier in seen), default=0.0)
            seen.append(role)
            column = STANCES.index(answer)
            for t, row in enumerate(self.matrices[role]):
                logs[t] += weight * math.log(row[column])
        top = max(logs)
        odds = [math.exp(v - top) for v in logs]
        total = sum(odds)
        return {s: o / total for s, o in zip(STANCES, odds, strict=True)}


@dataclass(frozen=True)
class Item:
    """One piece of evidence as the status rule weighs it: a measured pair (its stance probabilities; it counts
    1 when true) or a certain item (its stance, counted at `weight`)."""

    stance: Stance  # the effective stance (a supersedes from a paper older than the claim counts as contradicts)
    weight: float = 1.0
    probability: Mapping[Stance, float] | None = None


def rule(supports: float, contests: float, supersedes: float) -> str:
    """decide.py's table over weights: superseded when the supersedes outweigh all the rest; relaxed when the
    contests outweigh the supports; holding when the supports outweigh the contests; split when they weigh
    the same; none when nothing bears on the claim."""
    if supports + contests <= 1e-9:
        return NONE
    if supersedes > supports + contests - supersedes + 1e-9:
        return Status.SUPERSEDED
    if contests > supports + 1e-9:
        return Status.RELAXED
    if supports > contests + 1e-9:
        return Status.HOLDING
    return SPLIT


def outcome_probabilities(items: Iterable[Item]) -> dict[str, float]:
    """P(outcome) over OUTCOMES: each measured pair true or not by its probabilities, independently."""
    certain = [0.0, 0.0, 0.0]  # supports, contests, supersedes
    states: dict[tuple[int, int, int], float] = {(0, 0, 0): 1.0}
    for item in items:
        if item.probability is None:
            if item.stance == Stance.SUPPORTS:
                certain[0] += item.weight
            elif item.stance in CONTESTING:
                certain[1] += item.weight
                certain[2] += item.weight if item.stance == Stance.SUPERSEDES else 0.0
            continue
        p = item.probability
        p_sup = p.get(Stance.SUPERSEDES, 0.0)
        p_con = p.get(Stance.RELAXES, 0.0) + p.get(Stance.CONTRADICTS, 0.0)
        steps = {
            (1, 0, 0): p.get(Stance.SUPPORTS, 0.0),
            (0, 1, 0): p_con,
            (0, 1, 1): p_sup,
        }
        steps[(0, 0, 0)] = max(0.0, 1.0 - sum(steps.values()))
        nxt: dict[tuple[int, int, int], float] = {}
        for (s, c, x), q in states.items():
            for (ds, dc, dx), r in steps.items():
                if r > 0.0:
                    key = (s + ds, c + dc, x + dx)
                    nxt[key] = nxt.get(key, 0.0) + q * r
        states = {k: v for k, v in nxt.items() if v > 1e-12}
    out = dict.fromkeys(OUTCOMES, 0.0)
    for (s, c, x), q in states.items():
        out[rule(s + certain[0], c + certain[1], x + certain[2])] += q
    total = sum(out.values()) or 1.0
    return {k: v / total for k, v in out.items()}


@dataclass(frozen=True)
class Choice:
    """What the outcome probabilities call for, given the status in force."""

    target: Status | None  # the status to move to; None: it stays
    contested: bool  # it stays, and another outcome is within the margin of it


def choose(probabilities: Mapping[str, float], in_force: Status, margin: float) -> Choice:
    """Move to the status that is more probable than every other outcome (the one in force included) by
    `margin` (superseded first, then relaxed counting the superseded outcome in, then holding); else stay,
    contested when an outcome other than the one in force (split included, none not) is within the margin of
    it. An untested claim's own outcome is none."""
    own = NONE if in_force == Status.UNTESTED else str(in_force)
    for status in (Status.SUPERSEDED, Status.RELAXED, Status.HOLDING):
        if status == in_force:
            continue
        # A superseded claim does not hold as stated either: relaxed is weighed with the superseded outcome in it,
        # so contests that are sure but unsure how strong move the claim to relaxed, the weaker of the two.
        wider = status == Status.RELAXED and in_force != Status.SUPERSEDED
        within = (Status.RELAXED, Status.SUPERSEDED) if wider else (status,)
        mine = sum(probabilities[k] for k in within)
        rest = max((v for k, v in probabilities.items() if k not in within), default=0.0)
        if mine - rest >= margin - 1e-9:
            return Choice(status, False)
    rivals = [v for k, v in probabilities.items() if k not in (own, NONE)]
    contested = bool(rivals) and max(rivals) > probabilities[own] - margin + 1e-9 and max(rivals) > 1e-6
    return Choice(None, contested)
