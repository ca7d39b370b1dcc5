"""Submitting replication jobs to Slurm through submitit, and reading back where each task stands.

A job's models run as one Slurm job array, a task per model (`map_array`), at most
CLAIMTRACK_SLURM_ARRAY_PARALLELISM at once. The state folder must sit on a filesystem the compute nodes share
(as Slurm setups usually arrange): each task writes its result there and `claimtrack replicate --collect`
reads it. Setting CLAIMTRACK_SLURM_CLUSTER=local runs the same path with submitit's local executor.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from claimtrack.config import Settings, load_settings
from claimtrack.replication import queue
from claimtrack.replication.errors import ReplicationFailed
from claimtrack.workspace import Workspace

log = logging.getLogger(__name__)


def jobs_folder(ws: Workspace) -> Path:
    return ws.ensure_state() / "replication" / "submitit"


def parameters(settings: Settings, device: str) -> dict[str, Any]:
    """submitit parameters for one replication job: a task per model, a GPU each when the device is CUDA."""
    params: dict[str, Any] = {
        "name": "claimtrack-replication",
        "timeout_min": settings.slurm_timeout_min,
        "mem_gb": settings.slurm_mem_gb,
        "cpus_per_task": settings.slurm_cpus_per_task,
        "nodes": 1,
        "tasks_per_node": 1,
        "gpus_per_node": 1 if device.startswith("cuda") else 0,
        "slurm_array_parallelism": settings.slurm_array_parallelism,
        # submitit asks Slurm for USR2 this long before the limit and then ends the task with a result that
        # says it timed out; 90 s (submitit's default) would come at once under a 1-minute limit.
        "slurm_signal_delay_s": min(90, settings.slurm_timeout_min * 15),
    }
    if settings.slurm_partition:
        params["slurm_partition"] = settings.slurm_partition
    return params


class _ToOurLog(logging.Handler):
    """submitit's records, as info lines of ours: shown with -v, never raw on the terminal."""

    def emit(self, record: logging.LogRecord) -> None:
        log.info("submitit: %s", record.getMessage())


def _submitit() -> Any:
    """submitit, with its own stdout/stderr handlers (set up at its import) replaced by ours."""
    import submitit

    logger = logging.getLogger("submitit")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    logger.addHandler(_ToOurLog())
    logger.propagate = False
    return submitit


def executor(ws: Workspace, device: str, settings: Settings | None = None) -> Any:
    submitit = _submitit()
    settings = settings or load_settings()
    try:
        ex = submitit.AutoExecutor(folder=str(jobs_folder(ws)), cluster=settings.slurm_cluster)
    except (ValueError, RuntimeError) as exc:  # unknown cluster name, or no srun on this machine
        raise ReplicationFailed(f"submitit ({settings.slurm_cluster}): {exc}") from exc
    ex.update_parameters(**parameters(settings, device))
    return ex


def submit(ws: Workspace, payload: dict[str, Any], device: str, models: Sequence[int]) -> list[str]:
    """Queue `execute_model(payload, i)` for each model index as one job array; returns '<cluster>:<job id>'
    for each task, in the order of `models`."""
    from claimtrack.replication.api import execute_model

    ex = executor(ws, device)
    try:
        tasks = ex.map_array(execute_model, [payload] * len(models), list(models))
    except (OSError, RuntimeError) as exc:  # sbatch missing or refusing the job
        raise ReplicationFailed(f"submitit ({ex.cluster}) could not submit: {exc}") from exc
    return [f"{ex.cluster}:{task.job_id}" for task in tasks]


def poll(ws: Workspace, external_ids: Sequence[str]) -> dict[str, queue.TaskState]:
    """Where each task stands. Slurm is asked first and the result files read after, so a task that Slurm
    reports finished has had its chance to write its result before it is looked for."""
    from submitit.core.utils import JobPaths, pickle_load

    split = {ext: ext.partition(":") for ext in external_ids}
    slurm = queue.slurm_states(job for cluster, _, job in split.values() if cluster == "slurm")
    states = {}
    for ext, (cluster, _, job_id) in split.items():
        paths = JobPaths(jobs_folder(ws), job_id=job_id, task_id=0)
        if paths.result_pickle.exists():
            outcome, value = pickle_load(paths.result_pickle)
            states[ext] = queue.from_result(ext, outcome, value)
        elif cluster == "slurm":
            states[ext] = queue.from_slurm(ext, slurm.get(job_id), paths.stderr)
        else:  # submitit's local executor: the process may still be running; nothing else knows
            states[ext] = queue.TaskState("pending")
    return states
