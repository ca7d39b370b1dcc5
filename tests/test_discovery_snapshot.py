"""`claimtrack papers import`: arXiv's metadata snapshot, streamed, idempotent, bad lines reported."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from conftest import invoke

from claimtrack.discovery.snapshot import import_snapshot, parse_record
from claimtrack.ledger import Ledger
from claimtrack.papers import get_paper
from claimtrack.workspace import Workspace


def record(
    arxiv_id: str,
    title: str,
    categories: str = "cs.CL cs.LG",
    created: str = "Mon, 5 Feb 2024 10:00:00 GMT",
    **extra: object,
) -> dict:
    return {
        "id": arxiv_id,
        "submitter": "A. Person",
        "authors": "Ann Lee and Bo Chen",
        "title": title,
        "comments": None,
        "journal-ref": None,
        "doi": None,
        "report-no": None,
        "categories": categories,
        "license": None,
        "abstract": f"  We study {title.lower()}.\n  It matters.  ",
        "versions": [
            {"version": "v1", "created": created},
            {"version": "v2", "created": "Tue, 6 Feb 2024 10:00:00 GMT"},
        ],
        "update_date": "2024-02-06",
        "authors_parsed": [["Lee", "Ann", ""], ["Chen", "Bo", ""]],
        **extra,
    }


def write_snapshot(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def good_lines() -> list[str]:
    return [
        json.dumps(record("2402.01234", "Format learning in instruction tuning")),
        json.dumps(record("2403.04321", "Chain of thought after fine-tuning", doi="10.1000/XYZ.1")),
        json.dumps(record("2401.00007", "Galaxy rotation curves", categories="astro-ph.GA")),
    ]


def test_a_record_becomes_a_paper() -> None:
    paper = parse_record(record("2402.01234", "Format learning"))
    assert (paper.id, paper.version, paper.published, paper.updated) == ("2402.01234", "v2", "2024-02-05", "2024-02-06")
    assert paper.authors == ["Ann Lee", "Bo Chen"] and paper.categories == ["cs.CL", "cs.LG"]
    assert paper.abstract == "We study format learning. It matters."


def test_cut_off_and_garbled_lines_are_reported_and_the_rest_imported(tmp_path: Path) -> None:
    lines = good_lines()
    lines.insert(1, lines[0][:57])  # a truncated line (line 2)
    lines.append('{"title": "no id here"}')  # line 5
    snapshot = write_snapshot(tmp_path / "snap.jsonl", lines)
    ledger = Ledger(tmp_path / "ledger.sqlite")
    summary = import_snapshot(ledger, snapshot, batch=2)
    assert (summary.lines, summary.new, summary.updated) == (5, 3, 0)
    assert [n for n, _ in summary.bad] == [2, 5]
    assert "not valid JSON" in summary.bad[0][1] and "'id'" in summary.bad[1][1]
    assert get_paper(ledger, "2403.04321").doi == "10.1000/xyz.1"


def test_reimport_is_idempotent(tmp_path: Path) -> None:
    snapshot = write_snapshot(tmp_path / "snap.jsonl", good_lines())
    ledger = Ledger(tmp_path / "ledger.sqlite")
    import_snapshot(ledger, snapshot)
    again = import_snapshot(ledger, snapshot)
    assert (again.new, again.updated) == (0, 3)
    assert ledger.conn.execute("SELECT COUNT(*) FROM papers").fetchone()[0] == 3
    assert ledger.conn.execute("SELECT COUNT(*) FROM paper_sightings").fetchone()[0] == 3


def test_gzip_and_category_filter(tmp_path: Path) -> None:
    path = tmp_path / "snap.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("\n".join(good_lines()) + "\n")
    ledger = Ledger(tmp_path / "ledger.sqlite")
    summary = import_snapshot(ledger, path, categories=["cs."])
    assert (summary.new, summary.filtered) == (2, 1)


def test_cli_import_reports_bad_lines_with_file_and_number(empty_workspace: Path) -> None:
    lines = good_lines()
    lines.append(lines[0][:40])
    snapshot = write_snapshot(empty_workspace / "snap.jsonl", lines)
    result = invoke("-w", str(empty_workspace), "papers", "import", str(snapshot), "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["new"] == 3
    assert f"{snapshot}:4: skipped: not valid JSON" in result.stderr
    ledger = Ledger.open(Workspace.at(empty_workspace))
    assert ledger.conn.execute("SELECT COUNT(*) FROM papers").fetchone()[0] == 3


def test_cli_import_of_a_missing_file_is_one_line_exit_2(empty_workspace: Path) -> None:
    result = invoke("-w", str(empty_workspace), "papers", "import", str(empty_workspace / "nope.jsonl"))
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {empty_workspace / 'nope.jsonl'}: no such file"


def test_cli_import_of_nothing_but_garbage_fails(empty_workspace: Path) -> None:
    snapshot = write_snapshot(empty_workspace / "bad.jsonl", ["{not json", "[1, 2]"])
    result = invoke("-w", str(empty_workspace), "papers", "import", str(snapshot))
    assert result.exit_code == 2 and "0 new" in result.stdout and result.stderr.count("skipped") == 2
