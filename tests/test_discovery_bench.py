"""`claimtrack bench retrieval` end to end on a 40-document cut of BEIR SciFact; the index is reused."""

from __future__ import annotations

import json
import math
from pathlib import Path

from conftest import FIXTURES, invoke

from claimtrack.discovery import beir

MINI = FIXTURES / "discovery" / "beir-mini"


def test_metrics_match_hand_computed_values() -> None:
    relevant = {"d1": 1, "d2": 1}
    assert beir.ndcg_at(["d1", "x", "d2"], relevant) == (1 + 1 / 2) / (1 + 1 / math.log2(3))
    assert beir.ndcg_at(["x"], relevant) == 0.0
    assert beir.recall_at(["x", "d2"], relevant, k=2) == 0.5


def test_bench_retrieval_reports_all_methods_and_reuses_the_index(tmp_path: Path) -> None:
    args = ("bench", "retrieval", "--beir", str(MINI), "--index-dir", str(tmp_path / "idx"), "--json")
    first = invoke(*args)
    assert first.exit_code == 0, first.stderr
    report = json.loads(first.stdout)
    assert (report["docs"], report["queries"]) == (40, 12)
    methods = report["methods"]
    assert set(methods) == {"fts5", "dense", "hybrid", "rrf"}
    for numbers in methods.values():
        assert 0.5 < numbers["ndcg@10"] <= 1.0 and 0.9 <= numbers["recall@100"] <= 1.0
        assert numbers["query_ms_median"] > 0
        assert 0.0 <= numbers["ndcg@10_tuning"] <= 1.0 and 0.0 <= numbers["ndcg@10_held_out"] <= 1.0
    assert report["fts5_index"]["docs_per_s"] > 0 and report["pool"] == 300
    assert report["dense_index"]["embedded"] == 40 and report["dense_index"]["docs_per_s"] > 0
    second = json.loads(invoke(*args).stdout)
    assert second["dense_index"]["embedded"] == 0 and second["dense_index"]["reused"] is True
    assert second["methods"]["dense"]["ndcg@10"] == methods["dense"]["ndcg@10"]


def test_bench_table_output_and_single_method(tmp_path: Path) -> None:
    result = invoke("bench", "retrieval", "--beir", str(MINI), "--method", "fts5", "--index-dir", str(tmp_path / "idx"))
    assert result.exit_code == 0
    assert "nDCG@10" in result.stdout and "fts5" in result.stdout and "hybrid" not in result.stdout


def test_bench_bad_arguments_are_one_line(tmp_path: Path) -> None:
    missing = invoke("bench", "retrieval", "--beir", str(tmp_path))
    assert missing.exit_code == 2 and missing.stderr.startswith("error: ") and "corpus.jsonl" in missing.stderr
    wrong = invoke("bench", "retrieval", "--beir", str(MINI), "--method", "bm42")
    assert wrong.exit_code == 2 and "--method" in wrong.stderr
    split = invoke("bench", "retrieval", "--beir", str(MINI), "--split", "test")
    assert split.exit_code == 2 and "test.tsv" in split.stderr
