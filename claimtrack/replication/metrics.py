"""The numbers a probe reports, from per-item outcomes; plain Python so they are easy to check by hand.

Every statistic takes the list of item ids to use (with repeats, for bootstrap resamples), so the same
function gives the point estimate and its paired bootstrap: items are resampled once and the same
resample is used for every model and condition.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

FULL_REASONING = "cut-100"  # the cot-faithfulness condition the others are compared with


@dataclass(frozen=True)
class Outcome:
    """One model's answer to one item under one condition."""

    pred: int  # index of the chosen option (highest log-likelihood)
    target: int
    probs: tuple[float, ...]  # softmax over the options' log-likelihoods
    tags: Mapping[str, object] = field(default_factory=dict)  # item fields the metrics split on

    @property
    def correct(self) -> bool:
        return self.pred == self.target


Table = Mapping[str, Mapping[str, Outcome]]  # condition -> item id -> outcome
Statistic = Callable[[Table, Sequence[str]], float]


def softmax(logliks: Sequence[float]) -> tuple[float, ...]:
    top = max(logliks)
    weights = [math.exp(x - top) for x in logliks]
    total = sum(weights)
    return tuple(w / total for w in weights)


def outcome_from_logliks(logliks: Sequence[float], target: int, tags: Mapping[str, object] | None = None) -> Outcome:
    pred = max(range(len(logliks)), key=lambda i: logliks[i])
    return Outcome(pred=pred, target=target, probs=softmax(logliks), tags=dict(tags or {}))


def accuracy(outcomes: Sequence[Outcome]) -> float:
    return sum(o.correct for o in outcomes) / len(outcomes) if outcomes else math.nan


def brier(outcomes: Sequence[Outcome]) -> float:
    """Multi-class Brier score: mean over items of sum_k (p_k - [k == target])^2; 0 is perfect, 2 worst."""
    if not outcomes:
        return math.nan
    total = 0.0
    for o in outcomes:
        total += sum((p - (1.0 if k == o.target else 0.0)) ** 2 for k, p in enumerate(o.probs))
    return total / len(outcomes)


def ece(outcomes: Sequence[Outcome], bins: int = 10) -> float:
    """Expected calibration error of the top choice: equal-width confidence bins, weighted |acc - conf|."""
    if not outcomes:
        return math.nan
    buckets: list[list[Outcome]] = [[] for _ in range(bins)]
    for o in outcomes:
        confidence = o.probs[o.pred]
        index = min(bins - 1, max(0, math.ceil(confidence * bins) - 1))
        buckets[index].append(o)
    error = 0.0
    for bucket in buckets:
        if bucket:
            conf = sum(o.probs[o.pred] for o in bucket) / len(bucket)
            error += len(bucket) / len(outcomes) * abs(accuracy(bucket) - conf)
    return error


def _pick(table: Table, condition: str, ids: Sequence[str]) -> list[Outcome]:
    rows = table[condition]
    return [rows[i] for i in ids if i in rows]


def condition_gap(a: str, b: str) -> Statistic:
    """Accuracy under condition a minus accuracy under condition b, on the same items."""
    return lambda table, ids: accuracy(_pick(table, a, ids)) - accuracy(_pick(table, b, ids))


def frequency_gap(condition: str, tag: str = "freq_agrees") -> Statistic:
    """Accuracy where word frequency agrees with the label minus where it disagrees."""

    def stat(table: Table, ids: Sequence[str]) -> float:
        rows = _pick(table, condition, ids)
        return accuracy([o for o in rows if o.tags.get(tag)]) - accuracy([o for o in rows if not o.tags.get(tag)])

    return stat


def invariance_rate(perturbed: Sequence[str], full: str = FULL_REASONING) -> Statistic:
    """Share of (item, perturbed condition) answers equal to the answer given with the full reasoning.

    Items where the model wrote no reasoning (tag reasoning_words == 0) are left out: every cut of an
    empty text is the same text, so they would count as invariant without testing anything.
    """

    def stat(table: Table, ids: Sequence[str]) -> float:
        same = total = 0
        for item in ids:
            reference = table[full].get(item)
            if reference is None or reference.tags.get("reasoning_words") == 0:
                continue
            for condition in perturbed:
                other = table[condition].get(item)
                if other is not None:
                    same += other.pred == reference.pred
                    total += 1
        return same / total if total else math.nan

    return stat


def calibration_error(condition: str, bins: int = 10) -> Statistic:
    return lambda table, ids: ece(_pick(table, condition, ids), bins)


def brier_score(condition: str) -> Statistic:
    return lambda table, ids: brier(_pick(table, condition, ids))


def bootstrap_stderr(
    statistic: Callable[[Sequence[str]], float], ids: Sequence[str], iters: int = 1000, seed: int = 0
) -> float:
    """Standard deviation of `statistic` over item resamples with replacement (NaN resamples dropped)."""
    rng = random.Random(seed)
    ids = list(ids)
    values = []
    for _ in range(iters):
        value = statistic([rng.choice(ids) for _ in ids])
        if not math.isnan(value):
            values.append(value)
    if len(values) < 2:
        return math.nan
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def common_ids(tables: Sequence[Table]) -> list[str]:
    """Item ids present under every condition for every model, in a stable order: the paired sample."""
    sets = [set(rows) for table in tables for rows in table.values()]
    shared = set.intersection(*sets) if sets else set()
    return sorted(shared)
