"""Reading where a Slurm task stands from what Slurm prints and writes, without a cluster: sacct/squeue lines,
slurmstepd's messages in a job's stderr, submitit's result files; and submitit's log records on our log."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import pytest

from claimtrack.replication import queue


def test_state_tables_from_sacct_and_squeue_lines() -> None:
    sacct = "12|COMPLETED\n13|CANCELLED by 0\n14_[1-3,5%2]|PENDING\n14_0|RUNNING\n15|TIMEOUT\n"
    assert {job: seen.state for job, seen in queue._table(sacct).items()} == {
        "12": "COMPLETED",
        "13": "CANCELLED",
        "14_1": "PENDING",
        "14_2": "PENDING",
        "14_3": "PENDING",
        "14_5": "PENDING",
        "14_0": "RUNNING",
        "15": "TIMEOUT",
    }
    assert all(seen.reason is None for seen in queue._table(sacct).values())  # sacct's lines carry no reason
    assert queue._table("\n  \n") == {}


SQUEUE = """\
20_0|RUNNING|None
20_1|PENDING|JobArrayTaskLimit
21_[0-2]|PENDING|JobHeldUser
22_0|PENDING|ReqNodeNotAvail, UnavailableNodes:gpu[01-02]
23_0|PENDING|QOSMaxJobsPerUserLimit
24_0|PENDING|Priority
25_0|PENDING|Resources
26_0|PENDING|SomethingNewInSlurm99
27_0|PENDING|None
28_0|PENDING
29_0|COMPLETED|None
garbage without a bar
30_[x-y]|PENDING|Priority
31_0| |Priority
|PENDING|Priority
"""


def test_squeue_lines_carry_why_a_task_waits() -> None:
    table = queue._table(SQUEUE)
    reasons = {job: seen.reason for job, seen in table.items() if seen.state == "PENDING"}
    assert reasons == {
        "20_1": "JobArrayTaskLimit",
        "21_0": "JobHeldUser",
        "21_1": "JobHeldUser",
        "21_2": "JobHeldUser",
        "22_0": "ReqNodeNotAvail, UnavailableNodes:gpu[01-02]",  # the whole field, commas and all
        "23_0": "QOSMaxJobsPerUserLimit",
        "24_0": "Priority",
        "25_0": "Resources",
        "26_0": "SomethingNewInSlurm99",
        "27_0": None,  # not yet looked at: Slurm writes None
        "28_0": None,  # no reason field at all
        "30_[x-y]": "Priority",  # a malformed array id is kept as it is and matches no task
    }
    assert table["20_0"] == queue.SlurmState("RUNNING") and table["29_0"] == queue.SlurmState("COMPLETED")
    assert "31_0" not in table and "" not in table  # no state, no id: passed over
    held = queue.from_slurm("slurm:21_1", table["21_1"], Path("/nonexistent.err"))
    assert held == queue.TaskState("pending", "JobHeldUser")


@pytest.mark.parametrize(
    ("reason", "words"),
    [
        ("Priority", "higher priority"),
        ("Resources", "to come free"),
        ("JobHeldUser", "scontrol release"),
        ("JobHeldAdmin", "administrator"),
        ("Dependency", "depends on"),
        ("BeginTime", "start time"),
        ("JobArrayTaskLimit", "CLAIMTRACK_SLURM_ARRAY_PARALLELISM"),
        ("QOSMaxJobsPerUserLimit", "as many jobs"),
        ("QOSGrpGRES", "limit of its QOS"),
        ("AssocGrpCPUMinutesLimit", "limit of its account"),
        ("ReqNodeNotAvail, UnavailableNodes:gpu[01-02]", "node it needs"),
        ("SomethingNewInSlurm99", None),
    ],
)
def test_common_reasons_are_glossed_and_others_left_as_slurm_writes_them(reason: str, words: str | None) -> None:
    meaning = queue.waiting_meaning(reason)
    if words is None:
        assert meaning is None
    else:
        assert meaning and words in meaning


def test_slurm_is_asked_once_for_every_job_and_squeue_says_why_where_sacct_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Sample output of both commands (as on a cluster with accounting, which the test cluster lacks)."""
    calls: list[list[str]] = []
    answers = {
        "sacct": "40_0|RUNNING\n40_1|PENDING\n41_0|PENDING\n42_0|COMPLETED\n",
        "squeue": "40_0|RUNNING|None\n40_1|PENDING|JobArrayTaskLimit\n41_0|PENDING|Dependency\n",
    }

    def run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 0, answers[cmd[0]], "")

    monkeypatch.setattr(queue, "_run", run)
    states = queue.slurm_states(["40_0", "40_1", "41_0", "42_0"])
    assert [c[0] for c in calls] == ["sacct", "squeue"]
    assert calls[1][calls[1].index("--jobs") + 1] == "40,41"  # the pending jobs, in one call
    assert calls[1][calls[1].index("--jobs") - 1] == "--format=%i|%T|%r"
    assert states["40_1"] == queue.SlurmState("PENDING", "JobArrayTaskLimit")
    assert states["41_0"] == queue.SlurmState("PENDING", "Dependency") and states["42_0"].state == "COMPLETED"

    calls.clear()
    answers["sacct"] = "42_0|COMPLETED\n"
    assert queue.slurm_states(["42_0"]) == {"42_0": queue.SlurmState("COMPLETED")}
    assert [c[0] for c in calls] == ["sacct"]  # nothing pending: no second call


def test_without_accounting_one_squeue_call_answers_state_and_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []

    def run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
        calls.append(cmd)
        if cmd[0] == "sacct":
            return subprocess.CompletedProcess(cmd, 1, "", "Slurm accounting storage is disabled")
        return subprocess.CompletedProcess(cmd, 0, "50_0|PENDING|BeginTime\n51_0|RUNNING|None\n", "")

    monkeypatch.setattr(queue, "_run", run)
    states = queue.slurm_states(["50_0", "51_0"])
    assert [c[0] for c in calls] == ["sacct", "squeue"]
    assert states == {"50_0": queue.SlurmState("PENDING", "BeginTime"), "51_0": queue.SlurmState("RUNNING")}

    monkeypatch.setattr(queue, "_run", lambda cmd: subprocess.CompletedProcess(cmd, 1, "", "Invalid job id"))
    assert queue.slurm_states(["50_0"]) == {}  # Slurm has forgotten them all: nothing known, nothing raised


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
    assert queue.from_slurm("slurm:3", queue.SlurmState("PENDING"), missing) == queue.TaskState("pending")
    assert queue.from_slurm("slurm:3", queue.SlurmState("RUNNING", "None"), missing) == queue.TaskState("running")
    cancelled = queue.from_slurm("slurm:3", queue.SlurmState("CANCELLED"), missing)
    assert (cancelled.state, cancelled.reason) == ("failed", "CANCELLED") and "cancelled" in (cancelled.message or "")
    gone = queue.from_slurm("slurm:3", queue.SlurmState("COMPLETED"), missing)  # completed, yet no result file
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
