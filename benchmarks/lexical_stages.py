"""Two choices for discovery at a million papers, measured on the SciFact tuning half (even query ids) only:

    nice python benchmarks/lexical_stages.py shared/data/beir-scifact [--index-dir DIR]

1. The two-stage lexical search (claimtrack/discovery/lexical.py): stage 1 ranks the papers holding the
   query's rarest words while their document counts fit a budget, stage 2 re-scores its best `candidates` with
   every word. At a million papers the default budget (50,000 postings) is 5% of the corpus; SciFact has 5,183
   abstracts, so the budget is tried here as the same fractions of the corpus (100% = today's one-stage search).
2. The first discover's pool: fixed pools of 100-300 papers against an adaptive pool that embeds the lexical
   top 100 at a time and stops once the fused top 10 no longer changes. Printed with the papers it embeds.

Both print the hybrid's nDCG@10 (pool 300, ALPHA as tuned). The dense vectors come from `claimtrack bench
retrieval`'s index (run it first, or pass the same --index-dir); queries are embedded one at a time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from claimtrack.config import Settings
from claimtrack.discovery import beir, bench, lexical
from claimtrack.discovery.index import chroma_client, embedding_function, fuse, open_collection, ranked_cosines

FRACTIONS = (1.0, 0.5, 0.2, 0.1, 0.05, 0.02)
CANDIDATES = (300, 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("beir", type=Path)
    parser.add_argument("--index-dir", type=Path, default=None)
    args = parser.parse_args()
    settings = Settings()
    data = beir.load(args.beir, "train")
    even = [q for q in data.queries if bench.tuning_half(q)]
    where = args.index_dir or bench.default_index_dir(settings, args.beir)
    collection = open_collection(chroma_client(where, settings), settings, bench.collection_name(settings))
    stored = collection.get(include=["embeddings"])
    vectors = dict(zip(stored["ids"], stored["embeddings"], strict=True))
    embed = embedding_function(settings)
    query_vector = {q: embed([data.queries[q]])[0] for q in even}
    pool = settings.lexical_pool

    def hybrid(q: str, top: list[tuple[str, float]]) -> list[str]:
        dense = ranked_cosines({i: vectors[i] for i, _ in top}, query_vector[q])
        return [h.id for h in fuse(top, dense)[:10]]

    def ndcg(ranked: dict[str, list[str]]) -> float:
        return statistics.fmean(beir.ndcg_at(ranked[q], data.qrels[q]) for q in even)

    with tempfile.TemporaryDirectory() as tmp:
        ledger = bench.corpus_ledger(data, Path(tmp))
        print(f"{len(data.corpus)} docs, {len(even)} tuning queries\n")
        print("1. two-stage lexical search: hybrid nDCG@10 (tuning half) by budget (share of the corpus)")
        print("  budget  " + "  ".join(f"cand {c:<5}" for c in CANDIDATES) + "  FTS5 alone (cand 1000)")
        for fraction in FRACTIONS:
            budget = max(1, round(fraction * len(data.corpus)))
            row = []
            for candidates in CANDIDATES:
                tops = {
                    q: lexical.search(ledger.conn, data.queries[q], pool, budget=budget, candidates=candidates)
                    for q in even
                }
                row.append(ndcg({q: hybrid(q, tops[q]) for q in even}))
            fts5 = ndcg({q: [i for i, _ in tops[q][:10]] for q in even})
            print(f"  {fraction:>5.0%}   " + "  ".join(f"{s:.4f}    " for s in row) + f"  {fts5:.4f}")
        full = {q: lexical.search(ledger.conn, data.queries[q], 1000) for q in even}
        ledger.close()

    print("\n2. the first discover's pool: hybrid nDCG@10 (tuning half) and papers embedded per query")
    for size in (100, 200, 300):
        print(f"  fixed {size:<4} {ndcg({q: hybrid(q, full[q][:size]) for q in even}):.4f}  {size}")
    adaptive, embedded = {}, []
    for q in even:
        size, last = 100, None
        while True:
            top = hybrid(q, full[q][:size])
            if top == last or size >= pool or size >= len(full[q]):
                break
            last, size = top, size + 100
        adaptive[q] = top
        embedded.append(min(size, len(full[q])))
    print(
        f"  adaptive (100 at a time, stop when the top 10 holds) {ndcg(adaptive):.4f}"
        f"  mean {statistics.fmean(embedded):.0f}, median {statistics.median(embedded):.0f}"
    )


if __name__ == "__main__":
    main()
