"""Replication jobs in the ledger and on disk: the cache key, the job record, the stored result.

A job is identified by a hash of everything that can change its numbers (spec, task and data files,
models with revision or folder fingerprint, limit, seed, device, lm-eval version), so asking for the
same job twice runs lm-eval once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from claimtrack.fileio import atomic_write
from claimtrack.ledger import Ledger
from claimtrack.replication.models import ModelRef
from claimtrack.replication.specs import Spec
from claimtrack.workspace import Workspace

log = logging.getLogger(__name__)


def lm_eval_version() -> str:
    try:
        return version("lm_eval")
    except PackageNotFoundError:
        return "not installed"


def folder_fingerprint(folder: Path) -> str:
    """A local model folder's identity: config.json's bytes plus each file's name, size and mtime."""
    digest = hashlib.sha256()
    config = folder / "config.json"
    if config.is_file():
        digest.update(config.read_bytes())
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(f"{path.relative_to(folder)}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return "local:" + digest.hexdigest()[:16]


def model_identity(model: ModelRef) -> dict[str, str | None]:
    revision = folder_fingerprint(Path(model.pretrained)) if model.local else model.revision
    return {"name": model.name, "pretrained": model.pretrained, "revision": revision}


@dataclass(frozen=True)
class JobInputs:
    spec: Spec
    models: list[ModelRef]
    task_sha256: str
    limit: int | None
    seed: int
    device: str
    trust_remote_code: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "spec": self.spec.model_dump(mode="json"),
            "models": [model_identity(m) for m in self.models],
            "task_sha256": self.task_sha256,
            "limit": self.limit,
            "seed": self.seed,
            "device": self.device.split(":")[0],
            "trust_remote_code": self.trust_remote_code,
            "lm_eval_version": lm_eval_version(),
        }

    def key(self) -> str:
        return hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True).encode()).hexdigest()

    def job_id(self) -> str:
        return f"rep-{self.spec.id}-{self.key()[:10]}"


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class JobBook:
    """The replication_jobs table."""

    def __init__(self, ledger: Ledger):
        self.ledger = ledger

    def get(self, job_id: str) -> dict[str, Any] | None:
        row = self.ledger.conn.execute("SELECT * FROM replication_jobs WHERE id = ?", (job_id,)).fetchone()
        return dict(row) if row else None

    def start(
        self, inputs: JobInputs, claim_id: str, executor: str, run_id: str | None, payload: dict[str, Any]
    ) -> str:
        """Create (or reset, when retrying a failed or abandoned job) the record; returns the job id."""
        job_id = inputs.job_id()
        with self.ledger.transaction() as conn:
            conn.execute(
                "INSERT INTO replication_jobs(id, cache_key, claim_id, spec_id, executor, state, created_at,"
                " inputs_json, run_id, payload_json) VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET state='running', executor=excluded.executor,"
                " created_at=excluded.created_at, finished_at=NULL, error=NULL, reason=NULL, external_id=NULL,"
                " tasks_json=NULL, submitted_at=NULL, run_id=excluded.run_id, payload_json=excluded.payload_json",
                (
                    job_id,
                    inputs.key(),
                    claim_id,
                    inputs.spec.id,
                    executor,
                    _now(),
                    json.dumps(inputs.as_dict(), sort_keys=True),
                    run_id,
                    json.dumps(payload, sort_keys=True),
                ),
            )
        log.info(
            "replication job %s started: claim %s, spec %s, %s executor", job_id, claim_id, inputs.spec.id, executor
        )
        return job_id

    def restart(self, job_id: str) -> None:
        """A failed job goes again (`replicate --retry`): its tasks that finished are kept."""
        log.info("replication job %s retried", job_id)
        with self.ledger.transaction() as conn:
            conn.execute(
                "UPDATE replication_jobs SET state='running', error=NULL, reason=NULL, finished_at=NULL WHERE id=?",
                (job_id,),
            )

    def count_call(self, job_id: str, calls: int, cache_hits: int = 0) -> None:
        with self.ledger.transaction() as conn:
            conn.execute(
                "UPDATE replication_jobs SET lm_eval_calls = lm_eval_calls + ?, cache_hits = ? WHERE id = ?",
                (calls, cache_hits, job_id),
            )

    def submitted(self, job_id: str, tasks: list[str]) -> None:
        """The job's tasks (a '<cluster>:<job id>' per model) are queued; external_id names their array."""
        external = array_id(tasks)
        log.info("replication job %s submitted as %s", job_id, external)
        with self.ledger.transaction() as conn:
            conn.execute(
                "UPDATE replication_jobs SET state='submitted', external_id=?, tasks_json=?, submitted_at=? WHERE id=?",
                (external, json.dumps(tasks), _now(), job_id),
            )

    def failed(self, job_id: str, error: str, reason: str | None = None) -> None:
        log.info("replication job %s failed: %s", job_id, error)
        with self.ledger.transaction() as conn:
            conn.execute(
                "UPDATE replication_jobs SET state='failed', error=?, reason=?, finished_at=? WHERE id=?",
                (error, reason, _now(), job_id),
            )

    def done(self, job_id: str, result_path: Path, evidence_id: str | None) -> None:
        log.info("replication job %s done: %s", job_id, f"evidence {evidence_id}" if evidence_id else "no verdict")
        with self.ledger.transaction() as conn:
            conn.execute(
                "UPDATE replication_jobs SET state='done', result_path=?, evidence_id=?, finished_at=?, error=NULL"
                " WHERE id=?",
                (str(result_path), evidence_id, _now(), job_id),
            )

    def pending(self) -> list[dict[str, Any]]:
        rows = self.ledger.conn.execute("SELECT * FROM replication_jobs WHERE state='submitted' ORDER BY created_at")
        return [dict(r) for r in rows]

    def for_claim(self, claim_id: str) -> list[dict[str, Any]]:
        rows = self.ledger.conn.execute(
            "SELECT * FROM replication_jobs WHERE claim_id=? ORDER BY created_at", (claim_id,)
        )
        return [dict(r) for r in rows]

    def all(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.ledger.conn.execute("SELECT * FROM replication_jobs ORDER BY created_at, id")]


def tasks_of(row: dict[str, Any]) -> list[str]:
    """A submitted job's tasks, one per model; a job submitted before tasks were kept had one."""
    if row.get("tasks_json"):
        return list(json.loads(row["tasks_json"]))
    return [row["external_id"]] if row.get("external_id") else []


def array_id(tasks: list[str]) -> str:
    """'slurm:12' for tasks 'slurm:12_0', 'slurm:12_1'; tasks of different jobs are listed with commas."""
    cluster = tasks[0].partition(":")[0] if tasks else ""
    jobs = dict.fromkeys(t.partition(":")[2].split("_")[0] for t in tasks)
    return f"{cluster}:{','.join(jobs)}"


def results_dir(ws: Workspace) -> Path:
    return ws.ensure_state() / "replication"


def result_path(ws: Workspace, job_id: str) -> Path:
    return results_dir(ws) / f"{job_id}.json"


def work_dir(ws: Workspace, job_id: str) -> Path:
    return results_dir(ws) / "work" / job_id


def write_result(path: Path, result: dict[str, Any]) -> None:
    atomic_write(path, json.dumps(result, indent=2, sort_keys=True, default=str) + "\n")


def read_result(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))
