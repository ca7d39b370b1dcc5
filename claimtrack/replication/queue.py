"""Where a submitted task stands: its result file first, then Slurm's word, then the job's own log.

Slurm's state comes from `sacct` where the cluster keeps accounting; many small clusters keep none, and there
`sacct` fails, so `squeue --states=all` (which still lists a finished job for MinJobAge, 300 s by default)
answers instead. A job that Slurm no longer knows and that left no result is read from the log file Slurm wrote
for it (`*** JOB 12 ON node CANCELLED AT ... DUE TO TIME LIMIT ***`); failing that, it "left the queue without a
result". So every task ends in a known state, however it ended.
"""

from __future__ import annotations

import logging
import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PENDING = {"PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "CONFIGURING", "RESV_DEL_HOLD", "SPECIAL_EXIT"}
RUNNING = {"RUNNING", "COMPLETING", "SUSPENDED", "STOPPED", "SIGNALING", "STAGE_OUT", "RESIZING"}
LEFT = "left the queue without a result"
# What slurmstepd writes into the job's stderr when it ends a job, as Slurm's state names.
_LOG_REASONS = (
    (re.compile(r"CANCELLED AT \S+ DUE TO TIME LIMIT"), "TIMEOUT"),
    (re.compile(r"CANCELLED AT \S+ DUE TO PREEMPTION"), "PREEMPTED"),
    (re.compile(r"CANCELLED AT \S+ DUE TO NODE FAIL"), "NODE_FAIL"),
    (re.compile(r"oom[-_]kill|Exceeded job memory limit|out-of-memory", re.IGNORECASE), "OUT_OF_MEMORY"),
    (re.compile(r"\*\*\* (?:JOB|STEP) \S+ ON \S+ CANCELLED AT"), "CANCELLED"),
)
_MEANING = {
    "CANCELLED": "cancelled (scancel, or by an administrator)",
    "TIMEOUT": "ran past its time limit (CLAIMTRACK_SLURM_TIMEOUT_MIN)",
    "OUT_OF_MEMORY": "ran out of memory (CLAIMTRACK_SLURM_MEM_GB)",
    "NODE_FAIL": "its node failed",
    "PREEMPTED": "was preempted by a higher-priority job",
    "FAILED": "exited with an error before writing a result",
    "BOOT_FAIL": "its node failed to boot",
    "DEADLINE": "missed its deadline",
}


@dataclass(frozen=True)
class TaskState:
    """One task: pending | running | done (with its value) | failed (with Slurm's reason and a message)."""

    state: str
    reason: str | None = None  # a Slurm state name (TIMEOUT, ...), "error" for a Python error, or LEFT
    message: str | None = None
    value: Any = None


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.info("%s: %s", cmd[0], exc)
        return None


def _expand(job_id: str) -> list[str]:
    """'12_[0-2,5%2]' -> ['12_0', '12_1', '12_2', '12_5']; other ids as they are."""
    match = re.fullmatch(r"(\d+)_\[([^\]%]*)(?:%\d+)?\]", job_id)
    if not match:
        return [job_id]
    out = []
    for part in match.group(2).split(","):
        lo, _, hi = part.partition("-")
        out += [f"{match.group(1)}_{i}" for i in range(int(lo), int(hi or lo) + 1)]
    return out


def _table(text: str) -> dict[str, str]:
    """'<id>|<STATE ...>' lines -> {id: STATE}; 'CANCELLED by 0' is CANCELLED."""
    states: dict[str, str] = {}
    for line in text.splitlines():
        job, _, state = line.strip().partition("|")
        if job and state:
            for one in _expand(job):
                states[one] = state.split()[0].rstrip("+")
    return states


def slurm_states(job_ids: Iterable[str]) -> dict[str, str]:
    """Slurm's state name for each job (array tasks as '<array>_<index>') that Slurm still knows."""
    wanted = sorted({j.split("_")[0] for j in job_ids})
    if not wanted:
        return {}
    listing = ",".join(wanted)
    sacct = _run(["sacct", "--noheader", "--parsable2", "--allocations", "--format=JobID,State", "--jobs", listing])
    if sacct is not None and sacct.returncode == 0:
        return _table(sacct.stdout)
    if sacct is not None:
        log.debug("sacct: %s; asking squeue", sacct.stderr.strip())
    squeue = _run(["squeue", "--noheader", "--array", "--states=all", "--format=%i|%T", "--jobs", listing])
    if squeue is None or squeue.returncode != 0:  # 'Invalid job id' when Slurm has forgotten all of them
        log.debug("squeue: %s", squeue.stderr.strip() if squeue else "not run")
        return {}
    return _table(squeue.stdout)


def reason_from_log(stderr_log: Path) -> str | None:
    """The Slurm state a job's own stderr names as its end, if slurmstepd wrote one there."""
    try:
        text = stderr_log.read_text(encoding="utf-8", errors="replace")[-20000:]
    except OSError:
        return None
    for pattern, reason in _LOG_REASONS:
        if pattern.search(text):
            return reason
    return None


def ended(external_id: str, reason: str) -> TaskState:
    meaning = _MEANING.get(reason)
    message = f"job {external_id} {meaning} [{reason}]" if meaning else f"job {external_id} {reason}"
    return TaskState("failed", reason, message)


def from_slurm(external_id: str, slurm_state: str | None, stderr_log: Path) -> TaskState:
    """A task that has written no result, by what Slurm says of it (None: Slurm no longer knows it)."""
    if slurm_state in PENDING:
        return TaskState("pending")
    if slurm_state in RUNNING:
        return TaskState("running")
    if slurm_state is None or slurm_state == "COMPLETED":
        found = reason_from_log(stderr_log)
        return ended(external_id, found) if found else TaskState("failed", LEFT, f"job {external_id} {LEFT}")
    return ended(external_id, slurm_state)


def from_result(external_id: str, outcome: str, value: Any) -> TaskState:
    """A task that wrote its result file: the value, or the last line of its traceback."""
    if outcome == "success":
        return TaskState("done", value=value)
    text = str(value)
    if "UncompletedJobError" in text and "timed-out" in text:  # submitit stopped it on Slurm's warning signal
        return ended(external_id, "TIMEOUT")
    last = [line for line in text.strip().splitlines() if line.strip()]
    return TaskState("failed", "error", f"job {external_id} failed: {last[-1] if last else 'no message'}")
