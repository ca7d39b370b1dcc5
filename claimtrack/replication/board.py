"""Where every replication job stands, as a user reads it: `replicate --jobs`, and the claims that wait on one.

States: pending (queued, or running elsewhere without news yet), running, done, failed. A job submitted to
Slurm is pending until a task of it runs, and its waiting tasks carry Slurm's reason for the wait; a failed one
carries Slurm's reason and the command that retries it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from claimtrack.ledger import Ledger
from claimtrack.replication import jobs, queue
from claimtrack.workspace import Workspace


@dataclass(frozen=True)
class Waiting:
    """Why Slurm keeps a task pending: its reason as squeue writes it, and what that means when it is known."""

    reason: str
    meaning: str | None


@dataclass(frozen=True)
class JobLine:
    """One job as `replicate --jobs` lists it."""

    job_id: str
    claim_id: str
    models: list[str]
    executor: str
    external_id: str | None
    submitted_at: str | None
    state: str  # pending | running | done | failed
    reason: str | None  # Slurm's word for a failure (TIMEOUT, ...), "error", or "left the queue without a result"
    error: str | None
    tasks: dict[str, str]  # task id -> pending | running | done | failed, for a job on Slurm
    waiting: dict[str, Waiting]  # task id -> why a pending task waits, where Slurm says
    cache_hits: int
    retry: str | None  # the command that resubmits a failed job

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _models(row: dict[str, Any]) -> list[str]:
    if row.get("payload_json"):
        return [m["ref"]["name"] for m in json.loads(row["payload_json"])["models"]]
    return [m["name"] for m in json.loads(row["inputs_json"])["models"]]


def job_lines(ws: Workspace) -> list[JobLine]:
    """Every job in the ledger, oldest first; Slurm is asked once where the submitted ones stand."""
    from claimtrack.replication import slurm

    with Ledger.open(ws) as ledger:
        rows = jobs.JobBook(ledger).all()
    waiting = [t for row in rows if row["state"] == "submitted" for t in jobs.tasks_of(row)]
    live = slurm.poll(ws, waiting) if waiting else {}
    out = []
    for row in rows:
        tasks = {t: live[t].state for t in jobs.tasks_of(row) if t in live}
        why = {t: live[t].reason for t, state in tasks.items() if state == "pending"}
        state = {"submitted": "running" if "running" in tasks.values() else "pending"}.get(row["state"], row["state"])
        out.append(
            JobLine(
                job_id=row["id"],
                claim_id=row["claim_id"],
                models=_models(row),
                executor=row["executor"],
                external_id=row["external_id"],
                submitted_at=row.get("submitted_at") or row["created_at"],
                state=state,
                reason=row.get("reason"),
                error=row["error"],
                tasks=tasks,
                waiting={t: Waiting(reason, queue.waiting_meaning(reason)) for t, reason in why.items() if reason},
                cache_hits=row.get("cache_hits") or 0,
                retry=f"claimtrack replicate --retry {row['id']}" if row["state"] == "failed" else None,
            )
        )
    return out


def open_jobs(ledger: Ledger) -> dict[str, dict[str, Any]]:
    """Per claim, its newest job when that one is still out (submitted) or failed: what `status`, `show` and
    the status report mention. From the ledger alone, so those commands never wait on Slurm."""
    newest: dict[str, dict[str, Any]] = {}
    for row in jobs.JobBook(ledger).all():
        newest[row["claim_id"]] = row
    return {
        claim: {
            "job_id": row["id"],
            "state": "pending" if row["state"] == "submitted" else "failed",
            "external_id": row["external_id"],
            "reason": row.get("reason"),
        }
        for claim, row in newest.items()
        if row["state"] in ("submitted", "failed")
    }


def open_by_claim(ws: Workspace) -> dict[str, dict[str, Any]]:
    """`open_jobs` of the workspace's ledger; empty, and no ledger created, when there is none yet."""
    if not ws.ledger_path.exists():
        return {}
    with Ledger(ws.ledger_path) as ledger:
        return open_jobs(ledger)


def waiting(ledger: Ledger) -> dict[str, int]:
    """How many claims wait on a pending replication job, and how many on a failed one."""
    states = [job["state"] for job in open_jobs(ledger).values()]
    return {"pending": states.count("pending"), "failed": states.count("failed")}


def describe(job: dict[str, Any]) -> str:
    """'replication pending: job rep-x (slurm:12)' / 'replication failed: job rep-x (TIMEOUT)'."""
    detail = job["reason"] if job["state"] == "failed" else job["external_id"]
    return f"replication {job['state']}: job {job['job_id']}" + (f" ({detail})" if detail else "")
