"""Papers in the ledger: stored once (versionless arXiv id, DOI as second key), with where each was seen,
and the per-claim candidates that discovery ranks and the agent judges."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from pydantic import Field

from claimtrack.ledger import Ledger
from claimtrack.models import Model


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


def upsert_paper(
    ledger: Ledger, paper: Paper, *, source: str, detail: str = "", claim_id: str = "", now: dt.datetime | None = None
) -> str:
    """Store a paper once, keeping the newest metadata; record the sighting. Returns the stored id.

    A paper known by DOI under a provisional id is found by its DOI, so no second row appears.
    Runs inside the caller's transaction if there is one.
    """
    seen = (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
    conn = ledger.conn
    existing = conn.execute("SELECT * FROM papers WHERE id = ?", (paper.id,)).fetchone()
    if existing is None and paper.doi:
        existing = conn.execute("SELECT * FROM papers WHERE doi = ?", (paper.doi.lower(),)).fetchone()
    doi = paper.doi.lower() if paper.doi else None
    if existing is None:
        conn.execute(
            "INSERT INTO papers (id, version, doi, title, abstract, authors_json, categories_json, published,"
            " updated, url, first_seen_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                paper.id,
                paper.version,
                doi,
                paper.title,
                paper.abstract,
                json.dumps(paper.authors),
                json.dumps(paper.categories),
                paper.published,
                paper.updated,
                paper.url,
                seen,
            ),
        )
        stored_id = paper.id
    else:
        stored_id = existing["id"]
        if doi:
            other = conn.execute("SELECT id FROM papers WHERE doi = ? AND id != ?", (doi, stored_id)).fetchone()
            if other is not None:  # the DOI names a second row: one paper stored twice until now
                stored_id = _merge(conn, stored_id, other["id"])
        if ":" in stored_id and ":" not in paper.id:
            # A provisional (DOI/S2) row gains its arXiv id: re-key it, and its sightings and candidates.
            conn.execute("PRAGMA defer_foreign_keys = ON")  # checked at commit, when all three agree
            conn.execute("UPDATE papers SET id = ? WHERE id = ?", (paper.id, stored_id))
            conn.execute("UPDATE paper_sightings SET paper_id = ? WHERE paper_id = ?", (paper.id, stored_id))
            conn.execute("UPDATE candidates SET paper_id = ? WHERE paper_id = ?", (paper.id, stored_id))
            stored_id = paper.id
        conn.execute(
            "UPDATE papers SET version = COALESCE(?, version), doi = COALESCE(?, doi), title = ?,"
            " abstract = CASE WHEN ? != '' THEN ? ELSE abstract END,"
            " authors_json = CASE WHEN ? != '[]' THEN ? ELSE authors_json END,"
            " categories_json = CASE WHEN ? != '[]' THEN ? ELSE categories_json END,"
            " published = COALESCE(?, published), updated = COALESCE(?, updated), url = COALESCE(?, url)"
            " WHERE id = ?",
            (
                paper.version,
                doi,
                paper.title,
                paper.abstract,
                paper.abstract,
                json.dumps(paper.authors),
                json.dumps(paper.authors),
                json.dumps(paper.categories),
                json.dumps(paper.categories),
                paper.published,
                paper.updated,
                paper.url,
                stored_id,
            ),
        )
    conn.execute(
        "INSERT OR IGNORE INTO paper_sightings (paper_id, source, detail, claim_id, seen_at) VALUES (?,?,?,?,?)",
        (stored_id, source, detail, claim_id, seen),
    )
    return stored_id


def _merge(conn: Any, one: str, other: str) -> str:
    """Fold two rows that turn out to be one paper (an arXiv row without a DOI, and a DOI-only row from a
    citation source, before arXiv reports the DOI) into one; returns the id kept. The arXiv id is kept over a
    provisional one; the row dropped gives its DOI, sightings, candidates, judgements, review items and citation
    contexts."""
    keep, drop = (other, one) if ":" in one and ":" not in other else (one, other)
    dropped = conn.execute("SELECT * FROM papers WHERE id = ?", (drop,)).fetchone()
    conn.execute("PRAGMA defer_foreign_keys = ON")
    conn.execute("UPDATE papers SET doi = NULL WHERE id = ?", (drop,))
    conn.execute(
        "UPDATE papers SET doi = ?, abstract = CASE WHEN abstract = '' THEN ? ELSE abstract END,"
        " published = COALESCE(published, ?) WHERE id = ?",
        (dropped["doi"], dropped["abstract"], dropped["published"], keep),
    )
    conn.execute(
        "INSERT OR IGNORE INTO paper_sightings (paper_id, source, detail, claim_id, seen_at)"
        " SELECT ?, source, detail, claim_id, seen_at FROM paper_sightings WHERE paper_id = ?",
        (keep, drop),
    )
    conn.execute("DELETE FROM paper_sightings WHERE paper_id = ?", (drop,))
    # A candidate row of both ids for one claim: keep the one that is further along (judged over unjudged).
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
    # What the paper says about an anchor, known under either id: the kept row's contexts win.
    conn.execute(
        "DELETE FROM citation_contexts WHERE paper_id = ? AND anchor IN"
        " (SELECT anchor FROM citation_contexts WHERE paper_id = ?)",
        (drop, keep),
    )
    conn.execute("UPDATE citation_contexts SET paper_id = ? WHERE paper_id = ?", (keep, drop))
    conn.execute("DELETE FROM papers WHERE id = ?", (drop,))
    return keep


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
