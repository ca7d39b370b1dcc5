"""Papers in the ledger: stored once (versionless arXiv id, DOI as second key), with where each was seen,
and the per-claim candidates that discovery ranks and the agent judges."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from claimtrack.ledger import Ledger
from claimtrack.models import Claim, EvidenceKind, Model, PaperMerge


class Paper(Model):
    """A paper as claimtrack knows it, whichever source it came from."""

    id: str
    version: str | None = None
    doi: str | None = None
    title: str
    abstract: str = ""
    authors: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    published: str | None = None
    updated: str | None = None
    url: str | None = None

    @property
    def arxiv_id(self) -> str | None:
        return None if ":" in self.id else self.id

    @property
    def source(self) -> str:
        """How evidence and reviews name the paper: "arXiv:2305.11383", or the id of a paper not on arXiv."""
        return source_of(self.id)


def _row_to_paper(row: Any) -> Paper:
    return Paper(
        id=row["id"],
        version=row["version"],
        doi=row["doi"],
        title=row["title"],
        abstract=row["abstract"],
        authors=json.loads(row["authors_json"]),
        categories=json.loads(row["categories_json"]),
        published=row["published"],
        updated=row["updated"],
        url=row["url"],
    )


def get_paper(ledger: Ledger, paper_id: str) -> Paper | None:
    row = ledger.conn.execute("SELECT * FROM papers WHERE id = ?", (paper_id,)).fetchone()
    return _row_to_paper(row) if row else None


# Columns a source's metadata fills; an empty value in these keeps what is stored (a source without an abstract).
_COLUMNS = ("version", "doi", "title", "abstract", "authors_json", "categories_json", "published", "updated", "url")
_EMPTY = {"abstract": "", "authors_json": "[]", "categories_json": "[]"}


def _columns(paper: Paper) -> dict[str, Any]:
    """A paper's metadata as stored: the DOI lower-cased, lists as JSON."""
    return {
        "version": paper.version,
        "doi": paper.doi.lower() if paper.doi else None,
        "title": paper.title,
        "abstract": paper.abstract,
        "authors_json": json.dumps(paper.authors),
        "categories_json": json.dumps(paper.categories),
        "published": paper.published,
        "updated": paper.updated,
        "url": paper.url,
    }


def _merged_values(row: Any, new: dict[str, Any]) -> dict[str, Any]:
    """The stored row seen again: each field takes the new value unless the new source left it empty."""
    return {key: row[key] if value is None or value == _EMPTY.get(key) else value for key, value in new.items()}


def _differs(row: Any, values: dict[str, Any]) -> bool:
    return any(row[key] != value for key, value in values.items())


_UPDATE = f"UPDATE papers SET {', '.join(f'{c} = ?' for c in _COLUMNS)} WHERE id = ?"
_INSERT_COLUMNS = ("id", *_COLUMNS, "first_seen_at")


