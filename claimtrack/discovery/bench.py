"""The retrieval benchmark: BM25, dense and hybrid ranking on a BEIR dataset, with speed figures.

The dense index is a Chroma collection in `index_dir`, named for the dataset and the embedding settings,
so a second run reuses it and embeds nothing (the report says so).
"""

from __future__ import annotations

import hashlib
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from claimtrack.config import Settings
from claimtrack.discovery import beir
from claimtrack.discovery.bm25 import BM25
from claimtrack.discovery.index import (
    bm25_top,
    chroma_client,
    dense_top,
    fuse,
    fuse_rrf,
    open_collection,
    sync,
    text_of,
)

METHODS = ("bm25", "dense", "hybrid", "rrf")  # hybrid: the tuned convex fusion; rrf: for comparison
DEPTH = 100


def default_index_dir(settings: Settings, folder: Path) -> Path:
    digest = hashlib.sha1(str(folder.resolve()).encode()).hexdigest()[:8]
    return settings.cache_dir / "bench" / f"{folder.name}-{digest}"


def collection_name(settings: Settings) -> str:
    return f"beir-{'int8' if settings.embed_int8 else 'fp32'}-{settings.embed_max_tokens}"


def run(
    folder: Path,
    *,
    split: str = "train",
    methods: tuple[str, ...] = METHODS,
    settings: Settings,
    index_dir: Path | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, object]:
    """nDCG@10 and Recall@100 per method, indexing throughput and per-query latency (ms)."""
    data = beir.load(folder, split)
    ids = list(data.corpus)
    texts = [text_of(title, text) for title, text in data.corpus.values()]
    qids = list(data.queries)
    report: dict[str, object] = {
        "dataset": str(folder),
        "split": split,
        "docs": len(ids),
        "queries": len(qids),
        "methods": {},
    }
    rankings: dict[str, dict[str, list[tuple[str, float]]]] = {}
    latency: dict[str, list[float]] = {}

    fused = {"hybrid", "rrf"} & set(methods)
    if {"bm25"} & set(methods) or fused:
        start = time.perf_counter()
        index = BM25(ids, texts)
        seconds = time.perf_counter() - start
        report["bm25_index"] = {"seconds": round(seconds, 2), "docs_per_s": round(len(ids) / seconds, 1)}
        rankings["bm25"], latency["bm25"] = {}, []
        for q in qids:
            t = time.perf_counter()
            rankings["bm25"][q] = bm25_top(index, data.queries[q], DEPTH)
            latency["bm25"].append(time.perf_counter() - t)

    if {"dense"} & set(methods) or fused:
        where = index_dir or default_index_dir(settings, folder)
        collection = open_collection(chroma_client(where, settings), settings, collection_name(settings))
        progress(f"dense index in {where} ({collection.count()} of {len(ids)} docs already embedded)")
        start = time.perf_counter()
        embedded = sync(
            collection,
            zip(ids, texts, ({} for _ in ids), strict=True),
            progress=lambda n: progress(f"embedded {n} docs") if n % 1024 == 0 else None,
        )
        seconds = time.perf_counter() - start
        report["dense_index"] = {
            "embedded": embedded,
            "seconds": round(seconds, 2),
            "reused": embedded == 0,
            "docs_per_s": round(embedded / seconds, 1) if embedded else None,
            "path": str(where),
            "collection": collection_name(settings),
        }
        dense_top(collection, "warm up", 1)  # loads the model; not a query's cost
        rankings["dense"], latency["dense"] = {}, []
        for q in qids:
            t = time.perf_counter()
            rankings["dense"][q] = dense_top(collection, data.queries[q], DEPTH)
            latency["dense"].append(time.perf_counter() - t)

    for method in sorted(fused):
        combine = fuse if method == "hybrid" else fuse_rrf
        rankings[method], latency[method] = {}, []
        for i, q in enumerate(qids):
            t = time.perf_counter()
            hits = combine(rankings["bm25"][q], rankings["dense"][q])[:DEPTH]
            rankings[method][q] = [(h.id, h.score) for h in hits]
            latency[method].append(time.perf_counter() - t + latency["bm25"][i] + latency["dense"][i])

    for method in methods:
        ndcg = [beir.ndcg_at([d for d, _ in rankings[method][q]], data.qrels[q]) for q in qids]
        recall = [beir.recall_at([d for d, _ in rankings[method][q]], data.qrels[q]) for q in qids]
        times = sorted(latency[method])
        held_out = [n for q, n in zip(qids, ndcg, strict=True) if not _tuning_half(q)]
        report["methods"][method] = {
            "ndcg@10": round(statistics.fmean(ndcg), 4),
            "recall@100": round(statistics.fmean(recall), 4),
            "ndcg@10_held_out": round(statistics.fmean(held_out), 4) if held_out else None,
            "query_ms_median": round(1000 * statistics.median(times), 2),
            "query_ms_p95": round(1000 * times[int(0.95 * (len(times) - 1))], 2),
        }
    return report


def _tuning_half(query_id: str) -> bool:
    """The fusion weight was chosen on even-numbered query ids; the odd ones are the held-out half."""
    return query_id.isdigit() and int(query_id) % 2 == 0
