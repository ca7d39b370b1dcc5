"""The judge on SciFact: each claim against each abstract it cites, three-way label accuracy and macro-F1.

Label map (stance -> SciFact label): supports -> SUPPORT; contradicts, supersedes -> CONTRADICT;
relaxes -> CONTRADICT (the claim does not hold as stated, which is how `decide` treats it too: relaxes and
contradicts both move a claim to relaxed); unrelated and judge-errors -> NOT ENOUGH INFO (errors are also
counted apart). Gold: the label of the doc's rationale sets, or NOT ENOUGH INFO for cited docs without one.
Published anchors (abstract-level label F1): VeriSci 51.0 (dev, open retrieval), MultiVerS 72.5 (test);
ours uses the gold cited abstracts (an oracle retrieval), so it is an upper-bound-style setting.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claimtrack.agent.judge import judge_pair
from claimtrack.agent.llm import LLM, LLMError
from claimtrack.agent.prompts import Prompt
from claimtrack.errors import InvalidInput
from claimtrack.ledger import Ledger
from claimtrack.models import Claim, Stance
from claimtrack.papers import Paper

LABELS = ("SUPPORT", "CONTRADICT", "NOT ENOUGH INFO")
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

    def as_dict(self, llm: LLM) -> dict[str, Any]:
        return {
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


def run_bench(ledger: Ledger, llm: LLM, prompt: Prompt, pairs: list[Pair], corpus: dict[int, Paper]) -> BenchResult:
    result = BenchResult()
    for pair in pairs:
        claim = Claim(id=f"scifact-{pair.claim_id}", title=pair.claim, statement=pair.claim)
        try:
            out = judge_pair(ledger, llm, prompt, claim, corpus[pair.doc_id], run_id="bench-scifact")
        except LLMError:
            result.endpoint_failures += 1
            continue
        result.pairs += 1
        result.cached += out.cached
        result.gold.append(pair.gold)
        if out.judgement is None:
            result.judge_errors += 1
            result.predicted.append("NOT ENOUGH INFO")
        else:
            result.stances[out.judgement.stance.value] += 1
            result.predicted.append(STANCE_TO_LABEL[out.judgement.stance])
    return result


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