def upsert_paper(
    ledger: Ledger, paper: Paper, *, source: str, detail: str = "", claim_id: str = "", now: dt.datetime | None = None
) -> str:
    """Store a paper once, keeping the newest metadata; record the sighting. Returns the stored id.

    A paper known by DOI under a provisional id is found by its DOI, so no second row appears. A row whose
    metadata would not change is not rewritten. Runs inside the caller's transaction if there is one.
    """
    seen = (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
    conn = ledger.conn
    existing = conn.execute("SELECT * FROM papers WHERE id = ?", (paper.id,)).fetchone()
    if existing is None and paper.doi:
        existing = conn.execute("SELECT * FROM papers WHERE doi = ?", (paper.doi.lower(),)).fetchone()
    columns = _columns(paper)
    if existing is None:
        conn.execute(
            f"INSERT INTO papers ({', '.join(_INSERT_COLUMNS)}) VALUES ({','.join('?' * len(_INSERT_COLUMNS))})",
            (paper.id, *columns.values(), seen),
        )
        stored_id = paper.id
    else:
        stored_id = existing["id"]
        doi = columns["doi"]
        if doi:
            other = conn.execute("SELECT id FROM papers WHERE doi = ? AND id != ?", (doi, stored_id)).fetchone()
            if other is not None:  # the DOI names a second row: one paper stored twice until now
                stored_id = _merge_rows(conn, stored_id, other["id"], seen)
        if ":" in stored_id and ":" not in paper.id:
            # A provisional (DOI/S2) row gains its arXiv id: re-key it, and everything filed under the old id.
            conn.execute("PRAGMA defer_foreign_keys = ON")  # checked at commit, when all the tables agree
            conn.execute("UPDATE papers SET id = ? WHERE id = ?", (paper.id, stored_id))
            _move_rows(conn, stored_id, paper.id, seen)
            stored_id = paper.id
        if stored_id != existing["id"]:  # merged or re-keyed: compare with the row as it now stands
            existing = conn.execute("SELECT * FROM papers WHERE id = ?", (stored_id,)).fetchone()
        values = _merged_values(existing, columns)
        if _differs(existing, values):
            conn.execute(_UPDATE, (*values.values(), stored_id))
    conn.execute(
        "INSERT OR IGNORE INTO paper_sightings (paper_id, source, detail, claim_id, seen_at) VALUES (?,?,?,?,?)",
        (stored_id, source, detail, claim_id, seen),
    )
    return stored_id


@dataclass
class StoreCounts:
    """What storing a batch did: papers the ledger lacked, papers whose metadata changed, papers left as they were."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0


def store_papers(
    ledger: Ledger, papers: Sequence[Paper], *, source: str, now: dt.datetime | None = None
) -> StoreCounts:
    """Store a batch of papers (an imported snapshot) with upsert_paper's rules, in set-wise statements.

    New papers go in with one INSERT ... SELECT from a temporary table: FTS5 writes its pending index at every
    statement, so one statement per batch rather than per row keeps the index's triggers cheap
    (benchmarks/fts_import.py). Papers that changed are updated; the others are not written at all. A paper
    whose DOI another row holds, or that repeats within the batch, goes through upsert_paper one at a time.
    """
    seen = (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
    counts = StoreCounts()
    with ledger.transaction() as conn:
        columns = [_columns(p) for p in papers]
        by_id = {row["id"]: row for row in _rows_where(conn, "id", [p.id for p in papers])}
        owners = {row["doi"]: row["id"] for row in _rows_where(conn, "doi", [c["doi"] for c in columns if c["doi"]])}
        fresh: list[tuple[Any, ...]] = []
        changed: list[tuple[Any, ...]] = []
        one_by_one: list[Paper] = []
        ids: set[str] = set()
        dois: set[str] = set()
        known: list[str] = []  # stored before, updated or not: their sightings
        for paper, new in zip(papers, columns, strict=True):
            doi = new["doi"]
            if paper.id in ids or doi in dois or owners.get(doi, paper.id) != paper.id:
                one_by_one.append(paper)
                continue
            ids.add(paper.id)
            if doi:
                dois.add(doi)
            row = by_id.get(paper.id)
            if row is None:
                fresh.append((paper.id, *new.values(), seen))
                counts.new += 1
                continue
            known.append(paper.id)
            values = _merged_values(row, new)
            if _differs(row, values):
                changed.append((*values.values(), paper.id))
                counts.updated += 1
            else:
                counts.unchanged += 1
        sighting = "INSERT OR IGNORE INTO paper_sightings (paper_id, source, detail, claim_id, seen_at)"
        if fresh:
            names = ", ".join(_INSERT_COLUMNS)
            conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS incoming_papers ({names})")
            conn.executemany(f"INSERT INTO temp.incoming_papers VALUES ({','.join('?' * len(_INSERT_COLUMNS))})", fresh)
            conn.execute(f"INSERT INTO papers ({names}) SELECT {names} FROM temp.incoming_papers ORDER BY rowid")
            conn.execute(f"{sighting} SELECT id, ?, '', '', ? FROM temp.incoming_papers", (source, seen))
            conn.execute("DELETE FROM temp.incoming_papers")
        conn.executemany(_UPDATE, changed)
        conn.executemany(f"{sighting} VALUES (?,?,'','',?)", [(paper_id, source, seen) for paper_id in sorted(known)])
        for paper in one_by_one:
            before = conn.execute("SELECT * FROM papers WHERE id = ?", (paper.id,)).fetchone()
            if before is None and paper.doi:
                before = conn.execute("SELECT * FROM papers WHERE doi = ?", (paper.doi.lower(),)).fetchone()
            stored_id = upsert_paper(ledger, paper, source=source, now=now)
            after = conn.execute("SELECT * FROM papers WHERE id = ?", (stored_id,)).fetchone()
            if before is None:
                counts.new += 1
            elif tuple(before) != tuple(after):
                counts.updated += 1
            else:
                counts.unchanged += 1
    return counts


def _rows_where(conn: sqlite3.Connection, column: str, values: Sequence[str]) -> list[sqlite3.Row]:
    """The papers whose `column` is one of `values`, asked in chunks that stay under SQLite's variable limit."""
    rows: list[sqlite3.Row] = []
    for start in range(0, len(values), 500):
        part = values[start : start + 500]
        rows += conn.execute(f"SELECT * FROM papers WHERE {column} IN ({','.join('?' * len(part))})", part).fetchall()
    return rows


def _merge_rows(conn: Any, one: str, other: str, seen: str) -> str:
    """Fold two rows that turn out to be one paper (an arXiv row without a DOI, and a DOI-only row from a
    citation source, before arXiv reports the DOI) into one; returns the id kept. The arXiv id is kept over a
    provisional one; the row dropped gives its DOI and everything filed under its id (`_move_rows`)."""
    keep, drop = (other, one) if ":" in one and ":" not in other else (one, other)
    dropped = conn.execute("SELECT * FROM papers WHERE id = ?", (drop,)).fetchone()
    conn.execute("PRAGMA defer_foreign_keys = ON")
    conn.execute("UPDATE papers SET doi = NULL WHERE id = ?", (drop,))
    conn.execute(
        "UPDATE papers SET doi = ?, abstract = CASE WHEN abstract = '' THEN ? ELSE abstract END,"
        " published = COALESCE(published, ?) WHERE id = ?",
        (dropped["doi"], dropped["abstract"], dropped["published"], keep),
    )
    _move_rows(conn, drop, keep, seen)
    conn.execute("DELETE FROM papers WHERE id = ?", (drop,))
    return keep


def _move_rows(conn: Any, drop: str, keep: str, seen: str) -> None:
    """File everything known under `drop` under `keep` (one paper, two ids): sightings, candidates, judgements,
    review items, citation contexts, full texts and passage choices; and remember `drop` as an alias of `keep`,
    so claim files naming it are rewritten (`aliases`). Where both ids hold a row for one key, the kept
    paper's, or the one further along, stays: a candidate judged over an unjudged one, a decided review item
    over an open one (one review item per claim and paper)."""
    conn.execute(
        "INSERT OR IGNORE INTO paper_sightings (paper_id, source, detail, claim_id, seen_at)"
        " SELECT ?, source, detail, claim_id, seen_at FROM paper_sightings WHERE paper_id = ?",
        (keep, drop),
    )
    conn.execute("DELETE FROM paper_sightings WHERE paper_id = ?", (drop,))
    conn.execute(
        "DELETE FROM candidates WHERE paper_id = ? AND claim_id IN"
        " (SELECT claim_id FROM candidates WHERE paper_id = ? AND state != 'unjudged')",
        (drop, keep),
    )
    conn.execute(
        "DELETE FROM candidates WHERE paper_id = ? AND claim_id IN"
        " (SELECT claim_id FROM candidates WHERE paper_id = ?)",
        (keep, drop),
    )
    conn.execute("UPDATE candidates SET paper_id = ? WHERE paper_id = ?", (keep, drop))
    conn.execute("UPDATE judgements SET paper_id = ? WHERE paper_id = ?", (keep, drop))
    conn.execute("UPDATE reviews SET paper_id = ? WHERE paper_id = ?", (keep, drop))
    # An open item beside another item of the same claim and paper: the decided one, else the newer, stays.
    conn.execute(
        "DELETE FROM reviews WHERE paper_id = ? AND state = 'open' AND EXISTS (SELECT 1 FROM reviews r"
        " WHERE r.claim_id = reviews.claim_id AND r.paper_id = reviews.paper_id AND r.id != reviews.id"
        " AND (r.state != 'open' OR (r.created_at, r.id) > (reviews.created_at, reviews.id)))",
        (keep,),
    )
    for table, key in (("citation_contexts", "anchor"), ("fulltexts", "version")):
        conn.execute(
            f"DELETE FROM {table} WHERE paper_id = ? AND {key} IN (SELECT {key} FROM {table} WHERE paper_id = ?)",
            (drop, keep),
        )
        conn.execute(f"UPDATE {table} SET paper_id = ? WHERE paper_id = ?", (keep, drop))
    conn.execute("UPDATE passage_choices SET paper_id = ? WHERE paper_id = ?", (keep, drop))
    conn.execute("UPDATE paper_aliases SET paper_id = ? WHERE paper_id = ?", (keep, drop))
    conn.execute("INSERT OR REPLACE INTO paper_aliases (alias, paper_id, merged_at) VALUES (?,?,?)", (drop, keep, seen))


def source_of(paper_id: str) -> str:
    """How evidence names a stored paper id (see Paper.source)."""
    return paper_id if ":" in paper_id else f"arXiv:{paper_id}"


def aliases(ledger: Ledger) -> dict[str, str]:
    """Each id a paper was known by before a merge, as evidence named it, mapped to the id kept (as evidence
    names it): "doi:10.1234/x" -> "arXiv:2512.00009"."""
    rows = ledger.conn.execute("SELECT alias, paper_id FROM paper_aliases").fetchall()
    return {source_of(alias): source_of(paper_id) for alias, paper_id in rows}


def adopt_identities(claim: Claim, known: dict[str, str], *, by: str, now: dt.datetime) -> list[PaperMerge]:
    """Rewrite the claim's evidence that names a paper by an id given up in a merge to the id kept, each merge
    dated in the claim's history (PaperMerge); returns the entries added."""
    held = {e.source for e in claim.evidence if e.kind == EvidenceKind.PAPER}
    entries = []
    for old in sorted(held & known.keys()):
        entry = claim.merge_paper(old, known[old], by=by, now=now)
        if entry is not None:
            entries.append(entry)
    return entries


def pending_candidates(ledger: Ledger, claim_id: str | None = None) -> list[dict[str, Any]]:
    """Candidates waiting for review (not yet judged), best first, with their paper's title and date."""
    query = (
        "SELECT c.claim_id, c.paper_id, c.score, c.rank, c.why, c.found_at, c.state, p.title, p.published"
        " FROM candidates c JOIN papers p ON p.id = c.paper_id WHERE c.state = 'unjudged'"
    )
    args: tuple = ()
    if claim_id is not None:
        query += " AND c.claim_id = ?"
        args = (claim_id,)
    rows = ledger.conn.execute(query + " ORDER BY c.claim_id, c.rank", args).fetchall()
    return [dict(row) for row in rows]
