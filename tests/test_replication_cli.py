"""`claimtrack replicate` end to end on tiny real models: evidence, cache, refusals, failures, Slurm."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import NoReturn

import pytest
from typer.testing import Result

from claimtrack.replication import api
from claimtrack.workspace import Workspace
from tests.conftest import invoke

CLAIM = "binary-reward-hurts-calibration"


def jobs(root: Path) -> list[dict]:
    conn = sqlite3.connect(root / ".claimtrack" / "ledger.sqlite")
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM replication_jobs ORDER BY created_at")]
    finally:
        conn.close()


def replicate(root: Path, *args: str) -> Result:
    return invoke("--workspace", str(root), "replicate", *args)


def test_replicate_writes_one_evidence_item_and_caches(
    repo_workspace: Path,
    tiny_models: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base, tuned = tiny_models
    args = (
        CLAIM,
        "--model",
        str(base),
        "--model",
        str(tuned),
        "--limit",
        "40",
        "--json",
    )  # batch size auto: lm-eval prints
    first = replicate(repo_workspace, *args)
    assert first.exit_code == 0, first.stderr
    [outcome] = json.loads(first.stdout)
    assert outcome["state"] == "done" and not outcome["cached"] and outcome["error"] is None
    evidence = outcome["evidence"]
    assert evidence["kind"] == "replication" and evidence["judged_by"] == "rule:calibration"
    assert evidence["source"] == outcome["job_id"]
    assert set(evidence["numbers"]) >= {"effect", "stderr", "ece_base", "ece_rl-tuned"}
    assert evidence["numbers"]["effect"] == pytest.approx(
        evidence["numbers"]["ece_rl-tuned"] - evidence["numbers"]["ece_base"]
    )
    assert f"{evidence['numbers']['effect']:+.3f}" in evidence["rationale"]
    assert "lm-eval 0.4.13" in evidence["rationale"] and "scope_note" not in evidence  # run metadata is no scope
    assert evidence["stance"] in ("supports", "relaxes", "contradicts", "unrelated")

    claim_file = repo_workspace / "claims" / f"{CLAIM}.yaml"
    written = claim_file.read_text()
    assert written.count("kind: replication") == 1
    [job] = jobs(repo_workspace)
    assert job["state"] == "done" and job["lm_eval_calls"] == 2  # one simple_evaluate per model
    result = json.loads(Path(job["result_path"]).read_text())
    assert result["inputs"]["lm_eval_version"] == "0.4.13" and len(result["inputs"]["task_sha256"]) == 64
    assert result["limit"] == 40 and result["seed"] == 1234
    assert result["models"][0]["lm_eval"]["mc"]["acc_stderr,none"] > 0
    assert result["models"][0]["meta"]["data_sha256"]

    # Same job again: lm-eval must not run (it would raise), the ledger counts no new call,
    # and the claim keeps exactly one evidence item.
    import lm_eval

    def refuse(*_a: object, **_k: object) -> NoReturn:
        raise AssertionError("lm-eval ran for a cached job")

    monkeypatch.setattr(lm_eval, "simple_evaluate", refuse)
    second = replicate(repo_workspace, *args)
    assert second.exit_code == 0, second.stderr
    assert json.loads(second.stdout)[0]["cached"] is True
    assert jobs(repo_workspace)[0]["lm_eval_calls"] == 2
    assert claim_file.read_text() == written

    # A different limit is a different job.
    third = replicate(repo_workspace, CLAIM, "--model", str(base), "--model", str(tuned), "--limit", "41")
    assert third.exit_code == 1 and "lm-eval ran for a cached job" in third.stderr
    assert len(jobs(repo_workspace)) == 2 and claim_file.read_text() == written


def test_single_model_records_metrics_without_a_verdict(repo_workspace: Path, tiny_models: tuple[Path, Path]) -> None:
    ws = Workspace.at(repo_workspace)
    outcome = api.replicate(ws, "it-output-format-not-task", models=[str(tiny_models[0])], limit=5, batch_size="8")
    assert outcome.error is None and outcome.evidence is None and "one model" in (outcome.note or "")
    assert {"condition_gap_model-1", "acc_real_model-1", "acc_misleading_model-1"} <= set(outcome.metrics)
    assert "kind: replication" not in (repo_workspace / "claims" / "it-output-format-not-task.yaml").read_text()


def test_remote_code_model_is_refused_without_the_flag(
    repo_workspace: Path, tiny_models: tuple[Path, Path], tmp_path: Path
) -> None:
    import shutil

    custom = tmp_path / "custom"
    shutil.copytree(tiny_models[0], custom)
    config = json.loads((custom / "config.json").read_text())
    config["auto_map"] = {"AutoModelForCausalLM": "modeling_custom.CustomModel"}
    (custom / "config.json").write_text(json.dumps(config))
    result = replicate(repo_workspace, CLAIM, "--model", str(custom), "--limit", "3")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "--trust-remote-code" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("model_args", "extra", "message"),
    [
        (["nosuch-org/nosuch-model"], [], "lm-eval on nosuch-org/nosuch-model failed"),
        (["BROKEN"], [], "failed"),
        (["BASE"], ["--device", "cuda"], "no CUDA GPU is visible"),
    ],
)
def test_failures_leave_a_failed_job_and_the_claim_untouched(
    repo_workspace: Path,
    tiny_models: tuple[Path, Path],
    tmp_path: Path,
    model_args: list[str],
    extra: list[str],
    message: str,
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text('{"model_type": "gpt2", "n_embd": 8}')  # no weights, no tokenizer
    names = {"BROKEN": str(broken), "BASE": str(tiny_models[0])}
    claim_file = repo_workspace / "claims" / f"{CLAIM}.yaml"
    before = claim_file.read_text()
    args = [a for m in model_args for a in ("--model", names.get(m, m))]
    result = replicate(repo_workspace, CLAIM, *args, "--limit", "3", *extra)
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: replication: ") and message in lines[-1]
    assert "Traceback" not in result.stderr
    [job] = jobs(repo_workspace)
    assert job["state"] == "failed" and message in job["error"]
    assert claim_file.read_text() == before


def test_bad_arguments_are_one_line_errors(repo_workspace: Path) -> None:
    for args, needle in (
        (["no-such-claim"], "unknown claim id"),
        ([CLAIM, "--executor", "kubernetes"], "--executor"),
        ([CLAIM, "--device", "tpu"], "--device"),
        ([CLAIM, "--limit", "0"], "--limit"),
        ([], "CLAIM_ID"),
    ):
        result = replicate(repo_workspace, *args)
        assert result.exit_code == 2, (args, result.stderr)
        assert needle in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_claim_without_a_spec_is_refused(repo_workspace: Path) -> None:
    result = replicate(repo_workspace, _unlinked(repo_workspace))
    assert result.exit_code == 2 and "no replication spec" in result.stderr


def _unlinked(root: Path) -> str:
    return next(p.stem for p in sorted((root / "claims").glob("*.yaml")) if "replication:" not in p.read_text())


def test_slurm_submission_parameters(repo_workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sbatch file submitit would submit, from our settings (an `srun` on PATH lets submitit build it here)."""
    from claimtrack.config import load_settings
    from claimtrack.replication import slurm

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{__import__('os').environ['PATH']}")
    monkeypatch.setenv("CLAIMTRACK_SLURM_PARTITION", "gpu")
    monkeypatch.setenv("CLAIMTRACK_SLURM_TIMEOUT_MIN", "45")
    ex = slurm.executor(Workspace.at(repo_workspace), "cuda", load_settings())
    text = ex._executor._make_submission_file_text("python -m job", "uid")
    for line in (
        "#SBATCH --partition=gpu",
        "#SBATCH --gpus-per-node=1",
        "#SBATCH --time=45",
        "#SBATCH --mem=32GB",
        "#SBATCH --cpus-per-task=8",
        "#SBATCH --job-name=claimtrack-replication",
    ):
        assert line in text
    assert ex._executor._make_submission_file_text("python -m job", "uid").count("#SBATCH --signal=USR2@90") == 1
    cpu = slurm.parameters(load_settings(), "cpu")
    assert cpu["gpus_per_node"] == 0 and cpu["slurm_array_parallelism"] == 8
    monkeypatch.setenv("CLAIMTRACK_SLURM_TIMEOUT_MIN", "1")  # the warning signal must not come at once
    monkeypatch.setenv("CLAIMTRACK_SLURM_ARRAY_PARALLELISM", "2")
    short = slurm.parameters(load_settings(), "cpu")
    assert short["slurm_signal_delay_s"] == 15 and short["slurm_array_parallelism"] == 2


