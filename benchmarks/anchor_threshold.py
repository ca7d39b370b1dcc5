"""How many right and wrong papers an anchor search would propose at each match threshold.

    python benchmarks/anchor_threshold.py [--scifact DIR] [--claims 200]

Each case is a note and a pool of candidate papers, as a search would return them. "Right" counts notes whose
best-matching paper is theirs and scores at least the threshold; "wrong" counts proposals of another paper:
the best one when it is not the note's own, and the best of the pool with the note's own paper taken out (a
search that missed it). Two sets:

- the seed library (tests/fixtures/anchors/matches.yaml): 28 notes, each pooled with the 28 anchor papers of
  the store, described by title and the store's curated statement (a stand-in for the abstract);
- SciFact (optional, e.g. shared/data/scifact): claims with the 10 abstracts a lexical search ranks first for
  them, the cited one among them when the search found it. Paraphrased one-sentence claims: a hard case.
"""

from __future__ import annotations

import argparse
import json
import math
import random
from collections import Counter
from pathlib import Path

import yaml

from claimtrack.anchors.arxiv import ArxivRecord
from claimtrack.anchors.resolve import NoteText, best_match
from claimtrack.anchors.text import terms
from claimtrack.config import Settings

ROOT = Path(__file__).resolve().parent.parent
Case = tuple[NoteText, list[ArxivRecord], set[str]]


def paper(ident: str, title: str, text: str) -> ArxivRecord:
    return ArxivRecord(ident, "v1", title, (), "2000-01-01", None, (), text)


def seed_cases() -> list[Case]:
    data = yaml.safe_load((ROOT / "tests" / "fixtures" / "anchors" / "matches.yaml").read_text())
    papers = [paper(p["arxiv"], p["title"], p["text"]) for p in data["papers"]]
    return [(NoteText(n["title"], n["finding"]), papers, {n["paper"]}) for n in data["notes"]]


def scifact_cases(folder: Path, count: int) -> list[Case]:
    corpus = {str(d["doc_id"]): d for d in map(json.loads, (folder / "corpus.jsonl").open())}
    claims = [c for c in map(json.loads, (folder / "claims_train.jsonl").open()) if c["cited_doc_ids"]]
    bags = {k: terms(d["title"] + " " + " ".join(d["abstract"])) for k, d in corpus.items()}
    df = Counter(t for bag in bags.values() for t in bag)

    def search(claim: str) -> list[str]:
        words = terms(claim)
        return sorted(corpus, key=lambda k: -sum(math.log(len(corpus) / df[t]) for t in words if t in bags[k]))[:10]

    random.seed(1)
    cases = []
    for claim in random.sample(claims, min(count, len(claims))):
        found = search(claim["claim"])
        pool = [paper(k, corpus[k]["title"], " ".join(corpus[k]["abstract"])) for k in found]
        cases.append((NoteText("", claim["claim"]), pool, {str(d) for d in claim["cited_doc_ids"]}))
    return cases


def table(name: str, cases: list[Case], thresholds: list[float]) -> None:
    right, wrong = [], []
    for note, pool, own in cases:
        best, score = best_match(note, pool)
        (right if best.id in own else wrong).append(score)
        others = [p for p in pool if p.id not in own]
        wrong.append(best_match(note, others)[1])
    print(f"{name}: {len(cases)} notes, best match right for {len(right)}")
    print("  threshold  right  wrong  precision")
    for t in thresholds:
        r, w = sum(s >= t for s in right), sum(s >= t for s in wrong)
        print(f"  {t:9.2f}  {r:5d}  {w:5d}  {r / (r + w) if r + w else 1:9.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scifact", type=Path, help="a folder with SciFact's claims_train.jsonl and corpus.jsonl")
    parser.add_argument("--claims", type=int, default=200)
    args = parser.parse_args()
    chosen = Settings().anchor_match_threshold
    thresholds = sorted({round(0.2 + 0.04 * i, 2) for i in range(10)} | {chosen})
    print(f"anchor_match_threshold = {chosen:.2f}")
    table("seed notes", seed_cases(), thresholds)
    if args.scifact:
        table("SciFact", scifact_cases(args.scifact, args.claims), thresholds)


if __name__ == "__main__":
    main()
