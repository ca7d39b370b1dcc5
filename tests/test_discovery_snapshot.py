"""`claimtrack papers import`: arXiv's metadata snapshot, streamed, idempotent, bad lines reported."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from conftest import invoke

from claimtrack.discovery import lexical
from claimtrack.discovery.snapshot import import_snapshot, parse_record
from claimtrack.ledger import Ledger
from claimtrack.papers import Paper, get_paper, upsert_paper
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


def test_reimport_reports_unchanged_papers_and_writes_nothing(tmp_path: Path) -> None:
    snapshot = write_snapshot(tmp_path / "snap.jsonl", good_lines())
    ledger = Ledger(tmp_path / "ledger.sqlite")
    first = import_snapshot(ledger, snapshot)
    assert (first.new, first.updated, first.unchanged) == (3, 0, 0)
    writes = ledger.conn.total_changes
    again = import_snapshot(ledger, snapshot)
    assert (again.new, again.updated, again.unchanged) == (0, 0, 3)
    assert ledger.conn.total_changes == writes  # no row written, not even a sighting
    assert ledger.conn.execute("SELECT COUNT(*) FROM papers").fetchone()[0] == 3
    assert ledger.conn.execute("SELECT COUNT(*) FROM paper_sightings").fetchone()[0] == 3


def test_a_changed_paper_is_updated_and_searchable_by_its_new_text(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite")
    import_snapshot(ledger, write_snapshot(tmp_path / "v1.jsonl", good_lines()))
    revised = record("2402.01234", "Format learning in instruction tuning")
    revised["abstract"] = "A revised abstract about pulsar timing."
    revised["versions"].append({"version": "v3", "created": "Wed, 7 Feb 2024 10:00:00 GMT"})
    lines = good_lines()
    lines[0] = json.dumps(revised)
    summary = import_snapshot(ledger, write_snapshot(tmp_path / "v2.jsonl", lines))
    assert (summary.new, summary.updated, summary.unchanged) == (0, 1, 2)
    paper = get_paper(ledger, "2402.01234")
    assert (paper.version, paper.abstract) == ("v3", "A revised abstract about pulsar timing.")
    assert [i for i, _ in lexical.search(ledger.conn, "pulsar", 5)] == ["2402.01234"]
    assert "2402.01234" not in [i for i, _ in lexical.search(ledger.conn, "matters", 5)]  # the old abstract's word
    ledger.conn.execute("INSERT INTO papers_fts (papers_fts, rank) VALUES ('integrity-check', 1)")


def test_batch_storage_follows_dois_and_repeats_like_one_at_a_time(tmp_path: Path) -> None:
    """A snapshot paper whose DOI a provisional row holds re-keys that row; a paper twice in one batch is one row."""
    ledger = Ledger(tmp_path / "ledger.sqlite")
    with ledger.transaction():
        s2 = Paper(id="doi:10.1000/xyz.1", doi="10.1000/xyz.1", title="Chain of thought after fine-tuning")
        upsert_paper(ledger, s2, source="semanticscholar", claim_id="c")
        ledger.conn.execute(
            "INSERT INTO candidates (claim_id, paper_id, score, rank, found_at) VALUES ('c', ?, 1, 1, 'now')", (s2.id,)
        )
    lines = good_lines()
    lines.append(json.dumps(record("2402.01234", "Format learning in instruction tuning, second edition")))
    summary = import_snapshot(ledger, write_snapshot(tmp_path / "snap.jsonl", lines))
    assert (summary.new, summary.updated, summary.unchanged) == (2, 2, 0)  # the repeat updates its own row
    assert ledger.conn.execute("SELECT COUNT(*) FROM papers").fetchone()[0] == 3
    assert get_paper(ledger, "doi:10.1000/xyz.1") is None
    assert get_paper(ledger, "2403.04321").title == "Chain of thought after fine-tuning"
    assert ledger.conn.execute("SELECT paper_id FROM candidates").fetchone()[0] == "2403.04321"
    assert get_paper(ledger, "2402.01234").title.endswith("second edition")
    assert [i for i, _ in lexical.search(ledger.conn, "edition", 5)] == ["2402.01234"]
    ledger.conn.execute("INSERT INTO papers_fts (papers_fts, rank) VALUES ('integrity-check', 1)")


def test_gzip_and_category_filter(tmp_path: Path) -> None:
    path = tmp_path / "snap.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("\n".join(good_lines()) + "\n")
    ledger = Ledger(tmp_path / "ledger.sqlite")
    summary = import_snapshot(ledger, path, categories=["cs."])
    assert (summary.new, summary.filtered) == (2, 1)


def test_a_cut_off_gzip_file_is_one_error_and_the_lines_before_it_are_kept(empty_workspace: Path) -> None:
    whole = gzip.compress(("\n".join(good_lines() * 400) + "\n").encode())
    path = empty_workspace / "snap.jsonl.gz"
    path.write_bytes(whole[: len(whole) // 2])
    result = invoke("-w", str(empty_workspace), "papers", "import", str(path))
    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if not line.startswith("importing: read ")]  # progress
    assert len(errors) == 1 and errors[0].startswith(f"error: {path}: line ") and "cannot be read" in errors[0]
    ledger = Ledger.open(Workspace.at(empty_workspace))
    assert ledger.conn.execute("SELECT COUNT(*) FROM papers").fetchone()[0] == 3


def test_cli_import_reports_bad_lines_with_file_and_number(empty_workspace: Path) -> None:
    lines = good_lines()
    lines.append(lines[0][:40])
    snapshot = write_snapshot(empty_workspace / "snap.jsonl", lines)
    result = invoke("-w", str(empty_workspace), "papers", "import", str(snapshot), "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["new"] == 3
    assert f"{snapshot}:4: skipped: not valid JSON" in result.stderr
    again = invoke("-w", str(empty_workspace), "papers", "import", str(snapshot))
    assert again.stdout.startswith("read 4 records: 0 new, 0 updated, 3 unchanged, 0 filtered out, 1 unreadable")
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
