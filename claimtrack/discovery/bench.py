"""The retrieval benchmark: FTS5, dense, hybrid and RRF ranking on a BEIR dataset, with speed figures.

Each method runs the code discovery runs. FTS5: the corpus is stored as papers in a fresh ledger in a temporary
folder (through the same storage path as an import, so the FTS5 triggers do the indexing) and searched with
`lexical.search`. Dense: the whole corpus embedded in a Chroma collection, nearest neighbours by HNSW. Hybrid and
RRF: the lexical top `Settings.lexical_pool` re-scored by cosine and fused, as `PaperIndex.search` does.

The dense index is a Chroma collection in `index_dir`, named for the embedding settings, so a second run reuses
it and embeds nothing (the report says so).
"""

from __future__ import annotations

import hashlib
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from claimtrack.config import Settings
from claimtrack.discovery import beir, lexical
from claimtrack.discovery.index import (
    chroma_client,
    cosines,
    dense_top,
    embedding_function,
    fuse,
    fuse_rrf,
    open_collection,
    sync,
    text_of,
)

if TYPE_CHECKING:
    from claimtrack.ledger import Ledger

METHODS = ("fts5", "dense", "hybrid", "rrf")  # hybrid: the tuned score fusion; rrf: for comparison
DEPTH = 100


def default_index_dir(settings: Settings, folder: Path) -> Path:
    digest = hashlib.sha1(str(folder.resolve()).encode()).hexdigest()[:8]
    return settings.cache_dir / "bench" / f"{folder.name}-{digest}"


def collection_name(settings: Settings) -> str:
    return f"beir-{'int8' if settings.embed_int8 else 'fp32'}-{settings.embed_max_tokens}"


def corpus_ledger(data: beir.BeirDataset, folder: Path) -> Ledger:
    """A new ledger in `folder` holding the corpus as papers (ids as in the dataset)."""
    from claimtrack.ledger import Ledger
    from claimtrack.papers import Paper, store_papers

    ledger = Ledger(folder / "ledger.sqlite")
    papers = [Paper(id=doc_id, title=title, abstract=text) for doc_id, (title, text) in data.corpus.items()]
    for start in range(0, len(papers), 2000):
        store_papers(ledger, papers[start : start + 2000], source="beir")
    return ledger


def run(
    folder: Path,
    *,
    split: str = "train",
    methods: tuple[str, ...] = METHODS,
    settings: Settings,
    index_dir: Path | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, object]:
    """nDCG@10 (all queries, tuning half, held-out half) and Recall@100 per method, indexing throughput and
    per-query latency (ms)."""
    data = beir.load(folder, split)
    qids = list(data.queries)
    report: dict[str, object] = {
        "dataset": str(folder),
        "split": split,
        "docs": len(data.corpus),
        "queries": len(qids),
        "pool": settings.lexical_pool,
        "methods": {},
    }
    rankings: dict[str, dict[str, list[tuple[str, float]]]] = {}
    latency: dict[str, list[float]] = {}
    wanted = set(methods)
    fused = {"hybrid", "rrf"} & wanted
    with tempfile.TemporaryDirectory(prefix="claimtrack-bench-") as tmp:
        start = time.perf_counter()
        ledger = corpus_ledger(data, Path(tmp))
        seconds = time.perf_counter() - start
        report["fts5_index"] = {"seconds": round(seconds, 2), "docs_per_s": round(len(data.corpus) / seconds, 1)}
        try:
            lexical_top: dict[str, list[tuple[str, float]]] = {}
            lexical_s: list[float] = []
            for q in qids:
                t = time.perf_counter()
                lexical_top[q] = lexical.search(ledger.conn, data.queries[q], max(DEPTH, settings.lexical_pool))
                lexical_s.append(time.perf_counter() - t)
        finally:
            ledger.close()
    if "fts5" in wanted:
        rankings["fts5"] = {q: lexical_top[q][:DEPTH] for q in qids}
        latency["fts5"] = lexical_s

    if "dense" in wanted or fused:
        where = index_dir or default_index_dir(settings, folder)
        collection = open_collection(chroma_client(where, settings), settings, collection_name(settings))
        progress(f"dense index in {where} ({collection.count()} of {len(data.corpus)} docs already embedded)")
        docs = ((doc_id, text_of(title, text), {}) for doc_id, (title, text) in data.corpus.items())
        start = time.perf_counter()
        embedded = sync(collection, docs, progress=lambda checked, n: progress(f"checked {checked}, embedded {n} docs"))
        seconds = time.perf_counter() - start
        report["dense_index"] = {
            "embedded": embedded,
            "seconds": round(seconds, 2),
            "reused": embedded == 0,
            "docs_per_s": round(embedded / seconds, 1) if embedded else None,
            "path": str(where),
            "collection": collection_name(settings),
        }
        embed = embedding_function(settings)
        embed(["warm up"])  # loads the model; not a query's cost
        vectors, embed_s = {}, {}
        for q in qids:
            t = time.perf_counter()
            vectors[q] = embed([data.queries[q]])[0]
            embed_s[q] = time.perf_counter() - t
        if "dense" in wanted:
            rankings["dense"], latency["dense"] = {}, []
            for q in qids:
                t = time.perf_counter()
                rankings["dense"][q] = dense_top(collection, vectors[q], DEPTH)
                latency["dense"].append(time.perf_counter() - t + embed_s[q])
        for method in sorted(fused):
            combine = fuse if method == "hybrid" else fuse_rrf
            rankings[method], latency[method] = {}, []
            for i, q in enumerate(qids):
                t = time.perf_counter()
                pool = lexical_top[q][: settings.lexical_pool]
                hits = combine(pool, cosines(collection, vectors[q], [doc_id for doc_id, _ in pool]))[:DEPTH]
                rankings[method][q] = [(h.id, h.score) for h in hits]
                latency[method].append(time.perf_counter() - t + lexical_s[i] + embed_s[q])

    for method in methods:
        ndcg = {q: beir.ndcg_at([d for d, _ in rankings[method][q]], data.qrels[q]) for q in qids}
        recall = [beir.recall_at([d for d, _ in rankings[method][q]], data.qrels[q]) for q in qids]
        times = sorted(latency[method])
        tuning = [n for q, n in ndcg.items() if tuning_half(q)]
        held_out = [n for q, n in ndcg.items() if not tuning_half(q)]
        report["methods"][method] = {
            "ndcg@10": round(statistics.fmean(ndcg.values()), 4),
            "ndcg@10_tuning": round(statistics.fmean(tuning), 4) if tuning else None,
            "ndcg@10_held_out": round(statistics.fmean(held_out), 4) if held_out else None,
            "recall@100": round(statistics.fmean(recall), 4),
            "query_ms_median": round(1000 * statistics.median(times), 2),
            "query_ms_p95": round(1000 * times[int(0.95 * (len(times) - 1))], 2),
        }
    return report


def tuning_half(query_id: str) -> bool:
    """Weights and pool size were chosen on even-numbered query ids; the odd ones are the held-out half."""
    return query_id.isdigit() and int(query_id) % 2 == 0
