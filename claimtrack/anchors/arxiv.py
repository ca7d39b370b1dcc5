"""arXiv metadata for anchors: records by id (id_list) and searches for a note's paper.

Requests go through the real `arxiv` client on discovery's polite transport (spacing, back-off, the ledger's
HTTP cache; see discovery/arxiv_source.py). Records are also kept per id and version in the ledger's
`arxiv_records`: a listed version never changes, so a record asked for by version is fetched once; the newest
version of an id is asked again after `http_cache_ttl_s` (a day), when a new version may have appeared. Ids
missing from the cache are asked for together, in one id_list request per batch.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from claimtrack.config import Settings
from claimtrack.discovery.arxiv_source import SOURCE, ArxivQuery, api_fetcher, make_client
from claimtrack.errors import SourceError
from claimtrack.ids import parse_arxiv_id
from claimtrack.ledger import Ledger

if TYPE_CHECKING:
    import arxiv

log = logging.getLogger(__name__)

_WITHDRAWN_COMMENT = re.compile(r"\bwithdrawn\b", re.IGNORECASE)
_WITHDRAWN_ABSTRACT = re.compile(
    r"^\s*(?:this (?:paper|article|manuscript|submission|work) (?:has been|is|was) withdrawn|withdrawn\b)",
    re.IGNORECASE,
)
BATCH = 50  # ids per id_list request

Ref = tuple[str, str | None]
"""(versionless arXiv id, version such as 'v2', or None for the newest)."""


@dataclass(frozen=True)
class ArxivRecord:
    """One version of a paper as arXiv lists it."""

    id: str
    version: str
    title: str
    authors: tuple[str, ...]
    published: str  # date of the first version, YYYY-MM-DD
    updated: str | None
    categories: tuple[str, ...]
    abstract: str
    comment: str | None = None

    @property
    def first_author(self) -> str | None:
        return self.authors[0] if self.authors else None

    @property
    def withdrawn(self) -> bool:
        return bool(_WITHDRAWN_COMMENT.search(self.comment or "") or _WITHDRAWN_ABSTRACT.match(self.abstract))

    @property
    def ref(self) -> str:
        return f"{self.id}{self.version}"

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> ArxivRecord:
        data = json.loads(text)
        return cls(**{**data, "authors": tuple(data["authors"]), "categories": tuple(data["categories"])})

    @classmethod
    def from_result(cls, result: arxiv.Result) -> ArxivRecord | None:
        """None for arXiv's error entries (a malformed id), which are not papers."""
        try:
            base, version = parse_arxiv_id(result.entry_id)
        except ValueError:
            return None
        return cls(
            id=base,
            version=version or "v1",
            title=" ".join(result.title.split()),
            authors=tuple(a.name for a in result.authors),
            published=result.published.date().isoformat(),
            updated=result.updated.date().isoformat() if result.updated else None,
            categories=tuple(result.categories),
            abstract=" ".join((result.summary or "").split()),
            comment=" ".join(result.comment.split()) if result.comment else None,
        )


class ArxivLookup:
    """Records by id and searches, for one command; close it (or use `with`) to release the HTTP client."""

    def __init__(self, ledger: Ledger, settings: Settings, *, now: dt.datetime | None = None):
        self.ledger, self.settings = ledger, settings
        self.now = now or dt.datetime.now(dt.UTC)
        self.fetcher = api_fetcher(settings, ledger)
        self.client = make_client(settings, self.fetcher)

    def __enter__(self) -> ArxivLookup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.fetcher.close()

    def records(self, refs: Iterable[Ref]) -> dict[Ref, ArxivRecord | None]:
        """The record for each ref, None when arXiv lists no such paper (or version)."""
        wanted = list(dict.fromkeys(refs))
        found: dict[Ref, ArxivRecord | None] = {ref: self._cached(ref) for ref in wanted}
        missing = [ref for ref, record in found.items() if record is None]
        for versioned in (False, True):  # newest and by-version apart, so each answer maps to one request
            batch = [ref for ref in missing if (ref[1] is not None) == versioned]
            for start in range(0, len(batch), BATCH):
                found.update(self._fetch(batch[start : start + BATCH]))
        return found

    def record(self, ref: Ref) -> ArxivRecord | None:
        return self.records([ref])[ref]

    def search(self, query: ArxivQuery, max_results: int) -> list[ArxivRecord]:
        """Papers answering `query`, in arXiv's relevance order."""
        import arxiv

        request = arxiv.Search(query=query.text(), max_results=max_results, sort_by=arxiv.SortCriterion.Relevance)
        return self._run(request, query.label)

    def _cached(self, ref: Ref) -> ArxivRecord | None:
        base, version = ref
        if version is not None:
            row = self.ledger.conn.execute(
                "SELECT record_json FROM arxiv_records WHERE id = ? AND version = ?", (base, version)
            ).fetchone()
        elif self.settings.http_cache_ttl_s <= 0:  # no cache: the newest version is always asked for
            return None
        else:
            fresh = (self.now - dt.timedelta(seconds=self.settings.http_cache_ttl_s)).isoformat(timespec="seconds")
            row = self.ledger.conn.execute(
                "SELECT record_json FROM arxiv_records WHERE id = ? AND latest = 1 AND fetched_at >= ?", (base, fresh)
            ).fetchone()
        if row is None:
            return None
        log.debug("arxiv: %s%s from the ledger's records", base, version or " (newest)")
        return ArxivRecord.from_json(row["record_json"])

    def _fetch(self, refs: list[Ref]) -> dict[Ref, ArxivRecord | None]:
        import arxiv

        ids = [f"{base}{version or ''}" for base, version in refs]
        records = self._run(arxiv.Search(id_list=ids, max_results=len(ids)), f"id_list {','.join(ids)}")
        listed = {(r.id, r.version): r for r in records} | {(r.id, None): r for r in records}
        fetched_at = self.now.isoformat(timespec="seconds")
        answer: dict[Ref, ArxivRecord | None] = {}
        with self.ledger.transaction() as conn:
            for base, version in refs:
                record = listed.get((base, version))
                answer[(base, version)] = record
                if record is None:
                    continue
                if version is None:
                    conn.execute("UPDATE arxiv_records SET latest = 0 WHERE id = ?", (base,))
                conn.execute(
                    "INSERT INTO arxiv_records (id, version, latest, record_json, fetched_at) VALUES (?,?,?,?,?)"
                    " ON CONFLICT(id, version) DO UPDATE SET latest = MAX(latest, excluded.latest),"
                    " record_json = excluded.record_json, fetched_at = excluded.fetched_at",
                    (base, record.version, int(version is None), record.to_json(), fetched_at),
                )
        return answer

    def _run(self, request: arxiv.Search, label: str) -> list[ArxivRecord]:
        """arxiv's own errors as SourceError (an unreachable host stays `Unreachable`, a SourceError)."""
        import arxiv
        import requests

        try:
            records = [ArxivRecord.from_result(result) for result in self.client.results(request)]
        except arxiv.UnexpectedEmptyPageError as exc:
            raise SourceError(SOURCE, f"empty page in the middle of the results ({label}): {exc.url}") from exc
        except arxiv.HTTPError as exc:
            raise SourceError(SOURCE, f"HTTP {exc.status} for {label}") from exc
        except requests.RequestException as exc:
            raise SourceError(SOURCE, f"request failed ({label}): {exc}") from exc
        return [r for r in records if r is not None]
