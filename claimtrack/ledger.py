"""The SQLite ledger in the state folder: runs, papers, judgements, jobs and caches.

Each subsystem owns its tables and declares them with `Ledger.ensure(name, ddl)`, so the ledger
needs no central schema and an old workspace gains new tables the first time they are used.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from claimtrack.workspace import Workspace

_BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS schema_parts (
    name TEXT PRIMARY KEY,
    ddl_hash TEXT NOT NULL
);
"""

RUNS_DDL = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    command TEXT NOT NULL,
    outcome TEXT,              -- ok | failed | interrupted; NULL while running
    summary_json TEXT
);
"""


class Ledger:
    """A connection to the workspace's ledger: WAL mode, so readers never block the run that writes."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.conn = sqlite3.connect(path, timeout=30.0, isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.conn.executescript(_BOOKKEEPING)
        self._ensured: set[str] = set()
        self.ensure("runs", RUNS_DDL)

    @classmethod
    def open(cls, workspace: Workspace) -> Ledger:
        return cls(workspace.ensure_state() / workspace.ledger_path.name)

    def ensure(self, name: str, ddl: str) -> None:
        """Create a subsystem's tables once; DDL must be idempotent (`CREATE ... IF NOT EXISTS`)."""
        if name in self._ensured:
            return
        digest = hashlib.sha256(ddl.encode()).hexdigest()[:16]
        row = self.conn.execute("SELECT ddl_hash FROM schema_parts WHERE name = ?", (name,)).fetchone()
        if row is None or row["ddl_hash"] != digest:
            with self.transaction():
                for statement in _statements(ddl):
                    self.conn.execute(statement)
                self.conn.execute(
                    "INSERT INTO schema_parts(name, ddl_hash) VALUES (?, ?) "
                    "ON CONFLICT(name) DO UPDATE SET ddl_hash = excluded.ddl_hash",
                    (name, digest),
                )
        self._ensured.add(name)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT: one writer at a time, all or nothing. Nested use joins the outer one."""
        if self.conn.in_transaction:
            yield self.conn
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _statements(ddl: str) -> list[str]:
    """Split DDL into statements (sqlite3's execute takes one at a time; executescript would COMMIT)."""
    statements, buffer = [], ""
    for line in ddl.splitlines(keepends=True):
        buffer += line.split("--", 1)[0] + ("\n" if "--" in line else "")
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements
