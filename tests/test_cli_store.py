"""The store's commands: status, show, lines, verdict, validate, init; and their error paths."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from conftest import FIXTURES, ROOT, SEEDS, invoke
from typer.core import TyperCommand, TyperGroup

from claimtrack.models import Status
from claimtrack.store import Store
from claimtrack.verdict import record_verdict
from claimtrack.workspace import Workspace

IT = "it-output-format-not-task"
BEIR = FIXTURES / "discovery" / "beir-mini"


def test_committed_store_is_valid_and_complete() -> None:
    result = invoke("-w", str(ROOT), "validate")
    assert result.exit_code == 0, result.stdout
    assert result.stdout.strip() == "ok: 31 claims, 4 lines"
    library = Store(Workspace.at(ROOT)).load()
    for claim in library.claims.values():
        assert claim.status == "untested" or claim.history, claim.id
        assert claim.library_note, f"{claim.id} keeps the library's wording"
        assert claim.search.terms and claim.search.categories, f"{claim.id} has search hints"
        assert claim.anchors or claim.anchor_note, claim.id
        assert library.lines_of(claim.id), f"{claim.id} belongs to a line"
        if claim.caveat:
            assert claim.statement != claim.library_note, f"{claim.id}: a misstated note is restated"


def test_status_table_and_filters(repo_workspace: Path) -> None:
    result = invoke("-w", str(repo_workspace), "status")
    assert result.exit_code == 0
    rows = result.stdout.strip().splitlines()
    assert rows[0].split() == ["ID", "STATUS", "YEAR", "ANCHOR", "LAST", "CHECKED", "REPLICATED"]
    assert len(rows) == 32
    it_row = next(r for r in rows if r.startswith(IT))
    assert it_row.split()[:4] == [IT, "untested", "2023", "2305.11383"]
    result = invoke("-w", str(repo_workspace), "status", "--line", "finetuning-cot-shortcuts", "--json")
    data = json.loads(result.stdout)
    assert next(d["id"] for d in data) == "finetuning-makes-cot-performative"
    assert len(data) == 9
    assert set(data[0]) >= {"id", "title", "status", "claimed", "anchors", "lines", "last_checked"}
    assert data[0]["anchors"] == ["2411.15382"]
    assert "finetuning-cot-shortcuts" in data[0]["lines"]
    result = invoke("-w", str(repo_workspace), "status", "--status", "holding")
    assert result.stdout.strip() == "no claims match"


def test_status_rejects_unknown_status_and_line(repo_workspace: Path) -> None:
    result = invoke("-w", str(repo_workspace), "status", "--status", "dubious")
    assert result.exit_code == 2 and "dubious" in result.stderr
    result = invoke("-w", str(repo_workspace), "status", "--line", "finetuning-cot-shortcut")
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "error: unknown line id 'finetuning-cot-shortcut' (did you mean finetuning-cot-shortcuts"
    )
    assert result.stderr.count("\n") == 1


def test_show_text_and_json(repo_workspace: Path) -> None:
    result = invoke("-w", str(repo_workspace), "show", IT)
    assert result.exit_code == 0
    for part in ("Statement:", "arXiv:2305.11383", "Numbers:", "Evidence (0):", "History (0):", "42.6%"):
        assert part in result.stdout
    data = json.loads(invoke("-w", str(repo_workspace), "show", IT, "--json").stdout)
    assert data["id"] == IT and data["anchors"][0]["arxiv"] == "2305.11383"
    assert sorted(data["lines"]) == ["confounds-surface-vs-cause", "finetuning-semantic-inference", "surface-vs-regime"]


def test_show_unknown_id_suggests(repo_workspace: Path) -> None:
    result = invoke("-w", str(repo_workspace), "show", "it-output-format")
    assert result.exit_code == 2
    assert "did you mean it-output-format-not-task" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_lines_json_in_seed_order(repo_workspace: Path) -> None:
    data = json.loads(invoke("-w", str(repo_workspace), "lines", "--json").stdout)
    assert {d["id"] for d in data} == {
        "confounds-surface-vs-cause",
        "surface-vs-regime",
        "finetuning-cot-shortcuts",
        "finetuning-semantic-inference",
    }
    first = next(d for d in data if d["id"] == "confounds-surface-vs-cause")
    assert first["question"] == "What training regimes confound surface mechanisms with their actual causes?"
    assert first["claims"][0] == IT and first["claims"][-1] == "mechanism-needs-representational-and-causal"
    assert len(first["claims"]) == 8


def test_verdict_records_a_pinned_dated_change(repo_workspace: Path) -> None:
    result = invoke(
        "-w",
        str(repo_workspace),
        "verdict",
        IT,
        "--status",
        "relaxed",
        "--because",
        "Holds for T5-era models only",
        "--evidence",
        "arXiv:2401.00001v2",
        "--scope",
        "T5-sized",
        "--by",
        "ada",
    )
    assert result.exit_code == 0, result.stderr
    assert "untested -> relaxed" in result.stdout
    data = yaml.safe_load((repo_workspace / "claims" / f"{IT}.yaml").read_text())
    assert data["status"] == "relaxed"
    change = data["history"][-1]
    assert change["from"] == "untested" and change["to"] == "relaxed" and change["pinned"] is True
    assert change["by"] == "person:ada" and change["scope"] == "T5-sized"
    evidence = data["evidence"][-1]
    assert evidence["source"] == "arXiv:2401.00001" and evidence["stance"] == "relaxes"
    assert change["evidence"] == [evidence["id"]]
    assert invoke("-w", str(repo_workspace), "validate").exit_code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--status", "holding", "--because", "x", "--evidence", "arXiv:12345"],
            "--evidence: 'arXiv:12345' is not an arXiv id (expected e.g. 2305.11383 or hep-th/9901001)",
        ),
        (["--status", "untested", "--because", "x"], "--status: a verdict is holding, relaxed or superseded"),
        (["--status", "holding", "--because", "  "], "--because: say why; the reason is the changelog"),
    ],
)
def test_verdict_bad_input_changes_nothing(repo_workspace: Path, args: list[str], message: str) -> None:
    path = repo_workspace / "claims" / f"{IT}.yaml"
    before = path.read_text()
    result = invoke("-w", str(repo_workspace), "verdict", IT, *args)
    assert result.exit_code == 2
    assert result.stderr == f"error: {message}\n"
    assert path.read_text() == before


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["import-line", "{seed}", "--id", "Bad Id"],
            "--id: 'Bad Id' is not a slug (lowercase letters, digits, hyphens)",
        ),
        (["replicate", IT, "--executor", "k8s"], "--executor: 'k8s' is not one of local, slurm"),
        (["replicate", IT, "--limit", "0"], "--limit: must be a positive number of items"),
        (["replicate", IT, "--device", "tpu"], "--device: 'tpu' is not cpu, cuda or cuda:N"),
        (["replicate"], "CLAIM_ID: missing (or pass --collect, --jobs or --retry JOB)"),
        (["papers", "import", "{ws}/none.jsonl", "--since", "May"], "--since: 'May' is not a date (YYYY-MM-DD)"),
        (["papers", "import", "{ws}/none.jsonl"], "{ws}/none.jsonl: no such file"),
        (
            ["bench", "retrieval", "--beir", "{beir}", "--method", "bm42"],
            "--method: 'bm42' is not one of fts5, dense, hybrid, rrf, all",
        ),
        (
            ["bench", "retrieval", "--beir", "{ws}"],
            "--beir: {ws} has no corpus.jsonl (a BEIR folder holds corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv)",
        ),
        (["report", "status", "--out", "{ws}"], "--out: {ws} is a folder; name a file"),
        (["schedule", "at"], "KIND: 'at' is not one of cron, systemd, github"),
        (["run"], "CLAIM_ID: name claims, or pass --due or --all"),
        (["bench", "judge", "--scifact", "{ws}"], "OPENAI_API_KEY/OPENAI_BASE_URL: no LLM endpoint configured"),
    ],
)
def test_a_bad_argument_is_named_once(repo_workspace: Path, args: list[str], line: str) -> None:
    """`error: --option: message`, never `--option: option: message`: an option has no field to repeat."""
    places = {"ws": str(repo_workspace), "seed": str(SEEDS / "002_0842b44deafc3763.txt"), "beir": str(BEIR)}
    result = invoke("-w", str(repo_workspace), *(a.format(**places) for a in args))
    assert result.exit_code == 2
    assert result.stderr == f"error: {line.format(**places)}\n"


def test_verdict_unknown_claim(repo_workspace: Path) -> None:
    result = invoke("-w", str(repo_workspace), "verdict", "no-such-claim", "--status", "holding", "--because", "x")
    assert result.exit_code == 2 and "unknown claim id 'no-such-claim'" in result.stderr


def _break(root: Path, name: str, text: str) -> None:
    (root / "claims" / name).write_text(text)


@pytest.mark.parametrize(
    ("name", "edit", "expected"),
    [
        ("bad.yaml", "id: bad\ntitle: [unclosed\n", "claims/bad.yaml: line 3: malformed YAML"),
        (f"{IT}.yaml", lambda t: t + "colour: blue\n", f"claims/{IT}.yaml: colour: unknown field"),
        (
            f"{IT}.yaml",
            lambda t: t.replace("status: untested", "status: dubious"),
            f"claims/{IT}.yaml: status: Input should be",
        ),
        (
            f"{IT}.yaml",
            lambda t: t.replace("arxiv: '2305.11383'", "arxiv: '23.1'"),
            f"claims/{IT}.yaml: anchors.0.arxiv: '23.1' is not an arXiv id",
        ),
        (
            "Bad_Id.yaml",
            "id: Bad_Id\ntitle: t\nstatement: s\nanchor_note: none\n",
            "claims/Bad_Id.yaml: id: 'Bad_Id' is not a slug",
        ),
        ("copy.yaml", None, "claims/copy.yaml: id: 'it-output-format-not-task' does not match the file name 'copy'"),
    ],
)
def test_validate_names_file_and_field(
    repo_workspace: Path, name: str, edit: str | Callable[[str], str] | None, expected: str
) -> None:
    claims = repo_workspace / "claims"
    if edit is None:
        _break(repo_workspace, name, (claims / f"{IT}.yaml").read_text())
    elif callable(edit):
        _break(repo_workspace, name, edit((claims / name).read_text()))
    else:
        _break(repo_workspace, name, edit)
    result = invoke("-w", str(repo_workspace), "validate")
    assert result.exit_code == 2
    assert any(line.startswith(expected) for line in result.stdout.splitlines()), result.stdout
    # Every other command refuses to work on a broken store, in one line, without a traceback.
    status = invoke("-w", str(repo_workspace), "status")
    assert status.exit_code == 2 and status.stderr.count("\n") == 1 and "Traceback" not in status.stderr


def test_validate_cross_file_problems(repo_workspace: Path) -> None:
    line = repo_workspace / "claims" / "lines" / "surface-vs-regime.yaml"
    line.write_text(line.read_text().replace("- rlvr-catalyst-bounded-by-prior", "- rlvr-catalyst-bounded-by-prio"))
    claim = repo_workspace / "claims" / "softcot-frozen-backbone.yaml"
    claim.write_text(claim.read_text().replace("status: untested", "status: holding"))
    result = invoke("-w", str(repo_workspace), "validate", "--json")
    problems = {(p["file"], p["field"]) for p in json.loads(result.stdout)}
    assert ("claims/lines/surface-vs-regime.yaml", "claims.1") in problems
    assert ("claims/softcot-frozen-backbone.yaml", "status") in problems


def test_workspace_resolution(repo_workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nested = repo_workspace / "claims" / "lines"
    monkeypatch.chdir(nested)
    assert invoke("status", "--json").exit_code == 0
    monkeypatch.chdir(tmp_path)
    result = invoke("status")
    assert result.exit_code == 2 and "no workspace" in result.stderr
    monkeypatch.setenv("CLAIMTRACK_HOME", str(repo_workspace))
    assert invoke("status").exit_code == 0
    result = invoke("-w", str(tmp_path), "status")
    assert (
        result.stderr == f"error: --workspace: {tmp_path} has no claims/ folder (create one with `claimtrack init`)\n"
    )
    assert result.exit_code == 2
    monkeypatch.setenv("CLAIMTRACK_STATE_DIR", str(tmp_path / "elsewhere"))
    invoke("verdict", IT, "--status", "holding", "--because", "checked by hand")
    assert (tmp_path / "elsewhere" / "store.lock").exists()
    assert not (repo_workspace / ".claimtrack").exists()


def test_init_makes_an_empty_workspace_once(tmp_path: Path) -> None:
    target = tmp_path / "new"
    result = invoke("init", str(target))
    assert result.exit_code == 0
    assert (target / "claims" / "lines").is_dir() and (target / ".gitignore").read_text() == ".claimtrack/\n"
    assert (target / "agents").is_dir() == (ROOT / "agents").is_dir()
    assert invoke("-w", str(target), "validate").stdout.strip() == "ok: 0 claims, 0 lines"
    again = invoke("init", str(target))
    assert again.exit_code == 2 and "already a workspace" in again.stderr


def test_an_interrupted_write_leaves_the_old_file(repo_workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = repo_workspace / "claims" / f"{IT}.yaml"
    before = path.read_text()

    def crash(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        record_verdict(Store(Workspace.at(repo_workspace)), IT, Status.HOLDING, "x", by="ada")
    assert path.read_text() == before
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []


_WRITER = """
import sys
from claimtrack.store import Store
from claimtrack.workspace import Workspace
from claimtrack.verdict import record_verdict
from claimtrack.models import Status
from pathlib import Path
store = Store(Workspace.at(Path(sys.argv[1])))
for i in range(int(sys.argv[3])):
    record_verdict(store, "it-output-format-not-task", Status.HOLDING, f"{sys.argv[2]}-{i}", by=sys.argv[2])
