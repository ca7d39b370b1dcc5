"""Replication against a real Slurm: the single-node cluster `scripts/slurm-up.sh` starts (no accounting).

All jobs are submitted at once by one module fixture, so the one that must run past its 1-minute limit sets
the pace (about 1.5 minutes) while the others finish beside it: a three-model job array that is collected
into one verdict, a job cancelled with scancel, a job whose Python raises, and the timed-out job, which is
then retried and answers its finished requests from lm-eval's request cache.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import Result

from tests.conftest import ROOT, invoke
from tests.replication_helpers import build_slow_model, build_tiny_model

pytestmark = pytest.mark.slurm

CLAIM = "binary-reward-hurts-calibration"
START = "start one with `sudo scripts/slurm-up.sh` (docs/replication.md#the-single-node-slurm-the-tests-use)"


def _cluster_problem() -> str | None:
    if shutil.which("sbatch") is None or shutil.which("squeue") is None:
        return "Slurm is not installed here"
    try:
        up = subprocess.run(["sinfo", "--noheader", "--format=%t"], capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return "Slurm's controller does not answer"
    if up.returncode != 0:
        return f"Slurm's controller does not answer ({up.stderr.strip()[:120]})"
    if not {"idle", "mix", "alloc"} & set(up.stdout.split()):
        return f"no Slurm node is up (sinfo: {' '.join(up.stdout.split()) or 'none'})"
    return None


@dataclass
class Jobs:
    root: Path
    tmp: Path
    ids: dict[str, str]  # scenario -> replication job id
    stderr: list[str]  # everything the CLI wrote on stderr without -v


def replicate(jobs: Jobs, *args: str) -> Result:
    result = invoke("--workspace", str(jobs.root), "replicate", *args)
    jobs.stderr.append(result.stderr)
    return result


def job_rows(root: Path) -> dict[str, dict]:
    result = invoke("--workspace", str(root), "replicate", "--jobs", "--json")
    assert result.exit_code == 0, result.stderr
    return {j["job_id"]: j for j in json.loads(result.stdout)}


def wait_for(jobs: Jobs, scenario: str, states: set[str], seconds: float = 150) -> dict:
    """Collect until the scenario's job is in one of `states`; returns its `--jobs` line."""
    deadline = time.monotonic() + seconds
    while True:
        replicate(jobs, "--collect", "--json")
        row = job_rows(jobs.root)[jobs.ids[scenario]]
        if row["state"] in states or time.monotonic() > deadline:
            return row
        time.sleep(2)


