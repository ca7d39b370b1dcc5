"""`claimtrack bench retrieval`: nDCG@10 / Recall@100 of FTS5, dense, hybrid and RRF ranking on a BEIR dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from claimtrack.cli.common import print_json, table


def retrieval(
    beir: Annotated[
        Path, typer.Option("--beir", help="BEIR-format folder: corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv.")
    ],
    split: Annotated[str, typer.Option(help="Which qrels split to score (train or test).")] = "train",
    method: Annotated[
        str, typer.Option(help="fts5, dense, hybrid (tuned score fusion), rrf (reciprocal rank fusion) or all.")
    ] = "all",
    index_dir: Annotated[
        Path | None,
        typer.Option(help="Where the dense index lives (default: the claimtrack cache folder); reused across runs."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Benchmark retrieval on a BEIR dataset: quality (nDCG@10, Recall@100) and speed (docs/s, ms/query)."""
    from claimtrack.config import load_settings
    from claimtrack.discovery import bench
    from claimtrack.errors import InvalidArgument

    if split not in ("train", "test", "dev"):
        raise InvalidArgument("--split", f"'{split}' is not one of train, test, dev")
    if method not in (*bench.METHODS, "all"):
        raise InvalidArgument("--method", f"'{method}' is not one of fts5, dense, hybrid, rrf, all")
    methods = bench.METHODS if method == "all" else (method,)
    report = bench.run(
        beir,
        split=split,
        methods=methods,
        settings=load_settings(),
        index_dir=index_dir,
        progress=lambda line: typer.echo(line, err=True),
    )
    if as_json:
        print_json(report)
        return
    typer.echo(f"{report['dataset']} ({report['split']}): {report['docs']} docs, {report['queries']} queries")
    typer.echo(f"fts5 index: {report['fts5_index']['docs_per_s']} docs/s")
    if {"hybrid", "rrf"} & set(report["methods"]):
        typer.echo(f"hybrid and rrf: the lexical top {report['pool']} re-scored by cosine")
    if "dense_index" in report:
        dense = report["dense_index"]
        typer.echo(
            "dense index: reused, 0 docs embedded"
            if dense["reused"]
            else f"dense index: {dense['embedded']} docs embedded, {dense['docs_per_s']} docs/s"
        )
    rows = [
        [
            name,
            f"{m['ndcg@10']:.4f}",
            "-" if m["ndcg@10_tuning"] is None else f"{m['ndcg@10_tuning']:.4f}",
            "-" if m["ndcg@10_held_out"] is None else f"{m['ndcg@10_held_out']:.4f}",
            f"{m['recall@100']:.4f}",
            f"{m['query_ms_median']:.1f}",
            f"{m['query_ms_p95']:.1f}",
        ]
        for name, m in report["methods"].items()
    ]
    typer.echo(
        table(
            rows,
            [
                "method",
                "nDCG@10",
                "nDCG@10 (even ids: tuning)",
                "nDCG@10 (odd ids: held out)",
                "Recall@100",
                "ms/query (median)",
                "ms/query (p95)",
            ],
        )
    )