"""


def test_two_processes_writing_at_once_lose_nothing(repo_workspace: Path) -> None:
    writers = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(repo_workspace), name, "15"]) for name in ("ada", "bob")
    ]
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    claim = Store(Workspace.at(repo_workspace)).load().claim(IT)
    reasons = {h.rationale for h in claim.history}
    assert reasons == {f"{n}-{i}" for n in ("ada", "bob") for i in range(15)}


def _commands(
    group: TyperGroup, prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], TyperCommand | TyperGroup]]:
    """Every command under `group`, sub-apps walked (typer's groups are not click.Group subclasses)."""
    for name, command in group.commands.items():
        yield (*prefix, name), command
        if isinstance(command, TyperGroup):
            yield from _commands(command, (*prefix, name))


def test_every_command_has_help() -> None:
    """The one help check: every command and sub-command, sub-apps included, says what it does."""
    import typer

    from claimtrack.cli import app

    root = typer.main.get_command(app)
    assert isinstance(root, TyperGroup)
    found = dict(_commands(root))
    groups = [path for path, command in found.items() if isinstance(command, TyperGroup)]
    assert {("papers",), ("report",), ("bench",)} <= set(groups)
    assert all(any(p[: len(g)] == g and len(p) > len(g) for p in found) for g in groups), "a sub-app was not walked"
    for path, command in found.items():
        summary = (command.help or "").strip().splitlines()[0] if (command.help or "").strip() else ""
        assert len(summary) > 20, f"claimtrack {' '.join(path)} has no help"
        result = invoke(*path, "--help")
        assert result.exit_code == 0 and "Usage" in result.stdout
        assert " ".join(summary.split()) in " ".join(result.stdout.split()), path  # the help shows the docstring
