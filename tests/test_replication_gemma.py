"""The real open model, offline: Gemma 3 270M from its PyPI package, converted once, run by default."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import yaml

from claimtrack.replication.models import GEMMA_ID
from tests.conftest import invoke


@pytest.mark.slow
def test_gemma_is_the_offline_default_and_gives_real_numbers(repo_workspace: Path) -> None:
    claim = "binary-reward-hurts-calibration"
    before = yaml.safe_load((repo_workspace / "claims" / f"{claim}.yaml").read_text())
    result = invoke(
        "--workspace", str(repo_workspace), "replicate", claim, "--limit", "6", "--batch-size", "8", "--json"
    )
    assert result.exit_code == 0, result.stderr
    [outcome] = json.loads(result.stdout)
    assert outcome["state"] == "done" and outcome["evidence"] is None  # one model: no verdict
    metrics = outcome["metrics"]
    assert 0.0 <= metrics["ece_gemma-3-270m-base"] <= 1.0
    assert 0.0 <= metrics["acc_mc_gemma-3-270m-base"] <= 1.0 and metrics["acc_mc_gemma-3-270m-base_stderr"] > 0

    converted = repo_workspace / ".claimtrack" / "models" / GEMMA_ID
    assert (converted / "config.json").is_file() and (converted / "tokenizer.json").is_file()
    assert "quantization_config" not in json.loads((converted / "config.json").read_text())
    conn = sqlite3.connect(repo_workspace / ".claimtrack" / "ledger.sqlite")
    [(path,)] = conn.execute("SELECT result_path FROM replication_jobs WHERE state='done'").fetchall()
    conn.close()
    stored = json.loads(Path(path).read_text())
    assert stored["models"][0]["name"] == GEMMA_ID
    assert stored["models"][0]["meta"]["model_num_parameters"] > 200_000_000  # the real 270M model
    # The claim gains the job's record and nothing else: one model measures, it decides no status.
    after = yaml.safe_load((repo_workspace / "claims" / f"{claim}.yaml").read_text())
    [record] = after.pop("replications")
    assert after == before
    assert record["metric"] == "ece" and record.get("stance") is None and record.get("evidence") is None
    assert record["n"] == 6 and record["value"] == pytest.approx(metrics["ece_gemma-3-270m-base"])
