"""Logging through the CLI root: -v/-vv/-q, retries and long waits on stderr, no secret in any line."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from agent_helpers import judgement
from conftest import ROOT, invoke
from loopback import Entry, Literature, OpenAIServer, Reply, SemanticScholar
from typer.testing import Result

from claimtrack.discovery.http import forget_down_hosts

CLAIM = "it-output-format-not-task"  # anchor 2305.11383
S2_PATH = "/graph/v1/paper/arXiv:2305.11383/citations"
S2_KEY = "s2-key-never-log-me-31337"
OPENAI_KEY = "sk-log-secret-0123456789abcdef"
FOUND = Entry(
    "2402.11111v2",
    "Instruction tuning teaches output format more than task understanding",
    "Models tuned on corrupted instructions match the output format.",
    "2024-02-10",
)


@pytest.fixture(autouse=True)
def _fresh_hosts() -> None:
    forget_down_hosts()


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[Literature]:
    """Every source answers (the anchor known, not yet cited); tests script the first answers of S2 to fail."""
    with Literature([FOUND], s2={"arXiv:2305.11383": []}, openalex={"2305.11383": []}) as server:
        for name, value in {
            **server.env(),
            "CLAIMTRACK_HTTP_BACKOFF_S": "0.01",
            "CLAIMTRACK_HTTP_MAX_WAIT_S": "0.05",  # caps a Retry-After, so no test sleeps for long
        }.items():
            monkeypatch.setenv(name, value)
        yield server


def _s2_fails_first(server: Literature, reply: Reply) -> None:
    server.route(SemanticScholar.CITATIONS, [reply, server.s2.cited_by])


def _discover(ws: Path, *flags: str) -> Result:
    result = invoke(*flags, "-w", str(ws), "discover", CLAIM)
    assert result.exit_code == 0, result.stderr
    assert "2402.11111" in result.stdout  # results on stdout whatever the verbosity
    return result


def test_verbose_shows_each_request_and_a_retry_with_its_reason_and_wait(repo_workspace: Path, api: Literature) -> None:
    _s2_fails_first(api, Reply(503))
    lines = _discover(repo_workspace, "-v").stderr.splitlines()
    assert "info: semanticscholar: HTTP 503; retrying in 0.01 s (try 2 of 4)" in lines
    assert any(line.startswith("info: semanticscholar: GET 127.0.0.1:") and "-> 503 in" in line for line in lines)
    assert any(line.startswith("info: arxiv: GET ") and "/api/query -> 200 in " in line for line in lines)
    assert not any(line.startswith("debug:") for line in lines)
    assert len(api.hits(S2_PATH)) == 2


def test_default_verbosity_is_silent_on_short_retries(repo_workspace: Path, api: Literature) -> None:
    _s2_fails_first(api, Reply(503))
    assert _discover(repo_workspace).stderr == ""
    assert len(api.hits(S2_PATH)) == 2


def test_default_verbosity_warns_of_a_long_retry_after(repo_workspace: Path, api: Literature) -> None:
    _s2_fails_first(api, Reply(429, "slow down", headers={"Retry-After": "600"}))
    lines = _discover(repo_workspace).stderr.splitlines()
    warning = "warning: semanticscholar: HTTP 429 (rate limited), the server asks for 600 s; retrying in 0.05 s"
    assert lines == [warning + " (try 2 of 4)"]


def test_quiet_shows_nothing_but_errors(repo_workspace: Path, api: Literature) -> None:
    _s2_fails_first(api, Reply(429, headers={"Retry-After": "600"}))
    quiet = _discover(repo_workspace, "-q")
    assert quiet.stderr == ""
    assert len(api.hits(S2_PATH)) == 2  # the wait happened, unannounced
    bad = invoke("-q", "-w", str(repo_workspace), "discover", "no-such-claim")
    assert bad.exit_code == 2 and bad.stderr.startswith("error: unknown claim id")


def test_no_log_line_holds_the_s2_key(repo_workspace: Path, api: Literature, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("S2_API_KEY", S2_KEY)
    _s2_fails_first(api, Reply(503))
    first = _discover(repo_workspace, "-vv")
    second = _discover(repo_workspace, "-vv")  # answered from the cache: debug lines say so
    assert all(seen.headers.get("x-api-key") == S2_KEY for seen in api.hits(S2_PATH))  # the key was sent...
    stderr = first.stderr + second.stderr
    assert "info: semanticscholar: HTTP 503; retrying" in stderr and "debug: semanticscholar: " in stderr
    assert "from the cache" in second.stderr
    assert S2_KEY not in stderr  # ...and never logged


PAPER = Entry(
    "2507.00001v1",
    "Instruction tuning teaches more than the output format",
    "Across 40 tasks, models trained with correct instructions outperform those trained with misleading ones.",
    "2025-07-01",
)


def test_a_run_logs_llm_calls_without_keys_and_quiet_hides_its_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = tmp_path / "ws"
    (ws / "claims").mkdir(parents=True)
    shutil.copy(ROOT / "claims" / f"{CLAIM}.yaml", ws / "claims")
    monkeypatch.setenv("S2_API_KEY", S2_KEY)
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    args = ("-w", str(ws), "run", CLAIM, "--no-replicate")
    known = {"s2": {"arXiv:2305.11383": []}, "openalex": {"2305.11383": []}}
    with Literature([PAPER], **known) as literature, OpenAIServer(lambda r: judgement("unrelated", "")) as llm:
        for key, value in {**literature.env(), **llm.env()}.items():
            monkeypatch.setenv(key, value)
        loud = invoke("-vv", *args)
        assert llm.requests and all(r.headers["authorization"] == f"Bearer {OPENAI_KEY}" for r in llm.requests)
        quiet = invoke("-q", *args)
    assert loud.exit_code == 0 and quiet.exit_code == 0, loud.stderr + quiet.stderr
    lines = loud.stderr.splitlines()
    assert any(line.startswith("info: llm: test-model plan call: ") and "tokens in" in line for line in lines)
    # the pair's first look (an unrelated paper is set aside there, so it is the only judge request)
    looks = [line for line in lines if line.startswith("info: llm: test-model look call: 100 tokens in, 20 out, ")]
    assert looks and re.search(r"\(waited \d+\.\d\d s in the pool\)$", looks[0])  # -v: each call's wait
    assert f"[1/1] {CLAIM}: done (pairs judged 1/1, 0 LLM calls in flight)" in lines
    assert OPENAI_KEY not in loud.stderr and S2_KEY not in loud.stderr
    assert quiet.stderr == "" and quiet.stdout.startswith("run ")
