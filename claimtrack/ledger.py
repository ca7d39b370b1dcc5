"""The SQLite ledger in the state folder: runs, papers, judgements, jobs and caches.

Its schema is owned by `claimtrack.migrations`; opening a ledger brings it up to date, so code that uses a
table can rely on it being there with every column.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from claimtrack.errors import LedgerUnreadable
from claimtrack.migrations import migrate
from claimtrack.workspace import Workspace


class Ledger:
    """A connection to the workspace's ledger: WAL mode, so readers never block the run that writes."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        try:
            self.conn = sqlite3.connect(path, timeout=30.0, isolation_level=None)
        except sqlite3.DatabaseError as exc:  # a folder or an unreadable file where the ledger should be
            raise LedgerUnreadable(path, str(exc)) from None
        self.conn.row_factory = sqlite3.Row
        try:
            _use_wal(self.conn)
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.execute("PRAGMA foreign_keys=ON")
            migrate(self.conn, path)
        except sqlite3.DatabaseError as exc:
            self.conn.close()
            if is_damage(exc):
                raise LedgerUnreadable(path, str(exc)) from None
            raise
        except BaseException:
            self.conn.close()
            raise

    @classmethod
    def open(cls, workspace: Workspace) -> Ledger:
        return cls(workspace.ensure_state() / workspace.ledger_path.name)

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


def _use_wal(conn: sqlite3.Connection, wait_s: float = 30.0) -> None:
    """Switch to WAL, waiting out a concurrent opener. SQLite answers "database is locked" at once, without
    its busy handler, when two processes make a new ledger WAL together; the first to win converts it."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.05)


_DAMAGE = ("not a database", "malformed", "unable to open", "disk I/O error")


def is_damage(exc: sqlite3.DatabaseError) -> bool:
    """A fault of the file itself (not a database, malformed, unreadable), as against a busy or locked ledger or
    a failing statement."""
    return any(words in str(exc) for words in _DAMAGE)
