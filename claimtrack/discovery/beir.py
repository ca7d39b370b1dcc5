"""BEIR-format datasets (corpus.jsonl, queries.jsonl, qrels/<split>.tsv) and the two standard metrics."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from claimtrack.errors import InvalidArgument, InvalidInput


@dataclass
class BeirDataset:
    corpus: dict[str, tuple[str, str]]  # doc id -> (title, text)
    queries: dict[str, str]  # only the queries that have judgements in the split
    qrels: dict[str, dict[str, int]]  # query id -> doc id -> relevance


def load(folder: Path, split: str = "train") -> BeirDataset:
    """Read a BEIR folder; a missing file or a malformed line is an InvalidInput naming it."""
    corpus_path, queries_path = folder / "corpus.jsonl", folder / "queries.jsonl"
    qrels_path = folder / "qrels" / f"{split}.tsv"
    for path in (corpus_path, queries_path, qrels_path):
        if not path.is_file():
            raise InvalidArgument(
                "--beir",
                f"{folder} has no {path.relative_to(folder)} (a BEIR folder holds corpus.jsonl, "
                "queries.jsonl, qrels/SPLIT.tsv)",
            )
    qrels: dict[str, dict[str, int]] = {}
    with qrels_path.open(encoding="utf-8", newline="") as handle:
        for number, row in enumerate(csv.reader(handle, delimiter="\t"), start=1):
            if number == 1 and row and row[0] == "query-id":
                continue
            if len(row) < 3 or not row[2].strip().lstrip("-").isdigit():
                raise InvalidInput(f"{qrels_path}:{number}", "qrels", "expected query-id<TAB>corpus-id<TAB>score")
            qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    corpus = {}
    for _number, record in _jsonl(corpus_path):
        corpus[str(record["_id"])] = (record.get("title") or "", record.get("text") or "")
    queries = {}
    for _number, record in _jsonl(queries_path):
        if str(record["_id"]) in qrels:
            queries[str(record["_id"])] = record.get("text") or ""
    return BeirDataset(corpus, queries, {q: r for q, r in qrels.items() if q in queries})


def _jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidInput(f"{path}:{number}", "json", exc.msg) from exc
            if not isinstance(record, dict) or "_id" not in record:
                raise InvalidInput(f"{path}:{number}", "_id", "missing")
            yield number, record


def ndcg_at(ranked: Sequence[str], relevant: Mapping[str, int], k: int = 10) -> float:
    """nDCG@k with graded gains (rel), log2 discount, as BEIR computes it through pytrec_eval."""
    dcg = sum(relevant.get(doc, 0) / math.log2(i + 2) for i, doc in enumerate(ranked[:k]))
    ideal = sorted((r for r in relevant.values() if r > 0), reverse=True)[:k]
    idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at(ranked: Sequence[str], relevant: Mapping[str, int], k: int = 100) -> float:
    wanted = {doc for doc, r in relevant.items() if r > 0}
    return len(wanted & set(ranked[:k])) / len(wanted) if wanted else 0.0
