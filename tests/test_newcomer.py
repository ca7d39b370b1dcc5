"""A newcomer's first hour (issue 21), each step through the CLI: a run that cannot reach its sources says what
to do, global options may follow the command, and the other scenarios the issue lists."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import claims_workspace, invoke

CLAIM = "it-output-format-not-task"
NOWHERE = "http://127.0.0.1:9"  # nothing listens on port 9: connection refused at once


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    return claims_workspace(tmp_path / "ws", CLAIM)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every literature source refuses connections, as on a machine without network."""
    monkeypatch.setenv("CLAIMTRACK_ARXIV_URL", f"{NOWHERE}/api/query")
    monkeypatch.setenv("CLAIMTRACK_S2_URL", f"{NOWHERE}/graph/v1")
    monkeypatch.setenv("CLAIMTRACK_OPENALEX_URL", NOWHERE)
    monkeypatch.setenv("CLAIMTRACK_HTTP_BACKOFF_S", "0.01")


def test_a_run_that_cannot_reach_its_sources_ends_with_what_to_do(ws: Path, no_network: None) -> None:
    result = invoke("-w", str(ws), "run", "--due", "--no-replicate")
    assert result.exit_code == 3  # no claim could be checked (README's exit codes)
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("what to do: `claimtrack doctor`")
    assert "`claimtrack run --due --offline`" in last and "claimtrack papers import FILE" in last
    assert "HTTPS_PROXY" in last
    as_json = json.loads(invoke("-w", str(ws), "run", "--due", "--no-replicate", "--json").stdout)
    assert as_json["what_to_do"] == last
    offline = invoke("-w", str(ws), "run", "--due", "--offline", "--no-replicate")
    assert offline.exit_code == 0 and "what to do" not in offline.stdout  # the advice works, and is not repeated


def test_a_run_without_network_asks_the_host_once_and_reports_every_claim(tmp_path: Path, no_network: None) -> None:
    """Claims checked side by side queue on arXiv's pace (one request at a time, 3 s apart); each used to try
    1 + retries times, each try waiting its turn, so a run over the library without network took two minutes.
    Now the first refused connection marks the host down: one claim says "connection failed", every other
    failure says the host was unreachable earlier in this run, and no claim is left unreported."""
    claims = [
        CLAIM,
        "binary-reward-hurts-calibration",
        "cot-is-constrained-imitation",
        "dpo-small-models-function-calling",
    ]
    ws = claims_workspace(tmp_path / "ws", *claims)
    result = invoke("-w", str(ws), "run", "--due", "--no-replicate", "--json")
    assert result.exit_code == 3, result.stderr
    summary = json.loads(result.stdout)
    assert summary["totals"]["failed"] == summary["totals"]["unchecked"] == len(claims)
    groups = summary["failures_by_source"]
    tried = [g for g in groups if "unreachable earlier in this run" not in g["cause"]]
    assert len(tried) == 1 and len(tried[0]["claims"]) == 1, groups  # one connection attempt in the whole run
    assert tried[0]["cause"].startswith("connection failed: ") and "tries" not in tried[0]["cause"]
    for source in ("arxiv", "semanticscholar", "openalex"):  # every source of every claim is reported failed
        hit = {c for g in groups if g["source"] == source for c in g["claims"]}
        assert hit == set(claims), (source, groups)


def test_discover_that_cannot_reach_its_sources_says_the_same(ws: Path, no_network: None) -> None:
    result = invoke("-w", str(ws), "discover", CLAIM)
    assert result.exit_code == 3
    advice = [line for line in result.stderr.splitlines() if line.startswith("what to do:")]
    assert len(advice) == 1 and f"`claimtrack discover {CLAIM} --offline`" in advice[0]
    assert "claimtrack doctor" in advice[0]


def test_global_options_may_follow_the_command(ws: Path) -> None:
    status = invoke("status", "-w", str(ws))
    assert status.exit_code == 0 and CLAIM in status.stdout
    assert invoke("status", "--workspace", str(ws), "--json").exit_code == 0
    quiet = invoke("run", "--due", "-q", "--offline", "--no-replicate", "-w", str(ws))
    assert quiet.exit_code == 0, quiet.stderr
    assert quiet.stderr == ""  # -q after the command hides the progress lines, as before it
    loud = invoke("-w", str(ws), "run", "--due", "--offline", "--no-replicate")
    assert "[1/1]" in loud.stderr
    assert invoke("-w", str(ws), "status", "-vv").exit_code == 0
    assert logging.getLogger("claimtrack").level == logging.DEBUG  # counted after the command as before it
    assert invoke("-v", "-w", str(ws), "status", "-v").exit_code == 0
    assert logging.getLogger("claimtrack").level == logging.DEBUG  # -v before and -v after make -vv
    nested = invoke("papers", "search", "format", "-w", str(ws), "-q")
    assert "no papers stored yet" in nested.stderr  # a sub-command of a group takes them too


REPLICATED = "binary-reward-hurts-calibration"


