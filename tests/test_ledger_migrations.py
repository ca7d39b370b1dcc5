"""The ledger's schema migrations: an old ledger migrates on first open and keeps its rows, a later migration
reaches an existing ledger, a failed one changes nothing, a newer ledger is refused, and two processes opening
a new ledger at once migrate it once."""

from __future__ import annotations

import multiprocessing
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, invoke

from claimtrack import migrations
from claimtrack.agent.judge import cached
from claimtrack.discovery import lexical
from claimtrack.errors import LedgerTooNew
from claimtrack.ledger import Ledger
from claimtrack.papers import Paper, get_paper, pending_candidates, upsert_paper

OLD_LEDGER = FIXTURES / "ledger" / "ledger-before-migrations.sql"
TABLES = {
    "runs",
    "papers",
    "paper_sightings",
    "candidates",
    "judgements",
    "llm_calls",
    "query_plans",
    "http_cache",
    "replication_jobs",
}
INDEXES = {"papers_doi", "judgements_claim", "replication_jobs_claim"}
SHIPPED = [fn.__name__ for fn in migrations.MIGRATIONS]  # what this code ships, in order


def _next(what: str, skip: int = 0) -> str:
    """The name a branch's next migration takes (numbered after the shipped ones)."""
    return f"m{len(SHIPPED) + 1 + skip:03d}_{what}"


def _named(name: str, fn: migrations.Migration) -> migrations.Migration:
    fn.__name__ = name
    return fn


