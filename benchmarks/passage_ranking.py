"""Ranking a long paper's passages against a claim: the lexical pool for the dense side against embedding every
passage, side by side in one run, with what each picks.

    python benchmarks/passage_ranking.py [--sections 40] [--rounds 3]

The paper is made by tests/pdf_maker.py (two columns, `--sections` numbered sections) and read through
claimtrack's PDF path, so its passages are the ones a run would rank; a finding that bears on the claim is
placed in its Results section. Prints seconds per (claim, paper) ranking (the median of `--rounds`, after one
warm-up that loads the model), and whether the finding's passage comes first either way.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from pdf_maker import make_pdf, paper_blocks  # noqa: E402

from claimtrack.config import Settings  # noqa: E402
from claimtrack.fulltext import passages as ranking  # noqa: E402
from claimtrack.fulltext.models import FullText, Passage  # noqa: E402
from claimtrack.fulltext.pdf import read_pdf  # noqa: E402
from claimtrack.fulltext.text import chunk  # noqa: E402

FINDING = (
    "Above eleven billion parameters, tuning on simplified task definitions lost nearly eight exact-match points "
    "relative to the original instructions."
)
CLAIM = (
    "Instruction-tuning models on simplified task definitions gave held-out-task exact match comparable to "
    "tuning on the original instructions."
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    settings = Settings()
    made = make_pdf(paper_blocks(args.sections, 4, seed=5, extra={"Results": FINDING}), columns=2)
    parsed = read_pdf(made.data, max_pages=settings.fulltext_max_pages, timeout_s=120)
    passages: list[Passage] = []
    for section, kind, text in parsed.pieces:
        for piece in chunk(text, settings.fulltext_passage_tokens):
            passages.append(Passage(n=len(passages), section=section, kind=kind, text=piece))
    paper = FullText(paper_id="bench", source="pdf", passages=passages)
    print(f"{made.pages} pages, {len(passages)} passages of at most {settings.fulltext_passage_tokens} tokens")

    pools = {f"lexical pool ({ranking.DENSE_POOL})": ranking.DENSE_POOL, "every passage": len(passages) + 1}
    ranking.passages_for(CLAIM, paper, settings=settings)  # warm-up: loads the encoder
    timings: dict[str, list[float]] = {name: [] for name in pools}
    firsts: dict[str, str] = {}
    for _ in range(args.rounds):
        for name, pool in pools.items():
            ranking.DENSE_POOL = pool
            started = time.perf_counter()
            chosen = ranking.passages_for(CLAIM, paper, settings=settings)
            timings[name].append(time.perf_counter() - started)
            firsts[name] = "finding first" if FINDING in chosen[0].text else f"first: {chosen[0].text[:60]}"
    for name, taken in timings.items():
        print(f"{name:<22}{statistics.median(taken):>7.2f} s per (claim, paper)   {firsts[name]}")


if __name__ == "__main__":
    main()