def test_a_one_model_replication_is_recorded_on_the_claim_and_shown_everywhere(
    repo_workspace: Path, tiny_models: tuple[Path, Path]
) -> None:
    ws = str(repo_workspace)
    result = invoke("-w", ws, "replicate", REPLICATED, "--model", str(tiny_models[0]), "--limit", "40")
    assert result.exit_code == 0, result.stderr
    assert "one model only" in result.stdout
    # lm-eval's progress came through claimtrack's logging as this command's progress lines, and no tqdm bar
    assert "info: lm-eval on " in result.stderr and "Running loglikelihood requests (" in result.stderr
    assert "it/s]" not in result.stderr and "s/it]" not in result.stderr and "%|" not in result.stderr
    assert all(line.startswith("info: lm-eval on ") for line in result.stderr.splitlines())  # one line each
    quiet = invoke("-w", ws, "replicate", REPLICATED, "--model", str(tiny_models[0]), "--limit", "10", "-q")
    assert quiet.exit_code == 0 and quiet.stderr == ""  # -q: not a bar, not a note lm-eval printed

    shown = json.loads(invoke("-w", ws, "show", REPLICATED, "--json").stdout)
    assert shown["status"] == "untested" and not shown["evidence"]  # one model decides nothing
    first, second = shown["replications"]
    assert first["spec"] == "calibration" and first["task"] and first["metric"] == "ece"
    assert first["n"] == 40 and second["n"] == 10 and first["job"] != second["job"]
    assert len(first["models"]) == 1 and first["models"][0]["role"] == "model-1"
    value = first["value"]
    assert value == first["models"][0]["value"] and first["interval"][0] <= value <= first["interval"][1]
    assert first["stance"] is None and first["evidence"] is None and first["at"]
    figure = f"ece {value:.3f} [{first['interval'][0]:.3f}, {first['interval'][1]:.3f}], n=40"

    text = invoke("-w", ws, "show", REPLICATED).stdout
    assert "Replications (2):" in text and f"job {first['job']}" in text and figure in text
    assert "one model: no verdict" in text
    row = next(r for r in json.loads(invoke("-w", ws, "status", "--json").stdout) if r["id"] == REPLICATED)
    assert row["replications"] == 2 and row["last_replication"]["job"] == second["job"]
    table = invoke("-w", ws, "status").stdout
    assert "REPLICATED" in table.splitlines()[0]
    assert any(line.startswith(REPLICATED) and "ece " in line and "n=10" in line for line in table.splitlines())
    for fmt in ("md", "html", "json"):
        report = invoke("-w", ws, "report", "status", "--format", fmt).stdout
        assert first["job"] in report and figure in report, fmt
    data = json.loads(invoke("-w", ws, "report", "status", "--format", "json").stdout)
    assert data["totals"]["replications"] == 2
    prompt = invoke("-w", ws, "report", "prompt", "--line", "confounds-surface-vs-cause").stdout
    assert f"`{REPLICATED}`:" in prompt and figure in prompt and "(lm-eval probe)" in prompt
    # the same job again is recorded once
    again = invoke("-w", ws, "replicate", REPLICATED, "--model", str(tiny_models[0]), "--limit", "40")
    assert again.exit_code == 0
    assert len(json.loads(invoke("-w", ws, "show", REPLICATED, "--json").stdout)["replications"]) == 2
    assert invoke("-w", ws, "validate").exit_code == 0


def _cron_command(root: Path, home: Path) -> tuple[str, dict[str, str]]:
    """The crontab line `schedule cron` prints, less its five time fields, and cron's bare environment."""
    printed = invoke("-w", str(root), "schedule", "cron")
    assert printed.exit_code == 0
    [line] = [ln for ln in printed.stdout.splitlines() if ln and not ln.startswith("#")]
    command = line.split(None, 5)[5]
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin", "PYTHONPATH": os.environ["PYTHONPATH"], "LANG": "C.UTF-8"}
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        env[name] = "1"
    return command, env


