"""schedule, doctor and bench judge through the CLI (loopback servers only)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from agent_helpers import judgement, role_of
from conftest import FIXTURES, invoke
from loopback import ArxivAPI, ArxivFullText, ChatReply, Loopback, OpenAIChat, OpenAIServer, OpenAlex, user_text

SECRET = "sk-test-never-print-me-0123456789"


def test_schedule_outputs_are_ready_and_hold_no_secrets(repo_workspace: Path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    root = str(repo_workspace.resolve())
    cron = invoke("--workspace", root, "schedule", "cron")
    assert cron.exit_code == 0
    line = [ln for ln in cron.stdout.splitlines() if not ln.startswith("#")]
    assert len(line) == 1
    fields = line[0].split()
    assert fields[:5] == ["17", "4", "*", "*", "1"]  # minute hour dom month dow: weekly
    assert f"--workspace {root} run --due" in line[0] and f"cd {root} " in line[0]
    systemd = invoke("--workspace", root, "schedule", "systemd")
    assert "[Timer]" in systemd.stdout and "OnCalendar=Mon" in systemd.stdout
    assert f"WorkingDirectory={root}" in systemd.stdout and "EnvironmentFile=-" in systemd.stdout  # optional
    github = invoke("--workspace", root, "schedule", "github")
    workflow = yaml.safe_load(github.stdout)
    steps = workflow["jobs"]["recheck"]["steps"]
    commands = " ".join(s.get("run", "") for s in steps)
    assert "claimtrack run --due" in commands and "claimtrack report status" in commands
    assert "git push" not in commands  # a pull request by default, so a person sees the changes first
    publish = steps[-1]
    assert publish["uses"].startswith("peter-evans/create-pull-request@")
    assert publish["with"]["body-path"] == "reports/status.md" and "claims/**" in publish["with"]["add-paths"]
    assert workflow["permissions"] == {"contents": "write", "pull-requests": "write"}
    pushed = yaml.safe_load(invoke("--workspace", root, "schedule", "github", "--push").stdout)
    pushed_commands = " ".join(s.get("run", "") for s in pushed["jobs"]["recheck"]["steps"])
    assert "git commit" in pushed_commands and "git push" in pushed_commands  # direct push stays an option
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` key as True
    assert triggers["schedule"][0]["cron"] == "17 4 * * 1"
    assert workflow["jobs"]["recheck"]["env"]["OPENAI_API_KEY"] == "${{ secrets.OPENAI_API_KEY }}"
    for out in (cron, systemd, github):
        assert SECRET not in out.stdout
    bad = invoke("--workspace", root, "schedule", "at")
    assert bad.exit_code == 2 and "cron, systemd, github" in bad.stderr


def test_doctor_reports_endpoint_and_sources_without_the_key(repo_workspace: Path, monkeypatch):
    with Loopback() as server:  # the endpoint, arXiv and OpenAlex on one port; Semantic Scholar unreachable
        for service in (OpenAIChat(models=("judge-model",)), ArxivAPI(), OpenAlex()):
            server.mount(service)
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("OPENAI_API_KEY", SECRET)
        monkeypatch.setenv("CLAIMTRACK_S2_URL", "http://127.0.0.1:9/graph/v1")  # nothing listens on port 9
        result = invoke("--workspace", str(repo_workspace), "doctor")
        listing = server.hits(OpenAIChat.MODELS)
        assert listing[0].headers["authorization"] == f"Bearer {SECRET}"  # the key was used...
    assert SECRET not in result.stdout + result.stderr  # ...and never printed
    assert result.exit_code == 0
    lines = {ln.split()[1]: ln for ln in result.stdout.splitlines()}
    assert lines["store"].startswith("ok") and "31 claims" in lines["store"]
    assert lines["llm"].startswith("ok") and "judge-model" in lines["llm"] and "key set" in lines["llm"]
    assert lines["arxiv"].startswith("ok") and lines["openalex"].startswith("ok")
    assert lines["s2"].startswith("FAIL") and "unreachable" in lines["s2"]
    assert lines["lm-eval"].startswith("ok")
    assert "never" in lines["last"]


def test_doctor_without_endpoint_or_network(repo_workspace: Path):
    result = invoke("--workspace", str(repo_workspace), "doctor")
    assert result.exit_code == 0
    assert re.search(r"^--\s+llm\s+not configured", result.stdout, re.MULTILINE)
    assert re.search(r"^FAIL\s+arxiv\s+unreachable", result.stdout, re.MULTILINE)


def test_doctor_says_whether_full_texts_answer_and_asks_only_for_headers(repo_workspace: Path, monkeypatch):
    with Loopback() as server:
        server.mount(ArxivFullText(html={"1706.03762v7": b"<html>" + b"x" * 50_000 + b"</html>"}))
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        result = invoke("--workspace", str(repo_workspace), "doctor")
        asked = [(r.method, r.path) for r in server.requests]
    assert asked == [("HEAD", "/html/1706.03762")]
    assert re.search(r"^ok\s+fulltext\s+reachable \(HTTP 200, ", result.stdout, re.MULTILINE)
    monkeypatch.setenv("CLAIMTRACK_ARXIV_HTML_URL", "http://127.0.0.1:9/html")  # nothing listens there
    offline = invoke("--workspace", str(repo_workspace), "doctor")
    line = re.search(
        r"^--\s+fulltext\s+unreachable: .*; runs judge on titles and abstracts only$", offline.stdout, re.M
    )
    assert line and offline.exit_code == 0  # informational: runs go on without full texts


def test_doctor_flags_an_invalid_store(repo_workspace: Path):
    (repo_workspace / "claims" / "broken.yaml").write_text("id: broken\nstatus: maybe\n")
    result = invoke("--workspace", str(repo_workspace), "doctor")
    assert result.exit_code == 1 and result.stdout.startswith("FAIL  store")


SCIFACT_STANCE = {9: "supports", 12: "supports", 2: "contradicts", 28: "supports", 0: "unrelated", 4: "unrelated"}
CONFIRM_STANCE = {**SCIFACT_STANCE, 28: "contradicts"}  # the confirmation catches the one wrong judgement


def _scifact_responder(claims: dict[str, int]) -> Callable[[dict[str, Any]], ChatReply]:
    def respond(request: dict[str, Any]) -> ChatReply:
        text = user_text(request)
        statement = re.search(r"^Statement: (.*)$", text, re.MULTILINE).group(1)
        script = CONFIRM_STANCE if role_of(request) == "confirm" else SCIFACT_STANCE
        stance = script[claims[statement]]
        return judgement(stance, sentences=[] if stance == "unrelated" else [2], confidence=0.8)

    return respond


def test_bench_judge_on_the_scifact_fixture(repo_workspace: Path, monkeypatch):
    folder = FIXTURES / "scifact"
    claims = {json.loads(ln)["claim"]: json.loads(ln)["id"] for ln in (folder / "claims_train.jsonl").open()}
    with OpenAIServer(responder=_scifact_responder(claims)) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.env()["OPENAI_BASE_URL"])
        args = ("--workspace", str(repo_workspace), "bench", "judge", "--scifact", str(folder), "--json")
        first = json.loads(invoke(*args).stdout)
        assert len(server.chat.requests) == 6
        assert "Claimed:" not in user_text(server.chat.requests[0])  # SciFact claims are undated: left out
        second = json.loads(invoke(*args).stdout)
        assert len(server.chat.requests) == 6  # cached in the workspace ledger
    # gold S S C C N N, predicted S S C S N N
    assert first["pairs"] == 6 and first["calls"] == 6 and first["tokens_in"] == 600
    assert abs(first["accuracy"] - 5 / 6) < 1e-9
    assert abs(first["macro_f1"] - (0.8 + 2 / 3 + 1.0) / 3) < 1e-9
    assert first["confusion"] == [[2, 0, 0], [1, 1, 0], [0, 0, 2]]
    assert second["calls"] == 0 and second["cached"] == 6 and second["accuracy"] == first["accuracy"]
    text = invoke("--workspace", str(repo_workspace), "bench", "judge", "--scifact", str(folder), "--limit", "2")
    assert "accuracy 1.000" in text.stdout and "2 pairs" in text.stdout


def test_bench_judge_with_confirmation_reports_agreement_and_both_scores(repo_workspace: Path, monkeypatch):
    folder = FIXTURES / "scifact"
    claims = {json.loads(ln)["claim"]: json.loads(ln)["id"] for ln in (folder / "claims_train.jsonl").open()}
    with OpenAIServer(responder=_scifact_responder(claims)) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.env()["OPENAI_BASE_URL"])
        args = ("--workspace", str(repo_workspace), "bench", "judge", "--scifact", str(folder), "--confirm")
        result = json.loads(invoke(*args, "--json").stdout)
        assert [role_of(r) for r in server.chat.requests].count("confirm") == 6  # every pair, for the agreement
        text = invoke(*args).stdout
        assert len(server.chat.requests) == 12  # the second run came from the cache
    confirm = result["confirm"]
    # first S S C S N N, second S S C C N N: observed 5/6, chance (3*2 + 1*2 + 2*2) / 36 = 1/3
    assert abs(confirm["kappa"] - 0.75) < 1e-9 and abs(confirm["agreement"] - 5 / 6) < 1e-9
    assert abs(confirm["kappa_stances"] - 0.75) < 1e-9  # the same here: one stance per label
    assert confirm["credible"]["confusion"] == [[2, 0, 0], [1, 1, 0], [0, 0, 2]]
    assert confirm["confirmed"]["confusion"] == [[2, 0, 0], [0, 1, 1], [0, 0, 2]]  # the wrong S waits for review
    assert confirm["to_review"] == 1 and confirm["tokens"]["confirm"]["tokens_in"] == 600
    assert "Cohen's kappa 0.750" in text and "after: accuracy 0.833" in text


def test_kappa_is_undefined_when_both_give_one_label_throughout():
    from claimtrack.agent.bench_judge import cohen_kappa

    assert cohen_kappa(["CONTRADICT"] * 4, ["CONTRADICT"] * 4) is None
    assert cohen_kappa(["SUPPORT", "CONTRADICT"], ["CONTRADICT", "SUPPORT"]) == -1.0


def test_bench_judge_bad_input(tmp_path: Path, repo_workspace: Path, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    result = invoke("--workspace", str(repo_workspace), "bench", "judge", "--scifact", str(tmp_path))
    assert result.exit_code == 2 and "claims_train.jsonl" in result.stderr
    monkeypatch.delenv("OPENAI_BASE_URL")
    result = invoke("--workspace", str(repo_workspace), "bench", "judge", "--scifact", str(FIXTURES / "scifact"))
    assert result.exit_code == 2 and "no LLM endpoint" in result.stderr


def test_an_offline_run_over_the_committed_store_checks_every_claim(repo_workspace: Path) -> None:
    """The committed claims as they are (anchor decisions in their history among them) go through a whole run:
    no claim fails on its own data."""
    result = invoke("-w", str(repo_workspace), "run", "--all", "--offline", "--no-judge", "--no-replicate", "--json")
    assert result.exit_code == 0, result.stdout[-2000:]
    summary = json.loads(result.stdout)
    assert summary["totals"]["claims"] == 31 and summary["totals"]["failed"] == 0
