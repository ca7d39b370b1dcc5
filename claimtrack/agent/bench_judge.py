"""The judge on SciFact: each claim against each abstract it cites, three-way label accuracy and macro-F1.

Label map (stance -> SciFact label): supports -> SUPPORT; contradicts, supersedes -> CONTRADICT;
relaxes -> CONTRADICT (the claim does not hold as stated, which is how `decide` treats it too: relaxes and
contradicts both move a claim to relaxed); unrelated and judge-errors -> NOT ENOUGH INFO (errors are also
counted apart). Gold: the label of the doc's rationale sets, or NOT ENOUGH INFO for cited docs without one.
Published anchors (abstract-level label F1): VeriSci 51.0 (dev, open retrieval), MultiVerS 72.5 (test);
ours uses the gold cited abstracts (an oracle retrieval), so it is an upper-bound-style setting.

With confirmation, every pair is also judged by the confirming role (so agreement is measured on all pairs),
and three labellings are scored: `raw` (the first judgement as it is), `credible` (what the decision rules
would weigh without confirmation: a credible first judgement's label, else NOT ENOUGH INFO) and `confirmed`
(what they weigh now: the agreed stance of a confirmed pair, else NOT ENOUGH INFO).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claimtrack.agent.assess import agreed_stance, is_credible_judgement
from claimtrack.agent.judge import Judgement, judge_pair
from claimtrack.agent.llm import LLM, LLMError
from claimtrack.agent.prompts import Prompt
from claimtrack.errors import InvalidInput
from claimtrack.ledger import Ledger
from claimtrack.models import Claim, Stance
from claimtrack.papers import Paper

LABELS = ("SUPPORT", "CONTRADICT", "NOT ENOUGH INFO")
STANCES = (*(s.value for s in Stance), "judge-error")
STANCE_TO_LABEL = {
    Stance.SUPPORTS: "SUPPORT",
    Stance.CONTRADICTS: "CONTRADICT",
    Stance.SUPERSEDES: "CONTRADICT",
    Stance.RELAXES: "CONTRADICT",
    Stance.UNRELATED: "NOT ENOUGH INFO",
}


@dataclass(frozen=True)
class Pair:
    claim_id: int
    claim: str
    doc_id: int
    gold: str


@dataclass
class BenchResult:
    pairs: int = 0
    gold: list[str] = field(default_factory=list)
    predicted: list[str] = field(default_factory=list)
    stances: Counter = field(default_factory=Counter)
    judge_errors: int = 0
    endpoint_failures: int = 0
    cached: int = 0
    confirmation: ConfirmResult | None = None

    def as_dict(self, llm: LLM) -> dict[str, Any]:
        out = {
            "pairs": self.pairs,
            "accuracy": accuracy(self.gold, self.predicted),
            "macro_f1": macro_f1(self.gold, self.predicted),
            "confusion": confusion(self.gold, self.predicted),
            "labels": list(LABELS),
            "stances": dict(self.stances),
            "judge_errors": self.judge_errors,
            "endpoint_failures": self.endpoint_failures,
            "cached": self.cached,
            "model": llm.model,
            **llm.usage.as_dict(),
            "anchors": {"VeriSci (dev, open retrieval)": 51.0, "MultiVerS (test)": 72.5},
        }
        if self.confirmation is not None:
            out["confirm"] = self.confirmation.as_dict(self.gold, self.predicted, llm)
        return out


@dataclass
class ConfirmResult:
    """The second judgement of every pair, and the labels before and after confirmation."""

    model: str
    second: list[str] = field(default_factory=list)  # the confirming judgement's label
    first_stances: list[str] = field(default_factory=list)  # both judgements' stances ("judge-error" for none)
    second_stances: list[str] = field(default_factory=list)
    credible: list[str] = field(default_factory=list)  # first judgement's label if credible, else NEI
    confirmed: list[str] = field(default_factory=list)  # agreed label if confirmed, else NEI
    stances: Counter = field(default_factory=Counter)
    judge_errors: int = 0
    to_review: int = 0  # credible first judgements the second did not confirm

    def as_dict(self, gold: list[str], first: list[str], llm: LLM) -> dict[str, Any]:
        roles = llm.usage.purposes
        return {
            "model": self.model,
            "kappa": cohen_kappa(first, self.second),  # over the three SciFact labels
            "agreement": accuracy(first, self.second),
            "kappa_stances": cohen_kappa(self.first_stances, self.second_stances, STANCES),  # over the five stances
            "agreement_stances": accuracy(self.first_stances, self.second_stances),
            "stances": dict(self.stances),
            "judge_errors": self.judge_errors,
            "to_review": self.to_review,
            "credible": _scores(gold, self.credible),
            "confirmed": _scores(gold, self.confirmed),
            "tokens": {role: roles.get(role, {}) for role in ("judge", "confirm")},
        }


def _scores(gold: list[str], predicted: list[str]) -> dict[str, Any]:
    return {
        "accuracy": accuracy(gold, predicted),
        "macro_f1": macro_f1(gold, predicted),
        "confusion": confusion(gold, predicted),
    }


def _jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise InvalidInput(path, "-", "not found (expected SciFact's claims_<split>.jsonl and corpus.jsonl)")
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise InvalidInput(path, f"line {number}", f"not JSON: {exc.msg}") from exc
    return rows


def load_pairs(folder: Path, split: str, limit: int | None) -> tuple[list[Pair], dict[int, Paper]]:
    claims = _jsonl(folder / f"claims_{split}.jsonl")
    corpus = {}
    for row in _jsonl(folder / "corpus.jsonl"):
        try:
            corpus[int(row["doc_id"])] = Paper(
                id=f"scifact:{row['doc_id']}", title=row["title"], abstract=" ".join(row["abstract"])
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(folder / "corpus.jsonl", "doc_id/title/abstract", f"malformed row: {exc}") from exc
    pairs: list[Pair] = []
    for row in claims:
        evidence = row.get("evidence") or {}
        for doc in row.get("cited_doc_ids") or []:
            sets = evidence.get(str(doc)) or []
            gold = sets[0]["label"] if sets else "NOT ENOUGH INFO"
            if int(doc) in corpus:
                pairs.append(Pair(int(row["id"]), row["claim"], int(doc), gold))
    return (pairs[:limit] if limit else pairs), corpus


def run_bench(
    ledger: Ledger,
    llm: LLM,
    prompt: Prompt,
    pairs: list[Pair],
    corpus: dict[int, Paper],
    *,
    confirm: tuple[LLM, Prompt] | None = None,
    threshold: float = 0.6,
) -> BenchResult:
    """Judge every pair (and, with `confirm` = (model, prompt), confirm every pair too)."""
    result = BenchResult()
    if confirm is not None:
        result.confirmation = ConfirmResult(confirm[0].model)
    for pair in pairs:
        claim = Claim(id=f"scifact-{pair.claim_id}", title=pair.claim, statement=pair.claim)
        paper = corpus[pair.doc_id]
        try:
            out = judge_pair(ledger, llm, prompt, claim, paper, run_id="bench-scifact")
            second = None
            if confirm is not None:
                second = judge_pair(
                    ledger, confirm[0], confirm[1], claim, paper, run_id="bench-scifact", role="confirm"
                )
        except LLMError:
            result.endpoint_failures += 1
            continue
        result.pairs += 1
        result.cached += out.cached
        result.gold.append(pair.gold)
        result.judge_errors += out.judgement is None
        if out.judgement is not None:
            result.stances[out.judgement.stance.value] += 1
        result.predicted.append(_label(out.judgement))
        if result.confirmation is not None and second is not None:
            _confirmed(result.confirmation, out.judgement, second.judgement, threshold)
    return result


def _label(judgement: Judgement | None) -> str:
    return "NOT ENOUGH INFO" if judgement is None else STANCE_TO_LABEL[judgement.stance]


def _confirmed(into: ConfirmResult, first: Judgement | None, second: Judgement | None, threshold: float) -> None:
    into.second.append(_label(second))
    into.first_stances.append(first.stance.value if first is not None else "judge-error")
    into.second_stances.append(second.stance.value if second is not None else "judge-error")
    into.judge_errors += second is None
    if second is not None:
        into.stances[second.stance.value] += 1
    credible = is_credible_judgement(first, threshold)
    into.credible.append(_label(first) if credible else "NOT ENOUGH INFO")
    agreed = agreed_stance(first, second, threshold) if credible and first is not None else None
    into.confirmed.append(STANCE_TO_LABEL[agreed] if agreed is not None else "NOT ENOUGH INFO")
    into.to_review += credible and agreed is None


def cohen_kappa(a: list[str], b: list[str], labels: tuple[str, ...] = LABELS) -> float | None:
    """Agreement between two labellings beyond what their label frequencies give by chance; None when it is
    undefined (both gave one and the same label throughout: chance alone explains the agreement)."""
    n = len(a)
    if n == 0:
        return None
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    count_a, count_b = Counter(a), Counter(b)
    expected = sum(count_a[label] * count_b[label] for label in labels) / (n * n)
    return None if expected == 1 else (observed - expected) / (1 - expected)


def accuracy(gold: list[str], predicted: list[str]) -> float:
    return sum(g == p for g, p in zip(gold, predicted, strict=True)) / len(gold) if gold else 0.0


def macro_f1(gold: list[str], predicted: list[str]) -> float:
    """Mean F1 over the three labels (a label absent from both gold and predictions scores 0)."""
    scores = []
    for label in LABELS:
        tp = sum(g == p == label for g, p in zip(gold, predicted, strict=True))
        fp = sum(p == label != g for g, p in zip(gold, predicted, strict=True))
        fn = sum(g == label != p for g, p in zip(gold, predicted, strict=True))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(scores) / len(LABELS)


def confusion(gold: list[str], predicted: list[str]) -> list[list[int]]:
    """Rows: gold label; columns: predicted label; both in LABELS order."""
    counts = Counter(zip(gold, predicted, strict=True))
    return [[counts[(g, p)] for p in LABELS] for g in LABELS]
