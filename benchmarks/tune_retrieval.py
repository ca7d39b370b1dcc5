"""How discovery's ranking knobs were chosen: every choice on the even-numbered SciFact train queries only, then
the chosen setting scored once on the odd-numbered (held-out) half.

    nice python benchmarks/tune_retrieval.py shared/data/beir-scifact [--index-dir DIR]

Steps, each printing nDCG@10 on the tuning half:
  1. FTS5 tokenizer (porter stemming or not, unicode61 or ascii; positions kept or not) and stopwords kept or
     dropped;
  2. compound spellings: adding the joined form of hyphenated words and of adjacent word pairs
     ("fine-tuning", "fine tuning" -> also "finetuning") and the split forms of long words
     ("finetuning" -> also the phrases "fine tuning", "finet uning", ...);
  3. bm25() title weight (abstract weight 1);
  4. the hybrid's pool size and fusion weight ALPHA, and RRF's k for comparison;
  5. the two-stage lexical search's posting budget and candidates (claimtrack/discovery/lexical.py), as shares
     of the corpus: at a million papers the default budget of 100,000 postings is 10% of it;
  6. the first run's pool: fixed sizes against an adaptive pool that embeds the lexical top 100 at a time and
     stops once the fused top 10 no longer changes (with the papers each embeds).
The dense vectors come from `claimtrack bench retrieval`'s index (run it first, or pass the same --index-dir).
"""

from __future__ import annotations

import argparse
import itertools
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from claimtrack.config import Settings
from claimtrack.discovery import beir, bench, lexical
from claimtrack.discovery.index import ALPHA, chroma_client, fuse, fuse_rrf, open_collection