def _slurm_state(task: str) -> str:
    out = subprocess.run(
        ["squeue", "--noheader", "--array", "--states=all", "--format=%i %T", "--jobs", task.split("_")[0]],
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    return dict(line.split() for line in out.splitlines() if line.strip()).get(task, "")


def _cached_answers(work: Path) -> int:
    """Rows in lm-eval's request cache of one model's task (sqlitedict's table), 0 until it exists."""
    db = work / "lm-cache_rank0.db"
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
            return conn.execute("SELECT COUNT(*) FROM unnamed").fetchone()[0]
    except sqlite3.Error:
        return 0


def _submit(root: Path, *args: str) -> str:
    result = invoke("--workspace", str(root), "replicate", CLAIM, *args, "--executor", "slurm", "--json")
    assert result.exit_code == 0, result.stderr
    [outcome] = json.loads(result.stdout)
    assert outcome["state"] == "submitted", outcome
    return outcome["job_id"]


@contextlib.contextmanager
def slurm_env(jobs: Jobs) -> Iterator[pytest.MonkeyPatch]:
    """Small tasks (1 CPU, 1 GB, 10 minutes); sbatch hands the environment to the job."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CLAIMTRACK_SLURM_MEM_GB", "1")
        env.setenv("CLAIMTRACK_SLURM_CPUS_PER_TASK", "1")
        env.setenv("CLAIMTRACK_SLURM_TIMEOUT_MIN", "10")
        env.setenv("HF_MODULES_CACHE", str(jobs.tmp / "hf-modules"))  # where a model's own code is copied
        yield env


@pytest.fixture(scope="module")
def jobs(tmp_path_factory: pytest.TempPathFactory, tiny_models: tuple[Path, Path]) -> Jobs:
    problem = _cluster_problem()
    if problem:
        pytest.fail(f"{problem}: {START}", pytrace=False)
    tmp = tmp_path_factory.mktemp("slurm")
    root = tmp / "ws"
    shutil.copytree(ROOT / "claims", root / "claims")
    for hold in ("hold-timeout", "hold-cancel", "hold-queued"):
        (tmp / hold).touch()
    slow = build_slow_model(tmp / "slow", tmp / "hold-timeout", seconds_per_forward=2.0)
    halting = build_slow_model(tmp / "halting", tmp / "hold-cancel", seconds_per_forward=1.0)
    stuck = build_slow_model(tmp / "stuck", tmp / "hold-queued", seconds_per_forward=2.0)
    third = build_tiny_model(tmp / "tiny-third", seed=3)
    broken = tmp / "broken"
    broken.mkdir()
    (broken / "config.json").write_text('{"model_type": "gpt2", "n_embd": 8}')  # no weights: loading raises
    base, tuned = (str(m) for m in tiny_models)
    common = ("--limit", "30", "--batch-size", "8")
    jobs = Jobs(root, tmp, {}, [])
    with slurm_env(jobs) as env:
        ids = jobs.ids
        env.setenv("CLAIMTRACK_SLURM_TIMEOUT_MIN", "1")  # Slurm's least
        ids["timeout"] = _submit(
            root, "--model", str(slow), "--trust-remote-code", "--limit", "30", "--batch-size", "1"
        )
        env.setenv("CLAIMTRACK_SLURM_TIMEOUT_MIN", "10")
        ids["cancel"] = _submit(
            root, "--model", base, "--model", str(halting), "--trust-remote-code", "--limit", "30", "--batch-size", "1"
        )
        ids["array"] = _submit(root, "--model", base, "--model", tuned, "--model", str(third), *common)
        ids["crash"] = _submit(root, "--model", str(broken), *common)
        env.setenv("CLAIMTRACK_SLURM_ARRAY_PARALLELISM", "1")  # the second task waits in the queue for the first
        ids["queued"] = _submit(
            root, "--model", str(stuck), "--model", tuned, "--trust-remote-code", "--limit", "30", "--batch-size", "1"
        )
    return jobs


def test_a_cancelled_task_fails_its_job_and_a_retry_reruns_that_model_from_its_cache(jobs: Jobs) -> None:
    array = job_rows(jobs.root)[jobs.ids["cancel"]]["external_id"].partition(":")[2]
    work = jobs.root / ".claimtrack" / "replication" / "work" / jobs.ids["cancel"] / "model-1"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and _cached_answers(work) < 3:  # the slow model's task has made progress
        time.sleep(0.5)
    subprocess.run(["scancel", f"{array}_1"], check=True, timeout=30)
    row = wait_for(jobs, "cancel", {"failed", "done"})
    assert row["state"] == "failed" and row["reason"] == "CANCELLED", row
    assert "model 2 of 2" in row["error"] and "cancelled" in row["error"] and "model 1 of 2" not in row["error"]
    assert row["retry"] == f"claimtrack replicate --retry {jobs.ids['cancel']}"
    done_before = _cached_answers(work)
    (jobs.tmp / "hold-cancel").unlink()  # the slow model is fast from now on
    with slurm_env(jobs):
        again = replicate(jobs, "--retry", jobs.ids["cancel"], "--json")
    assert again.exit_code == 0, again.stderr
    [outcome] = json.loads(again.stdout)
    assert outcome["state"] == "submitted" and "(1 of 2)" in outcome["note"]  # the base model's task is kept
    row = wait_for(jobs, "cancel", {"failed", "done"})
    assert row["state"] == "done", row
    assert row["external_id"].startswith(f"slurm:{array},")  # the first array's task 0, then the new task
    result = json.loads((jobs.root / ".claimtrack" / "replication" / f"{jobs.ids['cancel']}.json").read_text())
    halting = result["models"][1]
    assert halting["cache_hits"] == done_before >= 3 and halting["requests"] == 120  # the rest was computed
    assert row["cache_hits"] == result["cache_hits"] == done_before
    claim = (jobs.root / "claims" / f"{CLAIM}.yaml").read_text()
    assert claim.count(f"source: {jobs.ids['cancel']}") == 1  # a verdict, now that both models are in


def test_a_job_cancelled_in_the_queue_fails_with_slurms_reason(jobs: Jobs) -> None:
    array = job_rows(jobs.root)[jobs.ids["queued"]]["external_id"].partition(":")[2]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and _slurm_state(f"{array}_0") != "RUNNING":
        time.sleep(0.3)
    queued = job_rows(jobs.root)[jobs.ids["queued"]]
    assert queued["state"] == "running", queued
    assert queued["tasks"] == {f"slurm:{array}_0": "running", f"slurm:{array}_1": "pending"}  # one at a time
    subprocess.run(["scancel", array], check=True, timeout=30)
    row = wait_for(jobs, "queued", {"failed", "done"}, seconds=60)
    assert row["state"] == "failed" and row["reason"] == "CANCELLED", row
    assert "model 1 of 2" in row["error"] and "model 2 of 2" in row["error"]


def test_a_timed_out_job_fails_with_slurms_reason(jobs: Jobs) -> None:
    row = wait_for(jobs, "timeout", {"failed", "done"}, seconds=180)
    assert row["state"] == "failed" and row["reason"] == "TIMEOUT", row
    assert "time limit" in row["error"] and row["retry"]


def test_a_job_whose_python_raises_fails_with_its_error(jobs: Jobs) -> None:
    row = wait_for(jobs, "crash", {"failed", "done"})
    assert row["state"] == "failed" and row["reason"] == "error", row
    assert "lm-eval on" in row["error"] and "broken failed" in row["error"]


def test_three_models_run_as_one_array_and_give_one_verdict(jobs: Jobs) -> None:
    row = wait_for(jobs, "array", {"failed", "done"})
    assert row["state"] == "done", row
    array = row["external_id"].partition(":")[2]
    with contextlib.closing(sqlite3.connect(jobs.root / ".claimtrack" / "ledger.sqlite")) as ledger:
        [(tasks,)] = ledger.execute("SELECT tasks_json FROM replication_jobs WHERE id = ?", (jobs.ids["array"],))
    assert json.loads(tasks) == [f"slurm:{array}_{i}" for i in range(3)]  # one Slurm job, a task per model
    sbatch = (jobs.root / ".claimtrack" / "replication" / "submitit" / f"{array}_submission.sh").read_text()
    assert "#SBATCH --array=0-2%3" in sbatch  # all three at once: CLAIMTRACK_SLURM_ARRAY_PARALLELISM is 8
    result = json.loads((jobs.root / ".claimtrack" / "replication" / f"{jobs.ids['array']}.json").read_text())
    assert [m["role"] for m in result["models"]] == ["model-1", "model-2", "model-3"]
    assert all(m["metric"] is not None for m in result["models"]) and result["verdict"] is not None
    claim = (jobs.root / "claims" / f"{CLAIM}.yaml").read_text()
    assert claim.count(f"source: {jobs.ids['array']}") == 1


def test_a_held_job_is_listed_with_why_it_waits(jobs: Jobs, tiny_models: tuple[Path, Path]) -> None:
    """Submitted on hold from the start (holding it after submission would race the scheduler, and this
    sbatch has no environment variable for --hold): the real sbatch, reached through a wrapper that adds it."""
    wrapper = jobs.tmp / "held-sbatch" / "sbatch"
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\nexec {shutil.which("sbatch")} --hold "$@"\n')
    wrapper.chmod(0o755)
    with slurm_env(jobs) as env:
        env.setenv("PATH", f"{wrapper.parent}{os.pathsep}{os.environ['PATH']}")
        jobs.ids["held"] = _submit(jobs.root, "--model", str(tiny_models[0]), "--limit", "5", "--batch-size", "8")
    task = job_rows(jobs.root)[jobs.ids["held"]]["external_id"]  # one model: one plain job, not an array
    array = task.partition(":")[2]
    try:
        text = replicate(jobs, "--jobs")
        assert text.exit_code == 0, text.stderr
        row = job_rows(jobs.root)[jobs.ids["held"]]
    finally:
        subprocess.run(["scancel", array], check=True, timeout=30)  # nothing is left in the queue
    assert row["state"] == "pending" and row["tasks"] == {task: "pending"}, row
    [(where, why)] = row["waiting"].items()
    assert where == task and why["reason"] in ("JobHeldUser", "JobHeldAdmin"), row  # root's hold is an admin's
    assert "held by" in why["meaning"]
    block = text.stdout.split(jobs.ids["held"], 1)[1].split("\nrep-", 1)[0]  # this job's lines
    assert f"tasks: {task} pending ({why['reason']})" in block
    assert f"    {why['reason']}: {why['meaning']}" in block
    others = [r for i, r in job_rows(jobs.root).items() if i != jobs.ids["held"]]
    assert all(not r["waiting"] for r in others if r["state"] in ("done", "failed"))
    gone = wait_for(jobs, "held", {"failed", "done"}, seconds=60)
    assert gone["state"] == "failed" and gone["waiting"] == {}, gone


def test_every_job_is_listed_and_submitit_stays_off_the_terminal(jobs: Jobs) -> None:
    listed = job_rows(jobs.root)
    assert {listed[i]["state"] for i in jobs.ids.values()} <= {"done", "failed"}
    assert set(jobs.ids.values()) <= set(listed)
    for row in listed.values():
        assert row["executor"] == "slurm" and row["submitted_at"] and row["claim_id"] == CLAIM
        assert (row["retry"] is None) == (row["state"] == "done")
    assert not any("submitit" in text for text in jobs.stderr)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cli = [sys.executable, "-m", "claimtrack", "--workspace", str(jobs.root), "replicate"]
    for args in (["--collect"], ["--jobs", "--json"]):
        run = subprocess.run([*cli, *args], capture_output=True, text=True, env=env, timeout=120)
        assert run.returncode == 0 and "submitit" not in run.stderr, run.stderr
