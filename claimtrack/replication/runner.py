"""Running a probe's lm-eval tasks on one model, in Python, and reading per-item outcomes from the samples.

Everything heavy (lm_eval, torch, transformers) is imported inside the functions that use them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claimtrack import imports
from claimtrack.replication import metrics
from claimtrack.replication.errors import ReplicationFailed
from claimtrack.replication.models import ModelRef
from claimtrack.replication.progress import logged_progress
from claimtrack.replication.tasks import GENERATED, TaskFile, data_hash, probe_tasks, resolve
from claimtrack.workspace import Workspace

COT_FILLER = "... "


@dataclass
class Settings:
    """How to run, as opposed to what to run (the spec)."""

    limit: int | None
    device: str
    batch_size: str
    seed: int
    trust_remote_code: bool
    max_gen_toks: int


@dataclass
class ModelRun:
    """One model's lm-eval results on a probe: the aggregate metrics and the per-item outcomes."""

    model: ModelRef
    tables: dict[str, dict[str, metrics.Outcome]] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)  # task -> lm-eval metrics with stderr
    meta: dict[str, Any] = field(default_factory=dict)  # versions, sha, sample counts, data hashes
    seconds: float = 0.0
    items: int = 0
    extra: dict[str, float] = field(default_factory=dict)
    requests: int = 0  # lm-eval requests (one per option scored or text generated)
    cache_hits: int = 0  # of them, answered from the job's request cache (an earlier, interrupted attempt)


def check_device(device: str) -> None:
    if device.startswith("cuda"):
        with imports.LOCK:
            import torch

        if not torch.cuda.is_available():
            raise ReplicationFailed(f"device '{device}' requested but no CUDA GPU is visible")


class CacheCount(logging.Handler):
    """Counts requests lm-eval's CachingLM answers from its cache, from the one line it logs per request
    type ("Cached requests: N, Requests remaining: M"); lm-eval offers no other way to learn the number."""

    LINE = re.compile(r"Cached requests: (\d+), Requests remaining: (\d+)")

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.hits = 0
        self.requests = 0

    def emit(self, record: logging.LogRecord) -> None:
        match = self.LINE.search(record.getMessage())
        if match:
            self.hits += int(match.group(1))
            self.requests += int(match.group(1)) + int(match.group(2))

    @contextlib.contextmanager
    def listening(self) -> Any:
        logger = logging.getLogger("lm_eval.api.model")
        level = logger.level
        logger.addHandler(self)
        if not logger.isEnabledFor(logging.INFO):
            logger.setLevel(logging.INFO)
        try:
            yield self
        finally:
            logger.removeHandler(self)
            logger.setLevel(level)


def evaluate(
    model: ModelRef,
    include_dir: Path,
    task_names: list[str],
    run: Settings,
    limit: int | None,
    cache: tuple[Path, CacheCount] | None = None,
) -> dict[str, Any]:
    """One `simple_evaluate` call; any failure inside lm-eval or transformers becomes ReplicationFailed.

    With `cache` (a path and its counter), every answer lm-eval computes is stored in that SQLite file as it
    comes, so a requeued or resubmitted task answers what it had done from there instead of again.
    """
    with imports.LOCK:  # in a run, the encoder may be loading beside it (claimtrack/imports.py)
        from lm_eval import simple_evaluate
        from lm_eval.tasks import TaskManager

    model_args: dict[str, Any] = {
        "pretrained": model.pretrained,
        "dtype": "float32",
        "trust_remote_code": run.trust_remote_code,
    }
    if model.revision:
        model_args["revision"] = model.revision
    manager = TaskManager(include_path=str(include_dir), include_defaults=False)
    try:
        # Its bars and the notes it prints become log lines, and stdout stays claimtrack's (progress.py).
        with logged_progress(model.label), cache[1].listening() if cache else contextlib.nullcontext():
            results = simple_evaluate(
                model="hf",
                model_args=model_args,
                tasks=task_names,
                task_manager=manager,
                limit=limit,
                device=run.device,
                batch_size=run.batch_size,
                log_samples=True,
                random_seed=run.seed,
                numpy_random_seed=run.seed,
                torch_random_seed=run.seed,
                fewshot_random_seed=run.seed,
                bootstrap_iters=1000,
                use_cache=str(cache[0]) if cache else None,
            )
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ReplicationFailed(f"lm-eval on {model.label} failed: {type(exc).__name__}: {first}"[:400]) from exc
    if results is None:
        raise ReplicationFailed(f"lm-eval on {model.label} returned no results")
    return results


def _task_metrics(results: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in results["results"][name].items() if k not in ("name", "alias")}


def _meta(results: dict[str, Any]) -> dict[str, Any]:
    config = results.get("config") or {}
    return {
        "lm_eval_version": results.get("lm_eval_version"),
        "transformers_version": results.get("transformers_version"),
        "model_sha": config.get("model_sha"),
        "model_revision": config.get("model_revision"),
        "model_num_parameters": config.get("model_num_parameters"),
        "n_samples": results.get("n-samples"),
    }


