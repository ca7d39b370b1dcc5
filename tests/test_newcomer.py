"""A newcomer's first hour (issue 21), each step through the CLI: a run that cannot reach its sources says what
to do, global options may follow the command, and the other scenarios the issue lists."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
from conftest import ROOT, invoke

CLAIM = "it-output-format-not-task"
NOWHERE = "http://127.0.0.1:9"  # nothing listens on port 9: connection refused at once


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "claims").mkdir(parents=True)
    shutil.copy(ROOT / "claims" / f"{CLAIM}.yaml", root / "claims")
    return root


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every literature source refuses connections, as on a machine without network."""
    monkeypatch.setenv("CLAIMTRACK_ARXIV_URL", f"{NOWHERE}/api/query")
    monkeypatch.setenv("CLAIMTRACK_S2_URL", f"{NOWHERE}/graph/v1")
    monkeypatch.setenv("CLAIMTRACK_OPENALEX_URL", NOWHERE)
    monkeypatch.setenv("CLAIMTRACK_HTTP_BACKOFF_S", "0.01")


def test_a_run_that_cannot_reach_its_sources_ends_with_what_to_do(ws: Path, no_network: None) -> None:
    result = invoke("-w", str(ws), "run", "--due", "--no-replicate")
    assert result.exit_code != 0
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("what to do: `claimtrack doctor`")
    assert "`claimtrack run --due --offline`" in last and "claimtrack papers import FILE" in last
    assert "HTTPS_PROXY" in last
    as_json = json.loads(invoke("-w", str(ws), "run", "--due", "--no-replicate", "--json").stdout)
    assert as_json["what_to_do"] == last
    offline = invoke("-w", str(ws), "run", "--due", "--offline", "--no-replicate")
    assert offline.exit_code == 0 and "what to do" not in offline.stdout  # the advice works, and is not repeated


def test_discover_that_cannot_reach_its_sources_says_the_same(ws: Path, no_network: None) -> None:
    result = invoke("-w", str(ws), "discover", CLAIM)
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