SHARES = (1.0, 0.5, 0.2, 0.1, 0.05, 0.02)  # step 5: posting budgets as shares of the corpus
CANDIDATES = (300, 1000)
TOKENIZERS = {  # name: FTS5 options
    "porter unicode61": "tokenize='porter unicode61 remove_diacritics 2'",
    "unicode61 (no stemming)": "tokenize='unicode61 remove_diacritics 2'",
    "porter ascii": "tokenize='porter ascii'",
    "porter unicode61 detail=column": "tokenize='porter unicode61 remove_diacritics 2', detail=column",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("beir", type=Path)
    parser.add_argument("--index-dir", type=Path, default=None)
    args = parser.parse_args()
    settings = Settings()
    data = beir.load(args.beir, "train")
    even = [q for q in data.queries if bench.tuning_half(q)]
    odd = [q for q in data.queries if not bench.tuning_half(q)]
    print(f"{len(data.corpus)} docs; {len(even)} tuning queries (even ids), {len(odd)} held out (odd ids)")

    def ndcg(rank: Callable[[str], list[str]], qids: list[str]) -> float:
        return statistics.fmean(beir.ndcg_at(rank(q), data.qrels[q]) for q in qids)

    with tempfile.TemporaryDirectory() as tmp:
        ledger = bench.corpus_ledger(data, Path(tmp))
        conn = ledger.conn
        for name, spec in TOKENIZERS.items():
            table = "t_" + re.sub(r"\W", "_", name)
            conn.execute(f"CREATE VIRTUAL TABLE {table} USING fts5(title, abstract, content='papers', {spec})")
            conn.execute(f"INSERT INTO {table} ({table}) VALUES ('rebuild')")

        def fts(table: str, match: str, k: int = 100, weights: tuple[float, float] = (1.0, 1.0)) -> list[str]:
            if not match:
                return []
            rows = conn.execute(
                f"SELECT p.id, -bm25({table}, ?, ?) AS s FROM {table} JOIN papers p ON p.rowid = {table}.rowid"
                f" WHERE {table} MATCH ? ORDER BY s DESC, p.id LIMIT ?",
                (*weights, match, k),
            ).fetchall()
            return [r[0] for r in rows]

        def all_words(text: str) -> str:
            return " OR ".join(lexical.quote(w.lower()) for w in dict.fromkeys(re.findall(r"[^\W_]+", text)))

        print("\n1. tokenizer and stopwords: FTS5 nDCG@10 (tuning half)")
        for name in TOKENIZERS:
            table = "t_" + re.sub(r"\W", "_", name)
            dropped = ndcg(lambda q, t=table: fts(t, lexical.fts_query(data.queries[q])), even)
            kept = ndcg(lambda q, t=table: fts(t, all_words(data.queries[q])), even)
            print(f"  {name:28} stopwords dropped {dropped:.4f}   kept {kept:.4f}")

        print("\n2. compound spellings (porter unicode61, stopwords dropped): nDCG@10 (tuning half), ms/query")
        variants = {
            "words only": lambda text: lexical.fts_query(text),
            "+ joined hyphenated": lambda text: _with(text, _joined_hyphenated(text)),
            "+ joined adjacent pairs": lambda text: _with(text, _joined_pairs(text)),
            "+ split long words": lambda text: _with(text, _splits(text)),
        }
        for name, build in variants.items():
            start = time.perf_counter()
            score = ndcg(lambda q, b=build: fts("papers_fts", b(data.queries[q])), even)
            ms = 1000 * (time.perf_counter() - start) / len(even)
            print(f"  {name:28} {score:.4f}  {ms:.1f} ms")

        print("\n3. bm25() title weight (abstract 1): FTS5 nDCG@10 (tuning half)")
        for weight in (0.5, 1.0, 2.0, 2.5, 3.0, 4.0, 5.0):
            score = ndcg(lambda q, w=weight: fts("papers_fts", lexical.fts_query(data.queries[q]), 100, (w, 1.0)), even)
            print(f"  title {weight:<4} {score:.4f}")

        lexical_top = {q: lexical.search(conn, data.queries[q], 1000) for q in data.queries}
        staged = {
            (share, candidates): {
                q: lexical.search(
                    conn,
                    data.queries[q],
                    settings.lexical_pool,
                    budget=max(1, round(share * len(data.corpus))),
                    candidates=candidates,
                )
                for q in even
            }
            for share in SHARES
            for candidates in CANDIDATES
        }
        ledger.close()

    where = args.index_dir or bench.default_index_dir(settings, args.beir)
    collection = open_collection(chroma_client(where, settings), settings, bench.collection_name(settings))
    if collection.count() < len(data.corpus):
        raise SystemExit(f"{where} holds {collection.count()} of {len(data.corpus)} docs: run bench retrieval first")
    import numpy as np

    stored = collection.get(include=["embeddings"])
    position = {doc_id: i for i, doc_id in enumerate(stored["ids"])}
    matrix = np.asarray(stored["embeddings"], dtype=np.float32)
    from claimtrack.discovery.index import embedding_function

    # One query per call, as discover embeds them: int8 dynamic quantization scales activations per batch, so a
    # vector depends slightly on the texts embedded with it.
    embed = embedding_function(settings)
    qvec = {q: embed([text])[0] for q, text in data.queries.items()}

    def pool_cosines(
        q: str, pool: int, top: dict[str, list[tuple[str, float]]] = lexical_top
    ) -> list[tuple[str, float]]:
        ids = [d for d, _ in top[q][:pool]]
        scores = matrix[[position[i] for i in ids]] @ np.asarray(qvec[q], dtype=np.float32)
        return sorted(zip(ids, scores.tolist(), strict=True), key=lambda x: -x[1])

    def hybrid(q: str, pool: int, alpha: float) -> list[str]:
        return [h.id for h in fuse(lexical_top[q][:pool], pool_cosines(q, pool), alpha=alpha)[:100]]

    def rrf(q: str, pool: int, k: int) -> list[str]:
        return [h.id for h in fuse_rrf(lexical_top[q][:pool], pool_cosines(q, pool), rrf_k=k)[:100]]

    def dense_pool(q: str, pool: int) -> list[str]:
        return [d for d, _ in pool_cosines(q, pool)[:100]]

    alphas = (0.2, 0.3, 0.4, 0.5, 0.6)
    pools = (100, 200, 300, 500, 1000)
    print("\n4. hybrid nDCG@10 (tuning half): pool size x ALPHA (lexical weight); dense over the pool alone")
    print("  pool  " + "  ".join(f"a={a:<4}" for a in alphas) + "  dense-in-pool")
    best = (0.0, 0, 0.0)
    for pool in pools:
        row = []
        for alpha in alphas:
            score = ndcg(lambda q, p=pool, a=alpha: hybrid(q, p, a), even)
            row.append(score)
            best = max(best, (score, pool, alpha))
        only = ndcg(lambda q, p=pool: dense_pool(q, p), even)
        print(f"  {pool:<5} " + "  ".join(f"{s:.4f}" for s in row) + f"  {only:.4f}")
    print("  RRF:  " + "  ".join(f"k={k}: {ndcg(lambda q, k=k: rrf(q, 300, k), even):.4f}" for k in (10, 20, 40, 60)))
    score, pool, alpha = best
    print(f"\nbest on the tuning half: pool {pool}, ALPHA {alpha}: {score:.4f}")
    print(f"  held-out half with it: {ndcg(lambda q: hybrid(q, pool, alpha), odd):.4f}")
    pool, alpha = settings.lexical_pool, ALPHA
    print(f"shipped (pool {pool}, ALPHA {alpha}): tuning {ndcg(lambda q: hybrid(q, pool, alpha), even):.4f}")
    print(f"  held-out half with it: {ndcg(lambda q: hybrid(q, pool, alpha), odd):.4f}")

    def staged_hybrid(q: str, top: dict[str, list[tuple[str, float]]]) -> list[str]:
        return [h.id for h in fuse(top[q], pool_cosines(q, len(top[q]), top))[:100]]

    print("\n5. two-stage lexical search: hybrid nDCG@10 (tuning half) by posting budget (share of the corpus)")
    print("  share   " + "  ".join(f"{c} candidates" for c in CANDIDATES))
    for share in SHARES:
        row = [ndcg(lambda q, t=staged[share, c]: staged_hybrid(q, t), even) for c in CANDIDATES]
        print(f"  {share:>5.0%}   " + "  ".join(f"{score:.4f}        " for score in row))

    print("\n6. the first run's pool: hybrid nDCG@10 (tuning half), papers embedded per query")
    for pool in (100, 200, 300):
        print(f"  fixed {pool:<4} {ndcg(lambda q, p=pool: hybrid(q, p, ALPHA), even):.4f}  {pool}")
    embedded: dict[str, int] = {}

    def adaptive(q: str) -> list[str]:
        pool, last = 100, None
        while (top := hybrid(q, pool, ALPHA)[:10]) != last and pool < 300 and pool < len(lexical_top[q]):
            last, pool = top, pool + 100
        embedded[q] = min(pool, len(lexical_top[q]))
        return hybrid(q, pool, ALPHA)

    score = ndcg(adaptive, even)
    spent = list(embedded.values())
    print(f"  adaptive   {score:.4f}  mean {statistics.fmean(spent):.0f}, median {statistics.median(spent):.0f}")


def _with(text: str, extra: list[str]) -> str:
    base = lexical.fts_query(text)
    more = " OR ".join(lexical.quote(e) for e in extra)
    return " OR ".join(filter(None, [base, more]))


def _joined_hyphenated(text: str) -> list[str]:
    return [m.replace("-", "").lower() for m in re.findall(r"[^\W_]+(?:-[^\W_]+)+", text)]


def _joined_pairs(text: str) -> list[str]:
    words = [w.lower() for w in re.findall(r"[^\W_]+", text)]
    stop = lexical.STOPWORDS
    return [a + b for a, b in itertools.pairwise(words) if a not in stop and b not in stop]


def _splits(text: str) -> list[str]:
    return [f"{w[:i]} {w[i:]}" for w in lexical.words(text) if len(w) >= 7 for i in range(3, len(w) - 2)]


if __name__ == "__main__":
    main()