def _old_ledger(path: Path) -> Path:
    """The fixture, loaded as the file claimtrack 98147ae left behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    conn.executescript(OLD_LEDGER.read_text())
    conn.close()
    return path


def _rows(conn: sqlite3.Connection, like: dict[str, list[str]] | None = None) -> dict[str, list[tuple]]:
    """Every row of every table, in the columns `like` names per table (default: all of them)."""
    out = {}
    for table in sorted(TABLES):
        columns = ", ".join(like[table]) if like else "*"
        out[table] = [tuple(r) for r in conn.execute(f"SELECT {columns} FROM {table} ORDER BY rowid")]
    return out


def _columns(conn: sqlite3.Connection) -> dict[str, list[str]]:
    return {t: [c[1] for c in conn.execute(f"PRAGMA table_info({t})")] for t in sorted(TABLES)}


def _schema(conn: sqlite3.Connection) -> dict[str, list[tuple]]:
    """Each table's columns (name, type, not null, default, primary key) and the indexes, ignoring SQL text."""
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    schema = {name: [tuple(c)[1:] for c in conn.execute(f"PRAGMA table_info({name})")] for name in names}
    indexes = conn.execute("SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
    schema["indexes"] = sorted(tuple(r) for r in indexes)
    return schema


def _later_column(monkeypatch: pytest.MonkeyPatch) -> None:
    """A later migration as a branch would add it: a column on a table that already holds rows."""
    monkeypatch.setattr(migrations, "MIGRATIONS", list(migrations.MIGRATIONS))

    def candidates_note(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE candidates ADD COLUMN note TEXT NOT NULL DEFAULT ''")

    migrations.migration(_named(_next("candidates_note"), candidates_note))


def test_a_ledger_made_before_migrations_keeps_every_row_and_gains_the_bookkeeping(tmp_path: Path) -> None:
    path = _old_ledger(tmp_path / "ledger.sqlite")
    with sqlite3.connect(path) as conn:
        before, old_columns = _rows(conn), _columns(conn)
    assert all(before.values()), "the fixture holds a row in every table"

    with Ledger(path) as ledger:
        conn = ledger.conn
        assert migrations.applied(conn) == SHIPPED
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert tables >= TABLES | {"_migrations"}
        assert "schema_parts" not in tables
        assert _rows(conn, old_columns) == before
        # The code reads what the old code wrote.
        assert get_paper(ledger, "2401.00001").title == "A paper that relaxes the demo claim"
        assert cached(ledger, "f" * 64)["quote"] == "the effect holds only at small scale"
        assert pending_candidates(ledger) == []  # the one candidate is judged
        migrated = _schema(conn)

    with Ledger(tmp_path / "fresh.sqlite") as fresh:
        assert _schema(fresh.conn) == migrated
        assert {name for name, _ in _schema(fresh.conn)["indexes"]} >= INDEXES


def test_an_old_ledger_s_papers_become_searchable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The papers_fts migration indexes the papers a ledger already holds, whether it predates migrations or stopped at
    m001, and the index follows papers stored afterwards."""
    before_migrations = _old_ledger(tmp_path / "old.sqlite")
    with Ledger(before_migrations) as ledger:
        assert [i for i, _ in lexical.search(ledger.conn, "effect at small scale", 5)] == ["2401.00001"]

    stopped_at_m001 = _old_ledger(tmp_path / "m001.sqlite")
    monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:1])
    Ledger(stopped_at_m001).close()
    monkeypatch.undo()
    with Ledger(stopped_at_m001) as ledger:
        assert any(n.endswith("_papers_fts") for n in migrations.applied(ledger.conn))
        assert [i for i, _ in lexical.search(ledger.conn, "relaxes the demo claim", 5)] == ["2401.00001"]
        upsert_paper(ledger, Paper(id="2402.00002", title="Demo claim survives replication"), source="test")
        assert [i for i, _ in lexical.search(ledger.conn, "survives", 5)] == ["2402.00002"]
        ledger.conn.execute("INSERT INTO papers_fts (papers_fts, rank) VALUES ('integrity-check', 1)")


def test_a_second_open_changes_nothing(tmp_path: Path) -> None:
    path = _old_ledger(tmp_path / "ledger.sqlite")
    Ledger(path).close()
    with sqlite3.connect(path) as conn:
        recorded = conn.execute("SELECT name, applied_at FROM _migrations").fetchall()
        rows = _rows(conn)
    with Ledger(path) as again:
        assert again.conn.total_changes == 0  # nothing written on open
        assert [tuple(r) for r in again.conn.execute("SELECT name, applied_at FROM _migrations")] == recorded
        assert _rows(again.conn) == rows
        assert migrations.migrate(again.conn, path) == []


def test_a_later_migration_reaches_a_ledger_that_already_has_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _old_ledger(tmp_path / "ledger.sqlite")
    Ledger(path).close()  # migrated by today's code
    _later_column(monkeypatch)
    with Ledger(path) as ledger:
        assert migrations.applied(ledger.conn) == [*SHIPPED, _next("candidates_note")]
        columns = [c["name"] for c in ledger.conn.execute("PRAGMA table_info(candidates)")]
        assert columns[-1] == "note"
        assert [tuple(r) for r in ledger.conn.execute("SELECT claim_id, note FROM candidates")] == [("demo-claim", "")]

    # A ledger from before migrations takes both steps in one open.
    older = _old_ledger(tmp_path / "older.sqlite")
    with Ledger(older) as ledger:
        assert migrations.applied(ledger.conn) == [*SHIPPED, _next("candidates_note")]
        assert "note" in [c["name"] for c in ledger.conn.execute("PRAGMA table_info(candidates)")]


def test_a_failing_migration_leaves_the_ledger_as_it_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "ledger.sqlite"
    Ledger(path).close()
    monkeypatch.setattr(migrations, "MIGRATIONS", list(migrations.MIGRATIONS))

    def half_done(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE runs ADD COLUMN note TEXT")
        raise sqlite3.OperationalError("disk full, say")

    migrations.migration(_named(_next("half_done"), half_done))

    with pytest.raises(sqlite3.OperationalError, match="disk full"):
        Ledger(path)
    with sqlite3.connect(path) as conn:
        assert migrations.applied(conn) == SHIPPED
        assert "note" not in [c[1] for c in conn.execute("PRAGMA table_info(runs)")]


def test_migrations_must_be_numbered_in_sequence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(migrations, "MIGRATIONS", list(migrations.MIGRATIONS))

    def skips_one(conn: sqlite3.Connection) -> None:
        pass

    def no_case(conn: sqlite3.Connection) -> None:
        pass

    for fn in (_named(_next("skips_one", skip=1), skips_one), _named(_next("No_Case"), no_case)):
        with pytest.raises(ValueError, match=f"must be named {_next('<what>')}"):
            migrations.migration(fn)
    assert [fn.__name__ for fn in migrations.MIGRATIONS] == SHIPPED


def test_a_ledger_from_a_newer_claimtrack_is_refused(repo_workspace: Path) -> None:
    path = repo_workspace / ".claimtrack" / "ledger.sqlite"
    Ledger(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO _migrations (name, applied_at) VALUES ('m999_from_the_future', '2030-01-01')")
    before = path.read_bytes()

    with pytest.raises(LedgerTooNew) as refused:
        Ledger(path)
    assert str(path) in str(refused.value) and "m999_from_the_future" in str(refused.value)

    result = invoke("-w", str(repo_workspace), "report", "status", "--format", "json")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {path}: made by a newer claimtrack")
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert path.read_bytes() == before


def slow_and_counted(conn: sqlite3.Connection) -> None:
    # Slow, so the other process is at the lock while this one migrates; counted, so a second apply shows.
    conn.execute("CREATE TABLE IF NOT EXISTS applied_log (pid INTEGER)")
    conn.execute("INSERT INTO applied_log VALUES (1)")
    time.sleep(0.5)


def _open_with_a_second_migration(barrier: Any, path: str) -> None:
    migrations.migration(_named(_next("slow_and_counted"), slow_and_counted))  # registered in this child alone
    barrier.wait()
    Ledger(Path(path)).close()


def test_two_processes_opening_a_new_ledger_at_once_migrate_it_once(tmp_path: Path) -> None:
    path = tmp_path / "state" / "ledger.sqlite"
    # spawn, not fork: forking pytest's process, whose other threads may hold locks, can hang the child.
    spawn = multiprocessing.get_context("spawn")
    barrier = spawn.Barrier(2)
    children = [spawn.Process(target=_open_with_a_second_migration, args=(barrier, str(path))) for _ in range(2)]
    for child in children:
        child.start()
    for child in children:
        child.join(timeout=120)
    assert [child.exitcode for child in children] == [0, 0]
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM applied_log").fetchone() == (1,)
        assert [r[0] for r in conn.execute("SELECT name FROM _migrations")] == [*SHIPPED, _next("slow_and_counted")]


def test_a_ledger_from_before_the_anchor_records_gains_them(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    Ledger(path).close()
    name = next(fn.__name__ for fn in migrations.MIGRATIONS if fn.__name__.endswith("_arxiv_records"))
    with sqlite3.connect(path) as conn:  # as the migrations before it left it
        conn.execute("DROP TABLE arxiv_records")
        conn.execute("DELETE FROM _migrations WHERE name = ?", (name,))
        conn.execute("INSERT INTO papers (id, title, first_seen_at) VALUES ('2401.00001', 'Kept', '2026-01-01')")
    with Ledger(path) as ledger:
        assert name in migrations.applied(ledger.conn)
        columns = [c["name"] for c in ledger.conn.execute("PRAGMA table_info(arxiv_records)")]
        assert columns == ["id", "version", "latest", "record_json", "fetched_at"]
        assert get_paper(ledger, "2401.00001").title == "Kept"


def test_a_ledger_of_the_first_schema_gains_judgement_roles_the_review_queue_and_counted_attempts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ledger.sqlite"
    with monkeypatch.context() as first_only:  # the ledger as the code before confirmation left it
        first_only.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:1])
        with Ledger(path) as ledger:
            ledger.conn.execute(
                "INSERT INTO judgements (key, claim_id, paper_id, model, prompt_version, outcome, stance, quote,"
                " confidence, judged_at) VALUES ('k', 'c', '2501.00001', 'm', 'p', 'judged', 'supports', 'q', 0.8,"
                " '2026-01-01T00:00:00+00:00')"
            )
            ledger.conn.execute(
                "INSERT INTO llm_calls (purpose, model, ok, at) VALUES ('judge', 'm', 1, '2026-01-01T00:00:00')"
            )
    with Ledger(path) as ledger:
        assert migrations.applied(ledger.conn) == SHIPPED
        assert any(n.endswith("_confirmation_and_review") for n in SHIPPED)
        assert any(n.endswith("_llm_call_attempts") for n in SHIPPED)
        row = cached(ledger, "k")
        assert (row["role"], row["quote"], row["sentences_json"], row["quote_source"]) == ("judge", "q", None, None)
        call = ledger.conn.execute("SELECT attempt, seconds FROM llm_calls").fetchone()
        assert tuple(call) == (1, None)
        assert ledger.conn.execute("SELECT COUNT(*) FROM reviews").fetchone()[0] == 0
