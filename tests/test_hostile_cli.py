"""Bad values and broken state through the CLI: every malformed setting, option value and file is one line on
stderr with exit 2 and no traceback; a damaged ledger is named with what to do; and the exit codes say what
happened, the same way across commands (README's table): 1 drift or partly failed, 2 bad input, 3 a check
that could not be made."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, claims_workspace, invoke

from claimtrack.config import Settings
from claimtrack.ledger import Ledger
from claimtrack.workspace import Workspace

CLAIM = "it-output-format-not-task"
NOWHERE = "http://127.0.0.1:9"  # nothing listens on the discard port: connection refused at once


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    return claims_workspace(tmp_path / "ws", CLAIM)


def one_line_error(result: Any, code: int = 2) -> str:
    """The single stderr line of a refused command, after checking the exit code and that nothing else came."""
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr and "Value error" not in lines[0] and "pydantic" not in lines[0]
    return lines[0]


def _variable(name: str, info: Any) -> str:
    alias = info.validation_alias
    return alias.choices[0] if alias is not None else f"CLAIMTRACK_{name.upper()}"


def _bad_values() -> list[tuple[str, str]]:
    """(variable, value) for every setting a value can be malformed for: numbers and flags that do not parse,
    numbers outside their bounds, endpoints that are not http(s) URLs."""
    cases = []
    for name, info in Settings.model_fields.items():
        kind = info.annotation
        if name.endswith("_url"):
            cases += [(_variable(name, info), "localhost:8000"), (_variable(name, info), "ftp://mirror")]
        bounds = {type(m).__name__ for m in info.metadata}
        if kind in (int, float):
            cases.append((_variable(name, info), "abc"))
            if bounds & {"Gt", "Ge"}:
                cases.append((_variable(name, info), "-1"))
            if "Le" in bounds:
                cases.append((_variable(name, info), "1e9"))
        elif kind is bool:
            cases.append((_variable(name, info), "maybe"))
    return cases


BAD_VALUES = _bad_values()


def test_every_numeric_and_flag_setting_is_covered() -> None:
    names = {v for v, _ in BAD_VALUES}
    assert {"CLAIMTRACK_JUDGE_THRESHOLD", "CLAIMTRACK_JUDGE_K", "CLAIMTRACK_HTTP_MAX_BYTES", "CHROMA_PORT"} <= names
    assert {"CLAIMTRACK_ARXIV_URL", "OPENAI_BASE_URL"} <= names and len(BAD_VALUES) >= 70


@pytest.mark.parametrize(("variable", "value"), BAD_VALUES)
def test_a_bad_environment_value_is_one_line_naming_the_variable(
    ws: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    line = one_line_error(invoke("-w", str(ws), "doctor"))
    assert line.startswith(f"error: {variable}: '{value}': ")


def test_judge_settings_as_the_issue_found_them(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAIMTRACK_JUDGE_THRESHOLD", "abc")
    line = one_line_error(invoke("-w", str(ws), "run", "--all", "--no-replicate"))
    assert line == (
        "error: CLAIMTRACK_JUDGE_THRESHOLD: 'abc': input should be a valid number, unable to parse string as a number"
    )
    monkeypatch.setenv("CLAIMTRACK_JUDGE_THRESHOLD", "0.5")
    monkeypatch.setenv("CLAIMTRACK_JUDGE_K", "0")
    line = one_line_error(invoke("-w", str(ws), "run", "--all", "--no-replicate"))
    assert line == "error: CLAIMTRACK_JUDGE_K: '0': input should be greater than 0"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["verdict", CLAIM, "--status", "dead", "--because", "x"], "error: --status: 'dead' is not one of"),
        (["verdict", CLAIM, "--status", "untested", "--because", "x"], "error: --status: a verdict is"),
        (["replicate", CLAIM, "--limit", "abc"], "error: --limit: input should be a valid integer"),
        (["replicate", CLAIM, "--limit", "0"], "error: --limit: "),
        (["discover", CLAIM, "--k", "0"], "error: --k: "),
        (["run", CLAIM, "--k", "x"], "error: --k: input should be a valid integer"),
        (["report", "status", "--format", "pdf"], "error: --format: 'pdf' is not one of"),
        (["schedule", "at"], "error: KIND: 'at' is not one of"),
        (["import-line", "missing.md"], "error: missing.md: cannot read: No such file or directory"),
        (["show", "no-such-claim"], "error: unknown claim id 'no-such-claim'"),
    ],
)
def test_a_bad_option_value_or_file_is_one_line(ws: Path, args: list[str], expected: str) -> None:
    assert one_line_error(invoke("-w", str(ws), *args)).startswith(expected)


# --- a damaged ledger ------------------------------------------------------------------------------------------


def _damage(ws: Path, how: str) -> Path:
    path = Workspace.at(ws).ledger_path
    path.parent.mkdir(parents=True, exist_ok=True)
    if how == "garbage":
        path.write_bytes(b"this is no database " * 300)
    elif how == "truncated":  # a real ledger cut short: its header is fine, its pages are gone
        Ledger(path).close()
        with sqlite3.connect(path) as conn:
            conn.execute("PRAGMA journal_mode=DELETE")
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 3])
    elif how == "folder":  # something that cannot be opened as a file at all
        path.mkdir()
    return path


@pytest.mark.parametrize("how", ["garbage", "truncated", "folder"])
@pytest.mark.parametrize("command", [["review"], ["report", "status"], ["discover", CLAIM, "--offline"]])
def test_a_damaged_ledger_is_one_line_naming_it_and_what_to_do(ws: Path, how: str, command: list[str]) -> None:
    path = _damage(ws, how)
    line = one_line_error(invoke("-w", str(ws), *command))
    assert line.startswith(f"error: {path}: the ledger cannot be read (") and "move it aside" in line


def test_doctor_says_the_ledger_is_damaged(ws: Path) -> None:
    path = _damage(ws, "truncated")
    result = invoke("-w", str(ws), "doctor")
    assert result.exit_code == 1, result.stderr
    ledger = next(line for line in result.stdout.splitlines() if " ledger " in line)
    assert ledger.startswith("FAIL") and str(path) in ledger and "move it aside" in ledger
    assert "not checked: the ledger cannot be read" in result.stdout
    path.unlink()
    Ledger(path).close()
    healthy = invoke("-w", str(ws), "doctor")
    assert next(line for line in healthy.stdout.splitlines() if " ledger " in line).startswith("ok")


# --- exit codes: a check that could not be made ----------------------------------------------------------------


def _unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ARXIV_URL", "S2_URL", "OPENALEX_URL", "ARXIV_HTML_URL", "ARXIV_PDF_URL"):
        monkeypatch.setenv(f"CLAIMTRACK_{name}", NOWHERE)
    monkeypatch.setenv("CLAIMTRACK_HTTP_RETRIES", "0")


def test_anchors_verify_without_arxiv_exits_3_and_lists_what_was_not_checked(
    ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _unreachable(monkeypatch)
    result = invoke("-w", str(ws), "anchors", "verify", "--json")
    assert result.exit_code == 3, result.stderr
    [item] = json.loads(result.stdout)
    assert (item["claim"], item["anchor"], item["kind"]) == (CLAIM, "2305.11383", "unchecked")
    assert item["message"].startswith("not checked: arxiv: connection failed")
    plain = invoke("-w", str(ws), "anchors", "verify")
    assert plain.exit_code == 3 and "1 anchors not checked" in plain.stderr
    assert f"claims/{CLAIM}.yaml: anchors.0: not checked: arxiv:" in plain.stdout


def test_run_with_every_source_unreachable_exits_3_and_says_so(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _unreachable(monkeypatch)
    result = invoke("-w", str(ws), "run", CLAIM, "--no-replicate", "--json")
    assert result.exit_code == 3, result.stderr
    summary = json.loads(result.stdout)
    assert summary["totals"]["unchecked"] == summary["totals"]["failed"] == 1
    assert summary["claims"][0]["unchecked"] and summary["claims"][0]["failures"]
    assert invoke("-w", str(ws), "run", CLAIM, "--no-replicate", "--offline").exit_code == 0  # asked nothing


def test_readme_documents_each_exit_code_once() -> None:
    """The one table of exit codes (README) names every code the commands use, each once."""
    text = (ROOT / "README.md").read_text()
    table = text.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    codes = [line.split("|")[1].strip() for line in table.splitlines() if line.startswith("| ") and "code" not in line]
    assert codes == ["0", "1", "2", "3", "75", "130"]
    assert "could not be made" in table and "anchors verify" in table and "--json" in table


def test_a_command_whose_one_source_fails_exits_3_in_one_line(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _unreachable(monkeypatch)
    line = one_line_error(invoke("-w", str(ws), "anchors", "set", CLAIM, "--arxiv", "2305.11383"), code=3)
    assert line.startswith("error: arxiv: connection failed")
