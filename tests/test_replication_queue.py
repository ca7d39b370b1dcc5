"""Reading where a Slurm task stands from what Slurm prints and writes, without a cluster: sacct/squeue lines,
slurmstepd's messages in a job's stderr, submitit's result files; and submitit's log records on our log."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from claimtrack.replication import queue


def test_state_tables_from_sacct_and_squeue_lines() -> None:
    sacct = "12|COMPLETED\n13|CANCELLED by 0\n14_[1-3,5%2]|PENDING\n14_0|RUNNING\n15|TIMEOUT\n"
    assert queue._table(sacct) == {
        "12": "COMPLETED",
        "13": "CANCELLED",
        "14_1": "PENDING",
        "14_2": "PENDING",
        "14_3": "PENDING",
        "14_5": "PENDING",
        "14_0": "RUNNING",
        "15": "TIMEOUT",
    }
    assert queue._table("\n  \n") == {}


@pytest.mark.parametrize(
    ("log", "reason"),
    [
        ("slurmstepd-vm: error: *** JOB 1 ON vm CANCELLED AT 2026-12-04T18:54:29 DUE TO TIME LIMIT ***", "TIMEOUT"),
        ("slurmstepd-vm: error: *** STEP 35.0 ON vm CANCELLED AT 2026-12-04T19:03:27 ***", "CANCELLED"),
        ("slurmstepd: error: *** JOB 9 ON n1 CANCELLED AT 2026-01-01T00:00:00 DUE TO PREEMPTION ***", "PREEMPTED"),
        ("slurmstepd: error: *** JOB 9 ON n1 CANCELLED AT 2026-01-01T00:00:00 DUE TO NODE FAILURE ***", "NODE_FAIL"),
        ("slurmstepd: error: Detected 1 oom_kill event in StepId=9.batch.", "OUT_OF_MEMORY"),
        ("Running loglikelihood requests: 100%", None),
    ],
)
def test_a_forgotten_job_is_read_from_its_own_stderr(tmp_path: Path, log: str, reason: str | None) -> None:
    err = tmp_path / "9_0_log.err"
    err.write_text(f"some output\n{log}\n")
    state = queue.from_slurm("slurm:9", None, err)
    assert state.state == "failed"
    assert state.reason == (reason or queue.LEFT)
    assert "slurm:9" in (state.message or "")


def test_slurms_own_word_comes_before_the_log(tmp_path: Path) -> None:
    missing = tmp_path / "none.err"
    assert queue.from_slurm("slurm:3", "PENDING", missing).state == "pending"
    assert queue.from_slurm("slurm:3", "RUNNING", missing).state == "running"
    cancelled = queue.from_slurm("slurm:3", "CANCELLED", missing)
    assert (cancelled.state, cancelled.reason) == ("failed", "CANCELLED") and "cancelled" in (cancelled.message or "")
    gone = queue.from_slurm("slurm:3", "COMPLETED", missing)  # completed, yet no result file
    assert (gone.state, gone.reason) == ("failed", queue.LEFT)


def test_result_files_give_the_value_or_the_last_line_of_the_error() -> None:
    assert queue.from_result("slurm:4", "success", {"x": 1}) == queue.TaskState("done", value={"x": 1})
    raised = queue.from_result("slurm:4", "error", "Traceback ...\n  File x\nOSError: no weights here\n\n")
    assert (raised.state, raised.reason, raised.message) == (
        "failed",
        "error",
        "job slurm:4 failed: OSError: no weights here",
    )
    timed = "submitit.core.utils.UncompletedJobError: Job not requeued because: timed-out and not checkpointable."
    assert queue.from_result("slurm:4", "error", timed).reason == "TIMEOUT"


def test_submitit_records_go_to_our_log_as_info_lines(caplog: pytest.LogCaptureFixture) -> None:
    from claimtrack.replication import slurm

    slurm._submitit()
    submitit_log = logging.getLogger("submitit")
    assert not any(isinstance(h, logging.StreamHandler) for h in submitit_log.handlers)  # its own are gone
    with caplog.at_level(logging.INFO, logger="claimtrack"):
        submitit_log.warning("Bypassing sacct error Command '['sacct']' returned non-zero exit status 1.")
    [record] = [r for r in caplog.records if r.name == "claimtrack.replication.slurm"]
    assert record.levelno == logging.INFO and record.getMessage().startswith("submitit: Bypassing sacct error")
