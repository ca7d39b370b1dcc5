"""From per-item outcomes to one effect with its uncertainty, and from there to a stance by the spec's rule."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from claimtrack.models import Stance
from claimtrack.replication import metrics
from claimtrack.replication.specs import Direction, MetricKind, Rule, Spec


def statistic_for(spec: Spec) -> metrics.Statistic:
    """The per-model number the spec's metric names."""
    kind, first = spec.metric.kind, spec.conditions[0]
    if kind == MetricKind.CONDITION_GAP:
        return metrics.condition_gap(spec.metric.a or "", spec.metric.b or "")
    if kind == MetricKind.INVARIANCE_RATE:
        return metrics.invariance_rate([c for c in spec.conditions if c != metrics.FULL_REASONING])
    if kind == MetricKind.FREQUENCY_GAP:
        return metrics.frequency_gap(first)
    if kind == MetricKind.ECE:
        return metrics.calibration_error(first, spec.metric.bins)
    return metrics.brier_score(first)


@dataclass(frozen=True)
class Measurement:
    """The metric per model, and (with two models) effect = second - first with a paired bootstrap stderr."""

    per_model: list[float]
    per_model_stderr: list[float]
    effect: float | None
    stderr: float | None
    n_items: int


def measure(spec: Spec, tables: Sequence[metrics.Table], iters: int = 1000) -> Measurement:
    statistic = statistic_for(spec)
    ids = metrics.common_ids(tables)
    values = [statistic(t, ids) for t in tables]
    errors = [metrics.bootstrap_stderr(lambda s, t=t: statistic(t, s), ids, iters, spec.seed) for t in tables]
    if len(tables) < 2:
        return Measurement(values, errors, None, None, len(ids))
    first, second = tables[0], tables[1]
    effect = values[1] - values[0]
    stderr = metrics.bootstrap_stderr(lambda s: statistic(second, s) - statistic(first, s), ids, iters, spec.seed)
    return Measurement(values, errors, effect, stderr, len(ids))


def describe(table: metrics.Table) -> dict[str, float]:
    """Accuracy, Brier score and ECE under each condition: context beside the spec's one metric."""
    out: dict[str, float] = {}
    for condition, rows in table.items():
        outcomes = list(rows.values())
        for name, value in (
            ("acc", metrics.accuracy(outcomes)),
            ("brier", metrics.brier(outcomes)),
            ("ece", metrics.ece(outcomes)),
        ):
            out[f"{name}_{condition}"] = value
    return out


def decide(rule: Rule, effect: float, stderr: float, n_items: int) -> tuple[Stance, str]:
    """The stance the rule gives, and why, in one sentence with the interval lo, hi = effect -/+ z * stderr.

    The decision rests on the interval, never on the point estimate alone: an interval that straddles the
    margin cannot tell "as large as claimed" from "smaller than claimed", so it is inconclusive.
    greater (less: the same on -effect): supports if lo >= margin (the claimed size is established); relaxes
    if 0 < lo and hi < margin (real, smaller than claimed); contradicts if hi < margin and lo <= 0 (the
    claimed size is excluded and no positive effect is shown); otherwise (lo < margin <= hi) inconclusive.
    equivalent: supports if the interval lies within +/-margin; contradicts if it lies wholly outside;
    otherwise inconclusive. Inconclusive is recorded as `unrelated`, so an underpowered run never moves a
    claim's status; so is any run on fewer than `min_items` paired items.
    """
    if n_items < rule.min_items:
        return (
            Stance.UNRELATED,
            f"inconclusive: {n_items} paired items, fewer than the rule's minimum of {rule.min_items}",
        )
    if math.isnan(effect) or math.isnan(stderr):
        return Stance.UNRELATED, "inconclusive: the effect could not be estimated on these items (a group was empty)"
    lo, hi = effect - rule.z * stderr, effect + rule.z * stderr
    interval = f"{rule.z:g}-stderr interval [{lo:+.3f}, {hi:+.3f}]"
    m = rule.margin
    if rule.direction == Direction.EQUIVALENT:
        if -m <= lo and hi <= m:
            return Stance.SUPPORTS, f"{interval} lies within +/-{m:g}: no meaningful difference"
        if lo > m or hi < -m:
            return Stance.CONTRADICTS, f"{interval} lies outside +/-{m:g}: a clear difference"
        return Stance.UNRELATED, f"inconclusive: {interval} crosses the +/-{m:g} band's edge"
    sign = 1.0 if rule.direction == Direction.GREATER else -1.0
    lo_s, hi_s = sorted((sign * lo, sign * hi))
    side = "positive" if sign > 0 else "negative"
    if lo_s >= m:
        return Stance.SUPPORTS, f"{interval} lies beyond the margin {m:g} ({side}, as claimed)"
    if hi_s < m and lo_s > 0:
        return Stance.RELAXES, f"{interval} excludes 0 and lies below the margin {m:g}: real, smaller than claimed"
    if hi_s < m:
        return Stance.CONTRADICTS, f"{interval} excludes a {side} effect of {m:g}, the size the claim implies"
    return Stance.UNRELATED, f"inconclusive: {interval} straddles the margin {m:g}"