def test_slurm_without_slurm_is_a_failed_job(
    repo_workspace: Path, tiny_models: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no srun (not even where scripts/slurm-up.sh installs Slurm)
    result = replicate(
        repo_workspace, CLAIM, "--model", str(tiny_models[0]), "--model", str(tiny_models[1]), "--executor", "slurm"
    )
    assert result.exit_code == 1 and "srun" in result.stderr
    assert jobs(repo_workspace)[0]["state"] == "failed"


def test_slurm_path_through_submitit_local_executor(
    repo_workspace: Path,
    tiny_models: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLAIMTRACK_SLURM_CLUSTER", "local")
    base, tuned = tiny_models
    args = (
        CLAIM,
        "--model",
        str(base),
        "--model",
        str(tuned),
        "--limit",
        "30",
        "--batch-size",
        "8",
        "--executor",
        "slurm",
    )
    submitted = replicate(repo_workspace, *args)
    assert submitted.exit_code == 0, submitted.stderr
    assert "submitted" in submitted.stdout
    [job] = jobs(repo_workspace)
    assert job["state"] == "submitted" and job["external_id"].startswith("local:")
    claim_file = repo_workspace / "claims" / f"{CLAIM}.yaml"
    assert "kind: replication" not in claim_file.read_text()  # nothing until collected
    waiting = f"{CLAIM}: replication pending: job {job['id']} ({job['external_id']})"
    assert waiting in invoke("--workspace", str(repo_workspace), "status").stdout
    assert waiting.partition(": ")[2] in invoke("--workspace", str(repo_workspace), "show", CLAIM).stdout
    [row] = [
        r for r in json.loads(invoke("--workspace", str(repo_workspace), "status", "--json").stdout) if r["id"] == CLAIM
    ]
    assert row["replication_job"] == {
        "job_id": job["id"],
        "state": "pending",
        "external_id": job["external_id"],
        "reason": None,
    }

    again = replicate(repo_workspace, *args)
    assert "submitted" in again.stdout and len(jobs(repo_workspace)) == 1

    deadline = time.monotonic() + 240
    collected = []
    while time.monotonic() < deadline:
        result = replicate(repo_workspace, "--collect", "--json")
        assert result.exit_code == 0, result.stderr
        collected = json.loads(result.stdout)
        if collected:
            break
        time.sleep(1.0)
    assert collected and collected[0]["state"] == "done" and collected[0]["evidence"]["judged_by"] == "rule:calibration"
    assert jobs(repo_workspace)[0]["state"] == "done"
    assert claim_file.read_text().count("kind: replication") == 1
    assert json.loads(replicate(repo_workspace, "--collect", "--json").stdout) == []
    assert "replication pending" not in invoke("--workspace", str(repo_workspace), "status").stdout
    [listed] = json.loads(replicate(repo_workspace, "--jobs", "--json").stdout)
    assert listed["state"] == "done" and listed["retry"] is None and len(listed["models"]) == 2


def test_a_failed_job_is_listed_shown_counted_and_retried(
    repo_workspace: Path, tiny_models: tuple[Path, Path], tmp_path: Path
) -> None:
    import shutil

    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text((tiny_models[0] / "config.json").read_text())  # no weights yet
    failed = replicate(repo_workspace, CLAIM, "--model", str(folder), "--limit", "5", "--batch-size", "8")
    assert failed.exit_code == 1
    [job] = jobs(repo_workspace)
    assert job["state"] == "failed" and job["reason"] == "error"

    ws = str(repo_workspace)
    assert f"{CLAIM}: replication failed: job {job['id']} (error)" in invoke("--workspace", ws, "status").stdout
    report = json.loads(invoke("--workspace", ws, "report", "status", "--format", "json").stdout)
    assert report["claims"][CLAIM]["replication_job"]["job_id"] == job["id"]
    markdown = invoke("--workspace", ws, "report", "status").stdout
    assert f"- replication failed: job {job['id']} (error)" in markdown
    run = invoke("--workspace", ws, "run", "it-output-format-not-task", "--offline", "--no-judge", "--json")
    assert run.exit_code == 0, run.stderr
    assert json.loads(run.stdout)["replication_jobs"] == {"pending": 0, "failed": 1}

    [listed] = json.loads(replicate(repo_workspace, "--jobs", "--json").stdout)
    assert listed["state"] == "failed" and listed["retry"] == f"claimtrack replicate --retry {job['id']}"
    assert listed["models"] == [str(folder)] and listed["executor"] == "local" and "failed" in listed["error"]
    text = replicate(repo_workspace, "--jobs").stdout
    assert f"retry: claimtrack replicate --retry {job['id']}" in text

    for args, needle in (
        (["--retry", "rep-nosuch"], "no replication job 'rep-nosuch'"),
        (["--retry", job["id"], "--collect"], "cannot be combined"),
        ([CLAIM, "--jobs"], "takes no claim id"),
    ):
        refused = replicate(repo_workspace, *args)
        assert refused.exit_code == 2 and needle in refused.stderr and len(refused.stderr.strip().splitlines()) == 1

    for file in tiny_models[0].iterdir():
        shutil.copy(file, folder / file.name)  # the missing weights and tokenizer arrive
    retried = replicate(repo_workspace, "--retry", job["id"], "--json")
    assert retried.exit_code == 0, retried.stderr
    assert json.loads(retried.stdout)[0]["state"] == "done" and jobs(repo_workspace)[0]["state"] == "done"
    assert "replication failed" not in invoke("--workspace", ws, "status").stdout
    again = replicate(repo_workspace, "--retry", job["id"])
    assert again.exit_code == 2 and "only a failed job is retried" in again.stderr
