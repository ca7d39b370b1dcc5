"""Rewrites keep what people put in the files: permissions, comments, key order and the committed layout."""

from __future__ import annotations

import datetime as dt
import difflib
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, invoke

from claimtrack.errors import InvalidInput
from claimtrack.fileio import dump_yaml, write_yaml
from claimtrack.models import Evidence, EvidenceKind, Stance, Status, StatusChange
from claimtrack.store import Store
from claimtrack.workspace import Workspace

IT = "it-output-format-not-task"
AT = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _committed(root: Path) -> list[Path]:
    return sorted((root / "claims").glob("*.yaml")) + sorted((root / "claims" / "lines").glob("*.yaml"))


def _removed_lines(before: str, after: str) -> list[str]:
    return [line[2:] for line in difflib.ndiff(before.splitlines(), after.splitlines()) if line.startswith("- ")]


def _grow(claim_id: str, store: Store, quote: str = "a short quote", evidence_id: str = "e-test") -> None:
    """Append one evidence item and one history entry, as a run or a verdict does."""

    def apply(claim):
        claim.evidence.append(
            Evidence(
                id=evidence_id,
                kind=EvidenceKind.PAPER,
                source="arXiv:2501.00001",
                stance=Stance.SUPPORTS,
                quote=quote,
                judged_by="person:ada",
                judged_at=AT,
            )
        )
        claim.history.append(
            StatusChange(from_=claim.status, to=Status.HOLDING, at=AT, by="person:ada", rationale="checked")
        )
        claim.status = Status.HOLDING

    store.update_claim(claim_id, apply)


@pytest.mark.parametrize("mode", [0o644, 0o640])
def test_a_verdict_keeps_the_claim_files_mode(repo_workspace: Path, mode: int) -> None:
    path = repo_workspace / "claims" / f"{IT}.yaml"
    path.chmod(mode)
    result = invoke("-w", str(repo_workspace), "verdict", IT, "--status", "holding", "--because", "x", "--by", "ada")
    assert result.exit_code == 0, result.stderr
    assert yaml.safe_load(path.read_text())["status"] == "holding"
    assert _mode(path) == mode


def test_a_new_report_gets_the_umask_mode(repo_workspace: Path, tmp_path: Path) -> None:
    out = tmp_path / "prompt.md"
    old = os.umask(0o027)
    try:
        result = invoke("-w", str(repo_workspace), "report", "prompt", "--out", str(out))
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.stderr
    assert out.read_text().strip() and _mode(out) == 0o640


def test_rewriting_the_committed_store_unchanged_gives_the_same_bytes(repo_workspace: Path) -> None:
    store = Store(Workspace.at(repo_workspace))
    library = store.load()
    before = {path: path.read_bytes() for path in _committed(repo_workspace)}
    assert len(library.claims) + len(library.lines) == len(before) > 30
    for claim_id in library.claims:
        store.update_claim(claim_id, lambda _claim: None)
    for line in library.lines.values():
        store.write_line(line)
    changed = [path.name for path, text in before.items() if path.read_bytes() != text]
    assert changed == []


def test_a_new_file_is_laid_out_as_pyyaml_lays_it_out(tmp_path: Path) -> None:
    """Folding, quoting, literal blocks and YAML 1.1 scalars come out as the committed files have them."""
    tricky = ["yes", "n", "on", "1e5", "0755", "12:30", "2025-01-01", "null", "~", "it's", "'quoted'", "#x", "a: b"]
    for source in _committed(ROOT):
        data = yaml.safe_load(source.read_text())
        data["extra"] = {
            "multi": "first line\n  indented\nlast\n",
            "no_newline_at_end": "one\ntwo",
            "long": "word " * 40 + "x" * 130 + " end",
            "floats": [1e-05, 1e20, 0.5, 2.0],
            "tricky": tricky,
        }
        target = tmp_path / source.name
        write_yaml(target, data)
        assert target.read_text() == dump_yaml(data), source.name
        assert yaml.safe_load(target.read_text()) == data


def test_the_first_update_of_a_committed_claim_only_adds_lines(repo_workspace: Path) -> None:
    store = Store(Workspace.at(repo_workspace))
    for claim_id in store.load().claims:
        path = store.claim_path(claim_id)
        before = path.read_text()
        _grow(claim_id, store)
        removed = _removed_lines(before, path.read_text())
        assert set(removed) <= {"status: untested", "evidence: []", "history: []"}, (claim_id, removed)