def test_the_printed_cron_line_runs_without_an_env_file_and_logs_every_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"  # no ~/.config/claimtrack/env: no LLM key, so no reason to have made one
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    root = tmp_path / "ws"
    assert invoke("init", str(root)).exit_code == 0
    command, env = _cron_command(root, home)
    ran = subprocess.run(["sh", "-c", command], env=env, capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0 and ran.stdout == "" and ran.stderr == ""  # nothing left for cron's mail
    log = (root / ".claimtrack" / "cron.log").read_text()
    assert "claims checked, 0 failed" in log
    shutil.rmtree(root / "claims")  # a run that cannot start: its error lands in the same log
    ran = subprocess.run(["sh", "-c", command], env=env, capture_output=True, text=True, timeout=300)
    assert ran.returncode == 2 and ran.stderr == ""
    assert "error: " in (root / ".claimtrack" / "cron.log").read_text().split(log, 1)[1]


def test_schedule_warns_of_what_the_schedule_would_lack(
    ws: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-shell-only-0123456789")
    result = invoke("-w", str(ws), "schedule", "cron")
    assert result.exit_code == 0 and "sk-shell-only" not in result.stdout + result.stderr
    [warning] = result.stderr.splitlines()
    assert warning.startswith(f"warning: no {home}/.config/claimtrack/env: the schedule runs without it")
    assert "OPENAI_API_KEY is set in this shell only" in warning
    env_file = home / ".config" / "claimtrack" / "env"
    env_file.parent.mkdir(parents=True)
    env_file.write_text("OPENAI_BASE_URL=http://127.0.0.1:9/v1\n")
    env_file.chmod(0o644)
    warnings = invoke("-w", str(ws), "schedule", "systemd").stderr.splitlines()
    assert any("can be read by others: chmod 600" in w for w in warnings)
    assert any("the local endpoint http://127.0.0.1:9/v1 does not answer now" in w for w in warnings)
    env_file.chmod(0o600)
    env_file.write_text("OPENAI_API_KEY=sk-file-0123456789\n")
    assert invoke("-w", str(ws), "schedule", "cron").stderr == ""  # all in place: nothing to say
    assert invoke("-w", str(ws), "-q", "schedule", "github").stderr == ""


def test_reports_show_runs_that_failed_on_every_claim(ws: Path, no_network: None) -> None:
    quiet = invoke("-w", str(ws), "report", "status", "--format", "md").stdout
    assert "No run is recorded in this workspace's ledger yet" in quiet
    for _ in range(3):
        assert invoke("-w", str(ws), "run", "--due", "--no-replicate").exit_code == 3  # nothing could be checked
    warning = "The last 3 runs checked no claim (every claim failed, or the run did not finish)"
    html = invoke("-w", str(ws), "report", "status", "--format", "html").stdout
    assert warning in html and "No status change is recorded yet." in html  # ...but no longer alone
    assert html.count('<tr data-run="run-') == 3 and "Connection refused" in html
    md = invoke("-w", str(ws), "report", "status").stdout
    assert warning in md and md.index("## Recent runs") < md.index("## Changed since")
    row = next(line for line in md.splitlines() if line.startswith("| `run-"))
    assert "| failed | 1 | 1 | 0 | arxiv: " in row and "Connection refused" in row and "(1 claim)" in row
    data = json.loads(invoke("-w", str(ws), "report", "status", "--format", "json").stdout)
    last = data["runs"]["recent"][0]
    assert data["runs"]["warning"].startswith(warning) and len(data["runs"]["recent"]) == 3
    assert last["outcome"] == "failed" and last["claims"] == 1 and last["failed"] == 1 and last["finished_at"]
    assert {s["source"] for s in last["failed_sources"]} >= {"arxiv", "semanticscholar", "openalex"}
    offline = invoke("-w", str(ws), "run", "--due", "--offline", "--no-replicate")
    assert offline.exit_code == 0
    after = json.loads(invoke("-w", str(ws), "report", "status", "--format", "json").stdout)["runs"]
    assert after["warning"] is None and after["recent"][0]["offline"] is True  # a run that checked: no warning


def test_the_research_prompt_holds_together_when_nothing_was_found(repo_workspace: Path) -> None:
    prompt = invoke("-w", str(repo_workspace), "report", "prompt", "--line", "confounds-surface-vs-cause").stdout
    assert "Nothing yet: no evidence has been judged" in prompt
    assert "listed above" not in prompt and "The tracker has found none yet, so start from the anchor papers" in prompt


def _snapshot_lines() -> bytes:
    from test_discovery_snapshot import good_lines

    return ("\n".join(good_lines()) + "\n").encode()


def test_papers_import_reads_the_snapshot_as_downloaded(tmp_path: Path, empty_workspace: Path) -> None:
    import gzip
    import zipfile

    kaggle = tmp_path / "archive.zip"  # Kaggle's download: a zip holding arxiv-metadata-oai-snapshot.json
    with zipfile.ZipFile(kaggle, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("arxiv-metadata-oai-snapshot.json", _snapshot_lines())
    result = invoke("-w", str(empty_workspace), "papers", "import", str(kaggle), "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["new"] == 3
    assert "importing: read 0 of 0 MB" in result.stderr  # the progress line (plain, off a terminal)
    gzipped = tmp_path / "arxiv-metadata-oai-snapshot.json"  # gzipped, though its name does not say so
    gzipped.write_bytes(gzip.compress(_snapshot_lines()))
    again = invoke("-w", str(empty_workspace), "papers", "import", str(gzipped), "-q")
    assert again.exit_code == 0 and again.stderr == "" and "3 unchanged" in again.stdout
    two = tmp_path / "two.zip"
    with zipfile.ZipFile(two, "w") as archive:
        archive.writestr("a.json", _snapshot_lines())
        archive.writestr("b.json", _snapshot_lines())
    refused = invoke("-w", str(empty_workspace), "papers", "import", str(two))
    assert refused.exit_code == 2
    assert refused.stderr.strip().splitlines()[-1] == (
        f"error: {two}: archive: holds a.json, b.json; expected one JSON-lines file"
    )
