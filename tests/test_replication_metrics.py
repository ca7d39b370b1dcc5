"""The probe metrics and the decision rule, against values worked out by hand."""

from __future__ import annotations

import math

import pytest

from claimtrack.models import Stance
from claimtrack.replication import metrics
from claimtrack.replication.metrics import Outcome
from claimtrack.replication.rule import decide
from claimtrack.replication.specs import Direction, Rule


def o(pred: int, target: int, probs: tuple[float, ...], **tags: object) -> Outcome:
    return Outcome(pred=pred, target=target, probs=probs, tags=tags)


def test_softmax_and_outcome_from_logliks() -> None:
    out = metrics.outcome_from_logliks([math.log(1), math.log(3)], target=1)
    assert out.probs == pytest.approx((0.25, 0.75))
    assert out.pred == 1 and out.correct


def test_brier_by_hand() -> None:
    # item 1: probs (0.7, 0.3), target 0 -> (0.3)^2 + (0.3)^2 = 0.18
    # item 2: probs (0.6, 0.4), target 1 -> (0.6)^2 + (0.6)^2 = 0.72   mean = 0.45
    rows = [o(0, 0, (0.7, 0.3)), o(0, 1, (0.6, 0.4))]
    assert metrics.brier(rows) == pytest.approx(0.45)


def test_ece_by_hand() -> None:
    # bins are (lo, hi]: 0.95 (right) alone in (0.9, 1.0] -> |1 - 0.95| * 1/4 = 0.0125
    # 0.9 (wrong) alone in (0.8, 0.9] -> |0 - 0.9| * 1/4 = 0.225
    # 0.55 and 0.6 (both right) in (0.5, 0.6] -> |1 - 0.575| * 2/4 = 0.2125; total 0.45
    rows = [
        o(0, 0, (0.95, 0.05)),
        o(0, 1, (0.9, 0.1)),
        o(1, 1, (0.45, 0.55)),
        o(0, 0, (0.6, 0.4)),
    ]
    assert metrics.ece(rows, bins=10) == pytest.approx(0.45)
    # a perfectly calibrated pair: confidence 0.5 and half right
    assert metrics.ece([o(0, 0, (0.5, 0.5)), o(0, 1, (0.5, 0.5))]) == pytest.approx(0.0)


def test_condition_gap_and_frequency_gap() -> None:
    table = {
        "real": {"a": o(0, 0, (1, 0)), "b": o(0, 0, (1, 0)), "c": o(1, 0, (0, 1))},
        "misleading": {"a": o(1, 0, (0, 1)), "b": o(0, 0, (1, 0)), "c": o(1, 0, (0, 1))},
    }
    gap = metrics.condition_gap("real", "misleading")
    assert gap(table, ["a", "b", "c"]) == pytest.approx(2 / 3 - 1 / 3)
    nli = {
        "nli": {
            "x": o(0, 0, (1, 0), freq_agrees=True),
            "y": o(0, 0, (1, 0), freq_agrees=True),
            "z": o(0, 1, (1, 0), freq_agrees=False),
            "w": o(1, 1, (0, 1), freq_agrees=False),
        }
    }
    # agree: 2/2 right; disagree: 1/2 right -> gap 0.5
    assert metrics.frequency_gap("nli")(nli, ["x", "y", "z", "w"]) == pytest.approx(0.5)


def test_invariance_rate_by_hand() -> None:
    full = {"i1": o(2, 0, (0, 0, 1)), "i2": o(1, 0, (0, 1, 0))}
    table = {
        "cut-100": full,
        "cut-0": {"i1": o(2, 0, (0, 0, 1)), "i2": o(0, 0, (1, 0, 0))},  # same, changed
        "filler": {"i1": o(2, 0, (0, 0, 1)), "i2": o(1, 0, (0, 1, 0))},  # same, same
    }
    assert metrics.invariance_rate(["cut-0", "filler"])(table, ["i1", "i2"]) == pytest.approx(3 / 4)
    # an item whose model wrote no reasoning tests nothing and is left out
    table["cut-100"] = {"i1": o(2, 0, (0, 0, 1), reasoning_words=0), "i2": o(1, 0, (0, 1, 0), reasoning_words=5)}
    assert metrics.invariance_rate(["cut-0", "filler"])(table, ["i1", "i2"]) == pytest.approx(1 / 2)


def test_bootstrap_stderr_matches_the_binomial_formula() -> None:
    # 100 items, 30 correct: the bootstrap stderr of the mean is close to sqrt(p(1-p)/n) = 0.0458
    values = {f"i{k}": 1.0 if k < 30 else 0.0 for k in range(100)}
    se = metrics.bootstrap_stderr(lambda ids: sum(values[i] for i in ids) / len(ids), list(values), iters=2000, seed=7)
    assert se == pytest.approx(math.sqrt(0.3 * 0.7 / 100), rel=0.1)
    constant = metrics.bootstrap_stderr(lambda ids: 1.0, ["a", "b"], iters=50)
    assert constant == 0.0


@pytest.mark.parametrize(
    ("direction", "effect", "stderr", "n", "stance"),
    [
        ("greater", 0.20, 0.05, 100, Stance.SUPPORTS),  # [0.102, 0.298]: lies beyond the margin 0.05
        ("greater", 0.03, 0.01, 100, Stance.RELAXES),  # [0.0104, 0.0496]: real but below the margin
        ("greater", -0.10, 0.02, 100, Stance.CONTRADICTS),  # hi -0.06 < 0.05
        ("greater", 0.05, 0.10, 100, Stance.UNRELATED),  # spans 0 and the margin
        ("greater", 0.049, 0.02, 100, Stance.UNRELATED),  # [0.0098, 0.0882]: real, but straddles the margin
        ("greater", 0.07, 0.02, 100, Stance.UNRELATED),  # [0.0308, 0.1092]: point above, interval straddles
        ("less", -0.20, 0.05, 100, Stance.SUPPORTS),
        ("less", -0.049, 0.02, 100, Stance.UNRELATED),
        ("less", 0.10, 0.02, 100, Stance.CONTRADICTS),
        ("equivalent", 0.01, 0.01, 100, Stance.SUPPORTS),  # [-0.0096, 0.0296] within 0.05
        ("equivalent", 0.20, 0.02, 100, Stance.CONTRADICTS),
        ("equivalent", 0.04, 0.02, 100, Stance.UNRELATED),  # crosses 0.05
        ("greater", 0.20, 0.05, 10, Stance.UNRELATED),  # too few items
    ],
)
def test_decision_rule(direction: str, effect: float, stderr: float, n: int, stance: Stance) -> None:
    rule = Rule(direction=Direction(direction), margin=0.05, meaning="m")
    got, reason = decide(rule, effect, stderr, n)
    assert got == stance, reason
    assert ("inconclusive" in reason) == (stance == Stance.UNRELATED)


def test_an_interval_straddling_the_margin_is_inconclusive_whatever_the_point_estimate() -> None:
    rule = Rule(direction=Direction.GREATER, margin=0.10, meaning="m")
    got, reason = decide(rule, 0.099, 0.04, 100)  # [0.021, 0.177]: once "relaxes" on the point estimate
    assert got == Stance.UNRELATED and "straddles the margin 0.1" in reason
