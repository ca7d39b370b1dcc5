"""Submitting replication jobs to Slurm through submitit, and collecting what comes back.

The state folder must sit on a filesystem the compute nodes share (as Slurm setups usually arrange):
the job writes its result there and `claimtrack replicate --collect` reads it. Setting
CLAIMTRACK_SLURM_CLUSTER=local runs the same path with submitit's local executor (no Slurm needed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from claimtrack.config import Settings, load_settings
from claimtrack.replication.errors import ReplicationFailed
from claimtrack.workspace import Workspace


def jobs_folder(ws: Workspace) -> Path:
    return ws.ensure_state() / "replication" / "submitit"


def parameters(settings: Settings, device: str) -> dict[str, Any]:
    """submitit parameters for one replication job: one task, a GPU when the device is CUDA."""
    params: dict[str, Any] = {
        "name": "claimtrack-replication",
        "timeout_min": settings.slurm_timeout_min,
        "mem_gb": settings.slurm_mem_gb,
        "cpus_per_task": settings.slurm_cpus_per_task,
        "nodes": 1,
        "tasks_per_node": 1,
        "gpus_per_node": 1 if device.startswith("cuda") else 0,
    }
    if settings.slurm_partition:
        params["slurm_partition"] = settings.slurm_partition
    return params


def executor(ws: Workspace, device: str, settings: Settings | None = None) -> Any:
    import submitit

    settings = settings or load_settings()
    try:
        ex = submitit.AutoExecutor(folder=str(jobs_folder(ws)), cluster=settings.slurm_cluster)
    except (ValueError, RuntimeError) as exc:  # unknown cluster name, or no srun on this machine
        raise ReplicationFailed(f"submitit ({settings.slurm_cluster}): {exc}") from exc
    ex.update_parameters(**parameters(settings, device))
    return ex


def submit(ws: Workspace, payload: dict[str, Any], device: str) -> str:
    """Queue `execute(payload)`; returns '<cluster>:<job id>' for `poll`."""
    from claimtrack.replication.api import execute

    ex = executor(ws, device)
    try:
        job = ex.submit(execute, payload)
    except (OSError, RuntimeError) as exc:  # sbatch missing or refusing the job
        raise ReplicationFailed(f"submitit ({ex.cluster}) could not submit: {exc}") from exc
    return f"{ex.cluster}:{job.job_id}"


def poll(ws: Workspace, external_id: str) -> tuple[str, Any]:
    """('pending', None), ('done', result) or ('failed', message) for a submitted job."""
    from submitit.core.utils import JobPaths, pickle_load

    cluster, _, job_id = external_id.partition(":")
    paths = JobPaths(jobs_folder(ws), job_id=job_id, task_id=0)
    if paths.result_pickle.exists():
        outcome, value = pickle_load(paths.result_pickle)
        if outcome == "success":
            return "done", value
        last = [line for line in str(value).strip().splitlines() if line.strip()]
        return "failed", f"job {external_id} failed: {last[-1] if last else 'no message'}"
    if cluster == "slurm":
        import submitit

        state = submitit.SlurmJob(folder=jobs_folder(ws), job_id=job_id).state
        if state in ("FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "PREEMPTED"):
            return "failed", f"job {external_id} ended {state} without a result"
    return "pending", None
