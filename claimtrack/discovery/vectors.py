"""The vectors a search has used, readable without Chroma: a small SQLite file beside the Chroma folder.

Why: importing chromadb and opening its client cost about 2.5 s per process (docs/discovery.md), more than a
whole repeated search. A repeated `discover` or `papers search` ranks a pool whose vectors are all known, so it
reads just those vectors (and the query's) here, by id and the hash of the text they were made from, and
neither loads the model nor opens Chroma. Chroma stays the store that embeds and serves the vectors (a shared
server, `papers index`, nearest-neighbour search); this file holds copies of the ones searches needed, written
after Chroma returned them. A copy whose text hash differs from the paper's current text is never used, so a
changed paper is embedded again through Chroma.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

FILENAME = "vectors.sqlite"


class VectorCopies:
    """id -> (text hash, float32 vector) for papers, and query hash -> vector for queries."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(path, timeout=60)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS vectors (id TEXT PRIMARY KEY, hash TEXT NOT NULL, vector BLOB NOT NULL)"
        )

    def close(self) -> None:
        self.conn.close()

    def get(self, wanted: Mapping[str, str]) -> dict[str, np.ndarray]:
        """The stored vectors of the ids in `wanted` (id -> text hash) whose hash matches."""
        found: dict[str, np.ndarray] = {}
        ids = list(wanted)
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            rows = self.conn.execute(
                f"SELECT id, hash, vector FROM vectors WHERE id IN ({','.join('?' * len(part))})", part
            )
            for doc_id, digest, blob in rows:
                if wanted[doc_id] == digest:
                    found[doc_id] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put(self, rows: Iterable[tuple[str, str, Sequence[float]]]) -> None:
        """Keep (id, text hash, vector) rows, replacing older copies."""
        with self.conn:
            self.conn.executemany(
                "INSERT INTO vectors (id, hash, vector) VALUES (?, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET hash = excluded.hash, vector = excluded.vector",
                [(doc_id, digest, np.asarray(v, dtype=np.float32).tobytes()) for doc_id, digest, v in rows],
            )
