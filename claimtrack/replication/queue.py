"""Where a submitted task stands: its result file first, then Slurm's word, then the job's own log.

Slurm's state comes from `sacct` where the cluster keeps accounting; many small clusters keep none, and there
`sacct` fails, so `squeue --states=all` (which still lists a finished job for MinJobAge, 300 s by default)
answers instead. A job that Slurm no longer knows and that left no result is read from the log file Slurm wrote
for it (`*** JOB 12 ON node CANCELLED AT ... DUE TO TIME LIMIT ***`); failing that, it "left the queue without a
result". So every task ends in a known state, however it ended.

Why a pending task waits (squeue's `%r`: Priority, JobHeldUser, ...) only the controller knows; sacct keeps no
current reason, so where sacct answers, squeue is asked once more, for all the pending jobs at once.
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
# Why a task waits, in plain words, for the reasons a researcher meets most; others are shown as Slurm writes them.
_WAITING = {
    "Priority": "jobs of higher priority are ahead of it in the queue",
    "Resources": "waiting for the CPUs, memory or GPUs it asks for to come free",
    "JobHeldUser": "held by its owner until `scontrol release` lets it go",
    "JobHeldAdmin": "held by an administrator until one releases it",
    "Dependency": "waiting for a job it depends on to end",
    "DependencyNeverSatisfied": "depends on a job that can no longer end as required; it will never start",
    "BeginTime": "its earliest start time has not come yet",
    "JobArrayTaskLimit": "its array runs as many tasks at once as it may (CLAIMTRACK_SLURM_ARRAY_PARALLELISM)",
    "QOSMaxJobsPerUserLimit": "you already run as many jobs as your QOS allows a user",
    "ReqNodeNotAvail": "a node it needs is down, drained or reserved",
    "PartitionConfig": "asks for more than the partition offers (CLAIMTRACK_SLURM_MEM_GB, ..._CPUS_PER_TASK)",
    "PartitionTimeLimit": "its time limit is above the partition's (CLAIMTRACK_SLURM_TIMEOUT_MIN)",
    "PartitionDown": "its partition is down",
    "NodeDown": "a node it needs is down",
    "Reservation": "waiting for its reservation to begin",
    "WaitingForScheduling": "the scheduler has not looked at it yet",
}
# Families named by their first word: QOSGrpCpuLimit, AssocMaxJobsLimit, ...
_WAITING_FAMILIES = (
    ("QOS", "a limit of its QOS (quality of service) is reached"),
    ("Assoc", "a limit of its account (association) is reached"),
)


@dataclass(frozen=True)
class SlurmState:
    """What Slurm says of one task: its state name and, from squeue, why it is in it (Priority, None, ...)."""

    state: str
    reason: str | None = None


@dataclass(frozen=True)
class TaskState:
    """One task: pending (with why, when Slurm says), running, done (with its value), failed (with Slurm's
    reason and a message)."""

    state: str
    # failed: a Slurm state name (TIMEOUT, ...), "error" for a Python error, or LEFT; pending: squeue's reason
    reason: str | None = None
    message: str | None = None
    value: Any = None


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.info("%s: %s", cmd[0], exc)
        return None


_RANGES = re.compile(r"(\d+)_\[(\d+(?:-\d+)?(?:,\d+(?:-\d+)?)*)(?:%\d+)?\]")


def _expand(job_id: str) -> list[str]:
    """'12_[0-2,5%2]' -> ['12_0', '12_1', '12_2', '12_5']; other ids, malformed ones too, as they are."""
    match = _RANGES.fullmatch(job_id)
    if not match:
        return [job_id]
    out = []
    for part in match.group(2).split(","):
        lo, _, hi = part.partition("-")
        out += [f"{match.group(1)}_{i}" for i in range(int(lo), int(hi or lo) + 1)]
    return out


def _table(text: str) -> dict[str, SlurmState]:
    """'<id>|<STATE ...>[|<reason>]' lines -> {id: SlurmState}; 'CANCELLED by 0' is CANCELLED, a reason of
    'None' none. A reason may hold commas and spaces ('ReqNodeNotAvail, UnavailableNodes:n[1-2]'), so it is
    the last field, taken whole. Lines that do not parse are passed over."""
    states: dict[str, SlurmState] = {}
    for line in text.splitlines():
        job, _, rest = line.strip().partition("|")
        state, _, reason = rest.partition("|")
        words, why = state.split(), reason.strip()
        if job and words:
            seen = SlurmState(words[0].rstrip("+"), why if why not in ("", "None") else None)
            for one in _expand(job):
                states[one] = seen
    return states


def _squeue(arrays: Iterable[str]) -> dict[str, SlurmState]:
    listing = ",".join(arrays)
    squeue = _run(["squeue", "--noheader", "--array", "--states=all", "--format=%i|%T|%r", "--jobs", listing])
    if squeue is None or squeue.returncode != 0:  # 'Invalid job id' when Slurm has forgotten all of them
        log.debug("squeue: %s", squeue.stderr.strip() if squeue else "not run")
        return {}
    return _table(squeue.stdout)


def slurm_states(job_ids: Iterable[str]) -> dict[str, SlurmState]:
    """What Slurm says of each job (array tasks as '<array>_<index>') that it still knows, in one call, or two
    where sacct answers and some job is pending (squeue then says why, for all of them at once)."""
    wanted = sorted({j.split("_")[0] for j in job_ids})
    if not wanted:
        return {}
    sacct = _run(
        ["sacct", "--noheader", "--parsable2", "--allocations", "--format=JobID,State", "--jobs", ",".join(wanted)]
    )
    if sacct is None or sacct.returncode != 0:
        if sacct is not None:
            log.debug("sacct: %s; asking squeue", sacct.stderr.strip())
        return _squeue(wanted)
    states = _table(sacct.stdout)
    waiting = sorted({job.split("_")[0] for job, seen in states.items() if seen.state in PENDING})
    return {**states, **_squeue(waiting)} if waiting else states


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


def waiting_meaning(reason: str) -> str | None:
    """Why a task waits, in plain words, or None for a reason the table does not know."""
    word = reason.split(",")[0].strip()  # 'ReqNodeNotAvail, UnavailableNodes:n1' is a ReqNodeNotAvail
    if word in _WAITING:
        return _WAITING[word]
    return next((meaning for prefix, meaning in _WAITING_FAMILIES if word.startswith(prefix)), None)


def ended(external_id: str, reason: str) -> TaskState:
    meaning = _MEANING.get(reason)
    message = f"job {external_id} {meaning} [{reason}]" if meaning else f"job {external_id} {reason}"
    return TaskState("failed", reason, message)


def from_slurm(external_id: str, slurm: SlurmState | None, stderr_log: Path) -> TaskState:
    """A task that has written no result, by what Slurm says of it (None: Slurm no longer knows it)."""
    if slurm is None or slurm.state == "COMPLETED":
        found = reason_from_log(stderr_log)
        return ended(external_id, found) if found else TaskState("failed", LEFT, f"job {external_id} {LEFT}")
    if slurm.state in PENDING:
        return TaskState("pending", slurm.reason)
    if slurm.state in RUNNING:
        return TaskState("running")
    return ended(external_id, slurm.state)


def from_result(external_id: str, outcome: str, value: Any) -> TaskState:
    """A task that wrote its result file: the value, or the last line of its traceback."""
    if outcome == "success":
        return TaskState("done", value=value)
    text = str(value)
    if "UncompletedJobError" in text and "timed-out" in text:  # submitit stopped it on Slurm's warning signal
        return ended(external_id, "TIMEOUT")
    last = [line for line in text.strip().splitlines() if line.strip()]
    return TaskState("failed", "error", f"job {external_id} failed: {last[-1] if last else 'no message'}")