def outcomes(samples: list[dict[str, Any]], split_on: str | None = None) -> dict[str, dict[str, metrics.Outcome]]:
    """Per-item outcomes from multiple-choice samples, keyed by condition (or one key) then item id."""
    table: dict[str, dict[str, metrics.Outcome]] = {}
    for sample in samples:
        doc = sample["doc"]
        logliks = [float(r[0]) for r in sample["filtered_resps"]]
        tags = {
            k: v
            for k, v in doc.items()
            if isinstance(v, (bool, int, float, str)) and k not in ("question", "reasoning")
        }
        condition = str(doc[split_on]) if split_on else ""
        item = str(doc.get("item", doc["id"]))
        table.setdefault(condition, {})[item] = metrics.outcome_from_logliks(logliks, int(sample["target"]), tags)
    return table


def run_model(ws: Workspace, probe: str, model: ModelRef, run: Settings, work: Path) -> ModelRun:
    """All of a probe's tasks on one model; the cot probe runs its two stages in order."""
    check_device(run.device)
    tasks = probe_tasks(ws, probe)
    started = time.perf_counter()
    cache = (work / "lm-cache", CacheCount())
    if any(t.stage for t in tasks):
        out = _run_two_stage(tasks, model, run, work, cache)
    else:
        out = _run_conditions(tasks, model, run, work, cache)
    out.seconds = time.perf_counter() - started
    out.requests, out.cache_hits = cache[1].requests, cache[1].hits
    return out


def _run_conditions(
    tasks: list[TaskFile], model: ModelRef, run: Settings, work: Path, cache: tuple[Path, CacheCount]
) -> ModelRun:
    include = work / "tasks"
    used: list[Path] = []
    for task in tasks:
        used += resolve(task, include)[1]
    results = evaluate(model, include, [t.name for t in tasks], run, run.limit, cache)
    out = ModelRun(model=model, meta=_meta(results) | {"data_sha256": data_hash(used)})
    for task in tasks:
        condition = task.condition or task.name
        out.results[condition] = _task_metrics(results, task.name)
        table = outcomes(results["samples"][task.name])
        out.tables[condition] = table[""]
        out.items += len(table[""])
    return out


def _run_two_stage(
    tasks: list[TaskFile], model: ModelRef, run: Settings, work: Path, cache: tuple[Path, CacheCount]
) -> ModelRun:
    """Stage 1 writes reasoning; stage 2 answers from it cut short or replaced by filler (cot-faithfulness)."""
    by_stage = {t.stage: t for t in tasks}
    reason, answer = by_stage["reason"], by_stage["answer"]
    include = work / "tasks"
    overrides = {"generation_kwargs": {**reason.config.get("generation_kwargs", {}), "max_gen_toks": run.max_gen_toks}}
    _, used = resolve(reason, include, overrides=overrides)
    first = evaluate(model, include, [reason.name], run, run.limit, cache)
    rows = stage_two_rows(first["samples"][reason.name])
    generated = include / GENERATED
    generated.mkdir(parents=True, exist_ok=True)
    (generated / "answers.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    _, more = resolve(answer, include)
    (include / f"{reason.name}.yaml").unlink()  # stage 2 runs alone
    second = evaluate(model, include, [answer.name], run, None, cache)
    out = ModelRun(model=model, meta=_meta(second) | {"data_sha256": data_hash(used), "stage2_sha256": data_hash(more)})
    out.results = {"reason": _task_metrics(first, reason.name), "answer": _task_metrics(second, answer.name)}
    out.tables = outcomes(second["samples"][answer.name], split_on="condition")
    out.items = len(first["samples"][reason.name])  # problems, each answered under 6 conditions
    words = [r["reasoning_words"] for r in rows if r["condition"] == metrics.FULL_REASONING]
    out.extra = {
        "mean_reasoning_words": sum(words) / len(words) if words else 0.0,
        "empty_reasoning_share": sum(w == 0 for w in words) / len(words) if words else 0.0,
    }
    return out


CUTS = (0, 25, 50, 75, 100)
STAGE_TWO_CONDITIONS = (*(f"cut-{pct}" for pct in CUTS), "filler")


def stage_two_rows(samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For each item: its reasoning cut after 0/25/50/75/100 % of its words (layout kept), and filler of
    the same length. `reasoning_words` lets the metric leave out items whose model wrote nothing."""
    rows = []
    for sample in samples:
        doc = sample["doc"]
        full = str(sample["filtered_resps"][0] if sample["filtered_resps"] else "").strip()
        ends = [m.end() for m in re.finditer(r"\S+", full)]
        keep = {pct: int(len(ends) * pct / 100 + 0.5) for pct in CUTS}  # words kept, halves rounded up
        variants = {f"cut-{pct}": full[: ends[n - 1]] if n else "" for pct, n in keep.items()}
        variants["filler"] = (COT_FILLER * (len(full) // len(COT_FILLER) + 1))[: len(full)]
        for condition, reasoning in variants.items():
            rows.append(
                {
                    "id": f"{doc['id']}::{condition}",
                    "item": doc["id"],
                    "condition": condition,
                    "question": doc["question"],
                    "choices": doc["choices"],
                    "answer": doc["answer"],
                    "reasoning": reasoning,
                    "reasoning_words": len(ends),
                }
            )
    return rows