CURATED = """\
# Curated by hand; ask Ada before changing the scope.
id: {id}
status: untested  # moved up on purpose
title: Does instruction tuning teach the output format rather than the task?
# The statement follows the anchor's abstract closely.
statement: Instruction tuning mostly teaches a model the output format.
scope: Small models.  # keep it narrow
claimed: 2023-05
anchors:
- arxiv: '2305.00001'
  title: An anchor
  confidence: verified
numbers: []
# Why the caveat: the anchor's numbers are for one model.
caveat: One model only.
aliases: []
search:
  terms:
  - instruction tuning  # the main term
  categories:
  - cs.CL
review_every_days: 90
evidence: []
# History below is appended by runs and verdicts.
history: []
# End of the curated file.
"""


def _curated(root: Path) -> tuple[Store, Path, str]:
    store = Store(Workspace.at(root))
    path = store.claim_path(IT)
    text = CURATED.format(id=IT)
    path.write_text(text)
    return store, path, text


def test_comments_and_key_order_survive_an_update(repo_workspace: Path) -> None:
    store, path, before = _curated(repo_workspace)
    _grow(IT, store, quote="a quote\nover two lines")
    after = path.read_text()
    assert _removed_lines(before, after) == ["status: untested  # moved up on purpose", "evidence: []", "history: []"]
    assert "status: holding   # moved up on purpose\ntitle:" in after  # the end-of-line comment and the order
    evidence = after.index("evidence:\n- id: e-test")
    assert after.index("  quote: |-\n    a quote\n    over two lines\n") > evidence  # new multi-line text: a block
    history = after.index("# History below is appended by runs and verdicts.\nhistory:\n- from: untested")
    assert history > evidence and after.endswith("  pinned: false\n# End of the curated file.\n")
    _grow(IT, store, evidence_id="e-second")  # lists that already hold items grow at their end, comments stay put
    again = path.read_text()
    assert _removed_lines(after, again) == []
    second = again.index("- id: e-second")
    assert evidence < second < again.index("# History below is appended by runs and verdicts.\nhistory:\n- from:")
    assert again.endswith(
        "  to: holding\n  at: '2025-06-01T00:00:00Z'\n  by: person:ada\n  evidence: []\n"
        "  rationale: checked\n  pinned: false\n# End of the curated file.\n"
    )
    assert again.count("- from: ") == 2 and store.load().claim(IT).status == Status.HOLDING


def test_removing_a_field_removes_only_that_field(repo_workspace: Path) -> None:
    store, path, before = _curated(repo_workspace)

    def drop(claim):
        claim.scope = None

    store.update_claim(IT, drop)
    assert path.read_text() == before.replace("scope: Small models.  # keep it narrow\n", "")

    def drop_caveat(claim):
        claim.caveat = None

    store.update_claim(IT, drop_caveat)
    after = path.read_text()
    assert _removed_lines(before, after) == ["scope: Small models.  # keep it narrow", "caveat: One model only."]
    assert "# Why the caveat: the anchor's numbers are for one model.\naliases: []" in after  # the comment stays


def test_a_changed_value_is_styled_as_new(tmp_path: Path) -> None:
    """A value that changes is written as a new one would be (no stale quotes or block style)."""
    path = tmp_path / "x.yaml"
    path.write_text("a: 'quoted'  # note\nb: |\n  two\n  lines\nc: same\n")
    write_yaml(path, {"a": "plain now", "b": "one line", "c": "same", "d": "new\ntext"})
    assert path.read_text() == "a: plain now # note\nb: one line\nc: same\nd: |-\n  new\n  text\n"


def test_an_unreadable_file_is_named_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("a: [1, 2\n")
    with pytest.raises(InvalidInput, match="malformed YAML") as caught:
        write_yaml(path, {"a": [1, 2]})
    assert caught.value.problem.file.endswith("broken.yaml")
    assert path.read_text() == "a: [1, 2\n"


def test_status_does_not_import_the_round_trip_writer(repo_workspace: Path) -> None:
    code = (
        "import sys\nfrom claimtrack.cli import app\n"
        f"try:\n    app(['-w', {str(repo_workspace)!r}, 'status'])\nexcept SystemExit:\n    pass\n"
        "print('RUAMEL', 'ruamel.yaml' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "RUAMEL False" in out
