"""The SQLite ledger in the state folder: runs, papers, judgements, jobs and caches.

Its schema is owned by `claimtrack.migrations`; opening a ledger brings it up to date, so code that uses a
table can rely on it being there with every column.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from claimtrack.errors import LedgerUnreadable
from claimtrack.migrations import migrate
from claimtrack.workspace import Workspace


class Ledger:
    """The workspace's ledger: WAL mode, so readers never block the run that writes.

    Each thread gets its own connection (a run's workers judge pairs and fetch papers in threads), so one
    thread's transaction never swallows another's statements; writes take one lock, so the process has one
    writer at a time and never waits on SQLite's busy handler for itself."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()  # guards _conns
        self._writer = threading.RLock()
        try:
            conn = self._connect()
        except sqlite3.DatabaseError as exc:  # a folder or an unreadable file where the ledger should be
            raise LedgerUnreadable(path, str(exc)) from None
        try:
            _use_wal(conn)
            migrate(conn, path)
        except sqlite3.DatabaseError as exc:
            self.close()
            if is_damage(exc):
                raise LedgerUnreadable(path, str(exc)) from None
            raise
        except BaseException:
            self.close()
            raise

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        try:
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
        except BaseException:
            conn.close()
            raise
        with self._lock:
            self._conns.append(conn)
        self._local.conn = conn
        return conn

    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection, opened on its first use."""
        conn = getattr(self._local, "conn", None)
        return conn if conn is not None else self._connect()

    @classmethod
    def open(cls, workspace: Workspace) -> Ledger:
        return cls(workspace.ensure_state() / workspace.ledger_path.name)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT: one writer at a time, all or nothing. Nested use (in one thread) joins the outer
        one."""
        conn = self.conn
        if conn.in_transaction:
            yield conn
            return
        with self._writer:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def close(self) -> None:
        """Close every thread's connection (the run's workers have ended, or are abandoned on Ctrl-C)."""
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            conn.close()

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
