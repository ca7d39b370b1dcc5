"""`replicate` and `collect`: run a claim's probe as a job, cache it, and turn its numbers into evidence.

The agent (`claimtrack run`) and the CLI (`claimtrack replicate`) both call these. A job's numbers are
computed by `execute`, which also runs on Slurm nodes (through submitit) and so takes plain data.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claimtrack.errors import InvalidArgument, InvalidInput
from claimtrack.ledger import Ledger
from claimtrack.models import Claim, Evidence, EvidenceKind, ModelScore, Replication, Stance
from claimtrack.replication import jobs, rule
from claimtrack.replication.errors import ReplicationFailed
from claimtrack.replication.metrics import Outcome
from claimtrack.replication.models import Chosen, ModelRef, choose_models, needs_remote_code
from claimtrack.replication.queue import TaskState
from claimtrack.replication.runner import ModelRun, Settings, run_model
from claimtrack.replication.specs import Spec, spec_for
from claimtrack.replication.tasks import content_hash
from claimtrack.store import Store
from claimtrack.workspace import Workspace

__all__ = ["ReplicationOutcome", "collect", "replicate", "retry", "spec_for"]
EXECUTORS = ("local", "slurm")


@dataclass
class ReplicationOutcome:
    """What one `replicate` call did. `error` is set (and `evidence` None) when the job failed."""

    job_id: str
    cached: bool
    evidence: Evidence | None
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    state: str = "done"  # done | failed | submitted | skipped
    note: str | None = None  # e.g. why no evidence was written


def replicate(
    ws: Workspace,
    claim_id: str,
    *,
    models: Sequence[str] | None = None,
    limit: int | None = None,
    device: str = "cpu",
    batch_size: str = "auto",
    executor: str = "local",
    trust_remote_code: bool = False,
    run_id: str | None = None,
    comparison_only: bool = False,
) -> ReplicationOutcome:
    """Run (or reuse) the claim's replication job; write one evidence item when two models were compared.

    `comparison_only` (the agent's runs) skips the job when only the offline single model is at hand: a
    single model yields no verdict, so it would cost CPU hours and change nothing.
    """
    if executor not in EXECUTORS:
        raise InvalidArgument("--executor", f"'{executor}' is not one of {', '.join(EXECUTORS)}")
    if limit is not None and limit <= 0:
        raise InvalidArgument("--limit", "must be a positive number of items")
    if not (device == "cpu" or device == "cuda" or device.startswith("cuda:")):
        raise InvalidArgument("--device", f"'{device}' is not cpu, cuda or cuda:N")
    store = Store(ws)
    claim = store.load().claim(claim_id)
    spec = spec_for(ws, claim)
    if spec is None:
        raise InvalidInput(
            f"claims/{claim_id}.yaml", "replication", "no replication spec links this claim (evals/specs/)"
        )
    chosen = choose_models(
        [(m.id, m.revision, m.role) for m in spec.models],
        list(models or []),
        ws.ensure_state(),
        offline_fallback=not comparison_only,
    )
    if not chosen:
        return ReplicationOutcome(
            "",
            cached=False,
            evidence=None,
            state="skipped",
            note="the spec's models are neither reachable nor cached; nothing to compare",
        )
    for pick in chosen:
        if needs_remote_code(pick.ref) and not trust_remote_code:
            raise InvalidArgument(
                "--model",
                f"{pick.ref.label} ships its own code (auto_map); rerun with --trust-remote-code if you trust it",
            )
    inputs = jobs.JobInputs(
        spec=spec,
        models=[c.ref for c in chosen],
        task_sha256=content_hash(ws, spec.probe),
        limit=limit if limit is not None else spec.limit,
        seed=spec.seed,
        device=device,
        trust_remote_code=trust_remote_code,
    )
    job_id = inputs.job_id()
    with Ledger.open(ws) as ledger:
        book = jobs.JobBook(ledger)
        existing = book.get(job_id)
        if existing and existing["state"] == "done" and Path(existing["result_path"]).is_file():  # else: run again
            return _finish(ws, book, job_id, jobs.read_result(Path(existing["result_path"])), cached=True)
        if existing and existing["state"] == "submitted":
            return ReplicationOutcome(
                job_id, cached=True, evidence=None, state="submitted", note="submitted earlier; not yet collected"
            )
        payload = _payload(ws, job_id, claim, spec, chosen, inputs, batch_size, run_id)
        book.start(inputs, claim.id, executor, run_id, payload)
        return _launch(ws, book, payload, executor, range(len(chosen)))


def _launch(
    ws: Workspace,
    book: jobs.JobBook,
    payload: dict[str, Any],
    executor: str,
    models: Sequence[int],
    kept: Sequence[str | None] | None = None,
) -> ReplicationOutcome:
    """Run the job here, or submit `models` (indices) to Slurm beside the tasks `kept` from an earlier try."""
    job_id = payload["job_id"]
    if executor == "slurm":
        from claimtrack.replication import slurm

        try:
            submitted = slurm.submit(ws, payload, payload["run"]["device"], models)
        except ReplicationFailed as exc:
            book.failed(job_id, exc.message())
            return ReplicationOutcome(job_id, cached=False, evidence=None, error=exc.message(), state="failed")
        tasks = list(kept or [None] * len(payload["models"]))
        for index, task in zip(models, submitted, strict=True):
            tasks[index] = task
        book.submitted(job_id, [t for t in tasks if t])
        note = f"submitted as {jobs.array_id(submitted)}, a task per model ({len(submitted)} of {len(tasks)})"
        return ReplicationOutcome(job_id, cached=False, evidence=None, state="submitted", note=note)
    try:
        result = execute(payload)
    except ReplicationFailed as exc:
        book.failed(job_id, exc.message(), "error")
        return ReplicationOutcome(job_id, cached=False, evidence=None, error=exc.message(), state="failed")
    except BaseException:
        book.failed(job_id, "interrupted")
        raise
    return _finish(ws, book, job_id, result, cached=False)


def collect(ws: Workspace) -> list[ReplicationOutcome]:
    """Finish every submitted job whose tasks have all come back; a job with a task that failed fails, naming
    the models it lacks (its verdict needs them all)."""
    from claimtrack.replication import slurm

    outcomes = []
    with Ledger.open(ws) as ledger:
        book = jobs.JobBook(ledger)
        rows = book.pending()
        if not rows:  # nothing was submitted: neither Slurm nor submitit is asked
            return outcomes
        states = slurm.poll(ws, [t for row in rows for t in jobs.tasks_of(row)])
        for row in rows:
            tasks = [states[t] for t in jobs.tasks_of(row)]
            if any(t.state in ("pending", "running") for t in tasks):
                continue
            payload = json.loads(row["payload_json"]) if row.get("payload_json") else None
            failed = [(i, t) for i, t in enumerate(tasks) if t.state == "failed"]
            if failed:
                error = _missing(payload, failed)
                book.failed(row["id"], error, ",".join(dict.fromkeys(t.reason or "error" for _, t in failed)))
                outcomes.append(ReplicationOutcome(row["id"], cached=False, evidence=None, error=error, state="failed"))
                continue
            values = [t.value for t in tasks]
            result = combine(payload, values) if payload else values[0]  # a job from before tasks: its result
            outcomes.append(_finish(ws, book, row["id"], result, cached=False))
    return outcomes


def _missing(payload: dict[str, Any] | None, failed: list[tuple[int, TaskState]]) -> str:
    """Why a job failed: its task's message, or, with several models, which models it lacks and why."""
    names = [m["ref"]["name"] for m in payload["models"]] if payload else []  # none: a job from before tasks
    if len(names) <= 1:
        return failed[0][1].message or "failed"
    parts = [f"model {i + 1} of {len(names)} ({names[i]}): {t.message}" for i, t in failed]
    return "no verdict without every model; missing " + "; ".join(parts)


def retry(ws: Workspace, job_id: str) -> ReplicationOutcome:
    """Run a failed job again the way it ran before; on Slurm, only the models whose task did not finish go
    again, and each task answers what it had already computed from its request cache."""
    with Ledger.open(ws) as ledger:
        book = jobs.JobBook(ledger)
        row = book.get(job_id)
        if row is None:
            raise InvalidArgument("--retry", f"no replication job '{job_id}' (claimtrack replicate --jobs lists them)")
        if row["state"] != "failed":
            raise InvalidArgument("--retry", f"job {job_id} is {row['state']}; only a failed job is retried")
        if not row.get("payload_json"):
            raise InvalidArgument(
                "--retry", f"job {job_id} predates retries; run `claimtrack replicate {row['claim_id']}` again"
            )
        payload = json.loads(row["payload_json"])
        models: Sequence[int] = range(len(payload["models"]))
        kept: list[str | None] | None = None
        if row["executor"] == "slurm" and row.get("tasks_json"):
            from claimtrack.replication import slurm

            tasks = jobs.tasks_of(row)
            states = slurm.poll(ws, tasks)
            kept = [t if states[t].state == "done" else None for t in tasks]
            models = [i for i, t in enumerate(kept) if t is None]
        book.restart(job_id)
        return _launch(ws, book, payload, row["executor"], models, kept)


def _payload(
    ws: Workspace,
    job_id: str,
    claim: Claim,
    spec: Spec,
    chosen: list[Chosen],
    inputs: jobs.JobInputs,
    batch_size: str,
    inputs_run_id: str | None,
) -> dict[str, Any]:
    """Everything `execute` needs, as plain data (it may run in another process or on a Slurm node)."""
    run = Settings(
        limit=inputs.limit,
        device=inputs.device,
        batch_size=batch_size,
        seed=spec.seed,
        trust_remote_code=inputs.trust_remote_code,
        max_gen_toks=spec.max_gen_toks,
    )
    return {
        "root": str(ws.root),
        "state_dir": str(ws.state_dir),
        "job_id": job_id,
        "claim_id": claim.id,
        "spec": spec.model_dump(mode="json"),
        "models": [{"ref": dataclasses.asdict(c.ref), "role": c.role} for c in chosen],
        "run": dataclasses.asdict(run),
        "inputs": inputs.as_dict(),
        "run_id": inputs_run_id,
    }


def execute_model(payload: dict[str, Any], index: int) -> ModelRun:
    """One model's lm-eval runs for the job (a task of its Slurm array, or a step of a local run)."""
    ws = Workspace(root=Path(payload["root"]), state_dir=Path(payload["state_dir"]))
    spec = Spec.model_validate(payload["spec"])
    ref = ModelRef(**payload["models"][index]["ref"])
    work = jobs.work_dir(ws, payload["job_id"]) / f"model-{index}"
    return run_model(ws, spec.probe, ref, Settings(**payload["run"]), work)


def execute(payload: dict[str, Any]) -> dict[str, Any]:
    """Run lm-eval for every model in turn, then `combine`."""
    return combine(payload, [execute_model(payload, i) for i in range(len(payload["models"]))])


def combine(payload: dict[str, Any], runs: list[ModelRun]) -> dict[str, Any]:
    """Measure every model's runs, apply the rule, and store the result JSON; returns it."""
    ws = Workspace(root=Path(payload["root"]), state_dir=Path(payload["state_dir"]))
    spec = Spec.model_validate(payload["spec"])
    run = Settings(**payload["run"])
    job_id = payload["job_id"]
    chosen = [Chosen(ModelRef(**m["ref"]), m["role"]) for m in payload["models"]]
    started = time.perf_counter()
    measured = rule.measure(spec, [r.tables for r in runs])
    for r in runs:
        r.extra |= rule.describe(r.tables)
    verdict = None
    if measured.effect is not None and measured.stderr is not None:
        stance, reason = rule.decide(spec.rule, measured.effect, measured.stderr, measured.n_items)
        verdict = {"stance": stance.value, "reason": reason}
    result = {
        "job_id": job_id,
        "claim_id": payload["claim_id"],
        "spec_id": spec.id,
        "probe": spec.probe,
        "inputs": payload["inputs"],
        "run_id": payload.get("run_id"),
        "seed": run.seed,
        "limit": run.limit,
        "device": run.device,
        "metric": spec.metric.kind.value,
        "models": [
            {
                "name": c.ref.name,
                "pretrained": c.ref.pretrained,
                "revision": c.ref.revision,
                "role": c.role,
                "metric": measured.per_model[i],
                "metric_stderr": measured.per_model_stderr[i],
                "lm_eval": r.results,
                "meta": r.meta,
                "extra": r.extra,
                "seconds": round(r.seconds, 2),
                "items": r.items,
                "seconds_per_item": round(r.seconds / r.items, 4) if r.items else None,
                "requests": r.requests,
                "cache_hits": r.cache_hits,
            }
            for i, (c, r) in enumerate(zip(chosen, runs, strict=True))
        ],
        "measurement": {"effect": measured.effect, "stderr": measured.stderr, "n_items": measured.n_items},
        "verdict": verdict,
        "outcomes": [
            {cond: {item: _compact(o) for item, o in table.items()} for cond, table in r.tables.items()} for r in runs
        ],
        "lm_eval_calls": sum(2 if any(k == "answer" for k in r.results) else 1 for r in runs),
        "cache_hits": sum(r.cache_hits for r in runs),
        "seconds": round(time.perf_counter() - started + sum(r.seconds for r in runs), 2),
        "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    jobs.write_result(jobs.result_path(ws, job_id), result)
    return result


def _compact(outcome: Outcome) -> list[Any]:
    return [outcome.pred, outcome.target, [round(p, 6) for p in outcome.probs]]


def _finish(
    ws: Workspace, book: jobs.JobBook, job_id: str, result: dict[str, Any], *, cached: bool
) -> ReplicationOutcome:
    """Record the finished job and, when the rule gave a verdict, its one evidence item on the claim."""
    path = jobs.result_path(ws, job_id)
    if not path.exists():
        jobs.write_result(path, result)
    summary = _summary(result)
    evidence = _evidence(result) if result.get("verdict") else None
    note = None if evidence else "one model only: metrics recorded, no verdict (the rule compares two models)"
    record = replication_record(result, evidence.id if evidence else None)

    def add(claim: Claim) -> None:
        claim.record_replication(record)  # a job collected twice adds nothing the second time
        if evidence is not None:
            claim.add_evidence([evidence])

    Store(ws).update_claim(result["claim_id"], add)
    if not cached:
        book.count_call(job_id, int(result.get("lm_eval_calls", 0)), int(result.get("cache_hits", 0)))
    book.done(job_id, path, evidence.id if evidence else None)
    return ReplicationOutcome(job_id, cached=cached, evidence=evidence, metrics=summary, note=note)


def replication_record(result: dict[str, Any], evidence_id: str | None) -> Replication:
    """A finished job's result file as the record its claim keeps (one model or two)."""
    spec = Spec.model_validate(result["inputs"]["spec"])
    models = [
        ModelScore(model=_label(m), role=m["role"], value=_finite(m["metric"]), stderr=_finite(m["metric_stderr"]))
        for m in result["models"]
    ]
    measurement = result["measurement"]
    if len(models) > 1:
        value, stderr = _finite(measurement["effect"]), _finite(measurement["stderr"])
    else:
        value, stderr = models[0].value, models[0].stderr
    n = measurement.get("n_items")
    return Replication(
        job=result["job_id"],
        spec=spec.id,
        task=result["probe"],
        metric=result["metric"],
        n=int(n if n is not None else result["models"][0].get("items") or 0),
        models=models,
        value=value,
        interval=None
        if value is None or stderr is None
        else (value - spec.rule.z * stderr, value + spec.rule.z * stderr),
        stance=Stance(result["verdict"]["stance"]) if result.get("verdict") else None,
        evidence=evidence_id,
        at=dt.datetime.fromisoformat(result["finished_at"]),
        run=result.get("run_id"),
    )


def _finite(value: Any) -> float | None:
    return None if value is None or math.isnan(float(value)) else float(value)


def _summary(result: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"metric": result["metric"], **result["measurement"]}
    for m in result["models"]:
        out[f"{result['metric']}_{m['role']}"] = m["metric"]
        out[f"{result['metric']}_{m['role']}_stderr"] = m["metric_stderr"]
        for condition, numbers in m["lm_eval"].items():
            if "acc,none" in numbers:
                out[f"acc_{condition}_{m['role']}"] = numbers["acc,none"]
                out[f"acc_{condition}_{m['role']}_stderr"] = numbers.get("acc_stderr,none")
        out[f"seconds_per_item_{m['role']}"] = m["seconds_per_item"]
    if result.get("verdict"):
        out["stance"] = result["verdict"]["stance"]
    out["cache_hits"] = result.get("cache_hits", 0)
    return out


def _evidence(result: dict[str, Any]) -> Evidence:
    verdict, measurement = result["verdict"], result["measurement"]
    base, tuned = result["models"][0], result["models"][1]
    effect, stderr = measurement["effect"], measurement["stderr"]
    numbers = {
        "effect": effect,
        "stderr": stderr,
        "n_items": float(measurement["n_items"]),
        f"{result['metric']}_{base['role']}": base["metric"],
        f"{result['metric']}_{tuned['role']}": tuned["metric"],
    }
    numbers = {k: float(v) for k, v in numbers.items() if v is not None and not math.isnan(float(v))}
    spec = Spec.model_validate(result["inputs"]["spec"])
    rationale = (
        f"Eval-time probe '{result['probe']}' ({spec.differs_from_paper}) on {_label(base)} vs {_label(tuned)}, "
        f"{measurement['n_items']} paired items (limit {result['limit']}), seed {result['seed']},"
        f" lm-eval {result['inputs']['lm_eval_version']}: "
        f"{result['metric']} {base['role']} = {base['metric']:.3f} +/- {base['metric_stderr']:.3f}, "
        f"{tuned['role']} = {tuned['metric']:.3f} +/- {tuned['metric_stderr']:.3f}; "
        f"effect ({tuned['role']} - {base['role']}) = {effect:+.3f} +/- {stderr:.3f} (paired bootstrap stderr). "
        f"Rule '{spec.rule.direction.value}', margin {spec.rule.margin:g}: {verdict['reason']}. {spec.rule.meaning}"
    )
    return Evidence(
        id=result["job_id"],
        kind=EvidenceKind.REPLICATION,
        source=result["job_id"],
        title=f"Replication probe {result['probe']}: {_label(base)} vs {_label(tuned)}",
        published=result["finished_at"][:10],
        stance=Stance(verdict["stance"]),
        rationale=rationale,
        judged_by=f"rule:{spec.id}",
        judged_at=dt.datetime.fromisoformat(result["finished_at"]),
        numbers=numbers,
        run=result.get("run_id"),
    )


def _label(model: dict[str, Any]) -> str:
    return f"{model['name']}@{model['revision']}" if model.get("revision") else model["name"]
