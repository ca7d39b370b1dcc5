"""Import arXiv's metadata snapshot (one JSON object per line; plain, gzipped or zipped), streaming, in bounded
memory.

Lines are read one at a time and stored in batches of `batch` papers per transaction, so a multi-GB file
never sits in memory and an interrupted import keeps every finished batch. Papers are keyed by their
versionless id: re-importing the same file writes nothing and counts every paper as unchanged, while a paper
whose metadata moved on (a new version, a DOI, a revised abstract) is updated. A line that is cut off or not a
paper is reported with its line number; the rest of the file is still imported.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import gzip
import io
import json
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from claimtrack.errors import InvalidArgument, InvalidInput
from claimtrack.ids import parse_arxiv_id
from claimtrack.ledger import Ledger
from claimtrack.papers import Paper, store_papers

SOURCE = "snapshot"


@dataclass
class ImportSummary:
    lines: int = 0
    new: int = 0
    updated: int = 0  # known papers whose metadata changed
    unchanged: int = 0  # known papers stored as they were (not rewritten)
    filtered: int = 0  # skipped by --category / --since, on purpose
    bad: list[tuple[int, str]] = field(default_factory=list)  # (line number, what is wrong)

    def as_dict(self) -> dict[str, object]:
        return {
            "lines": self.lines,
            "new": self.new,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "filtered": self.filtered,
            "bad": [{"line": n, "problem": p} for n, p in self.bad],
        }


def parse_record(record: object) -> Paper:
    """One snapshot record as a Paper. Raises ValueError naming the missing or malformed field."""
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    raw_id = record.get("id")
    if not isinstance(raw_id, str) or not raw_id.strip():
        raise ValueError("field 'id' is missing")
    base, version = parse_arxiv_id(raw_id)
    title = " ".join(str(record.get("title") or "").split())
    if not title:
        raise ValueError("field 'title' is missing")
    versions = record.get("versions") or []
    if not isinstance(versions, list):
        raise ValueError("field 'versions' is not a list")
    published = _version_date(versions[0]) if versions else None
    if versions and version is None:
        last = versions[-1].get("version") if isinstance(versions[-1], dict) else None
        version = last if isinstance(last, str) else None
    return Paper(
        id=base,
        version=version,
        doi=(record.get("doi") or None),
        title=title,
        abstract=" ".join(str(record.get("abstract") or "").split()),
        authors=_authors(record),
        categories=str(record.get("categories") or "").split(),
        published=published or record.get("update_date"),
        updated=record.get("update_date"),
        url=f"https://arxiv.org/abs/{base}",
    )


_MONTHS = {m: n for n, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), start=1)}


def _version_date(entry: object) -> str | None:
    created = entry.get("created") if isinstance(entry, dict) else None
    if not isinstance(created, str):
        return None
    parts = created.split()  # arXiv writes "Mon, 2 Apr 2007 19:18:42 GMT": read the date straight off (fast)
    if len(parts) >= 4 and parts[2] in _MONTHS and parts[1].isdigit() and parts[3].isdigit():
        try:
            return dt.date(int(parts[3]), _MONTHS[parts[2]], int(parts[1])).isoformat()
        except ValueError:
            return None
    try:
        return email.utils.parsedate_to_datetime(created).date().isoformat()
    except (TypeError, ValueError):
        return None


def _authors(record: dict) -> list[str]:
    parsed = record.get("authors_parsed")
    if isinstance(parsed, list) and parsed:
        names = []
        for parts in parsed:
            if isinstance(parts, list) and parts:
                last, first = str(parts[0]).strip(), (str(parts[1]).strip() if len(parts) > 1 else "")
                names.append(f"{first} {last}".strip())
        return names
    text = record.get("authors")
    return [a.strip() for a in str(text).replace(" and ", ", ").split(",") if a.strip()] if text else []


def read_lines(path: Path, progress: Progress | None = None) -> Iterator[tuple[int, str]]:
    """(line number, text) of a snapshot as downloaded, one line in memory at a time: plain JSON lines, gzipped,
    or a zip archive holding one such file (Kaggle's download), told apart by their first bytes, not their
    names. `progress(read, total)` hears the bytes of the file read so far. A damaged or cut-off file is an
    InvalidInput naming the line where reading stopped."""
    number = 0
    total = path.stat().st_size
    try:
        with path.open("rb") as raw, _opened(path, raw) as stream:
            text = io.TextIOWrapper(stream, encoding="utf-8", errors="replace")
            for number, line in enumerate(text, start=1):
                if progress is not None and number % PROGRESS_EVERY == 0:
                    progress(raw.tell(), total)
                yield number, line
        if progress is not None:
            progress(total, total)
    except (EOFError, OSError, zlib.error, zipfile.BadZipFile) as exc:
        message = f"cannot be read ({exc}); the lines before it were imported"
        raise InvalidInput(path, f"line {number + 1}", message) from None


PROGRESS_EVERY = 1000  # lines between progress reports
Progress = Callable[[int, int], None]


@contextlib.contextmanager
def _opened(path: Path, raw: BinaryIO) -> Iterator[BinaryIO]:
    """The decompressed stream over `raw`: gzip and zip by their magic bytes, else the file itself."""
    magic = raw.read(4)
    raw.seek(0)
    if magic[:2] == b"\x1f\x8b":
        with gzip.GzipFile(fileobj=raw) as stream:
            yield stream
    elif magic == b"PK\x03\x04":
        with zipfile.ZipFile(raw) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()]
            if len(members) != 1:
                names = ", ".join(m.filename for m in members) or "nothing"
                raise InvalidInput(path, "archive", f"holds {names}; expected one JSON-lines file")
            with archive.open(members[0]) as stream:
                yield stream
    else:
        yield raw


def import_snapshot(
    ledger: Ledger,
    path: Path,
    *,
    batch: int = 2000,
    categories: Iterable[str] = (),
    since: dt.date | None = None,
    progress: Progress | None = None,
) -> ImportSummary:
    """Stream the file into the ledger. `categories` keeps papers in any of them (prefix 'cs.' works);
    `progress(read, total)` hears the bytes read."""
    if not path.is_file():
        raise InvalidArgument(path, "no such file")
    summary = ImportSummary()
    # A snapshot touches the papers' indexes (id, DOI, FTS5) all over: a 64 MB page cache rather than SQLite's
    # 2 MB keeps them in memory, ~15% more papers/s at 100k papers (docs/discovery.md).
    (cache,) = ledger.conn.execute("PRAGMA cache_size").fetchone()
    ledger.conn.execute("PRAGMA cache_size = -65536")
    try:
        for papers in _parsed(path, batch, tuple(categories), since, summary, progress):
            counts = store_papers(ledger, papers, source=SOURCE)
            summary.new += counts.new
            summary.updated += counts.updated
            summary.unchanged += counts.unchanged
    finally:
        ledger.conn.execute(f"PRAGMA cache_size = {int(cache)}")
    return summary


def _parsed(
    path: Path,
    batch: int,
    wanted: tuple[str, ...],
    since: dt.date | None,
    summary: ImportSummary,
    progress: Progress | None,
) -> Iterator[list[Paper]]:
    """The file's papers in batches, with unreadable and filtered lines counted in `summary`."""
    pending: list[Paper] = []
    lines = read_lines(path, progress)
    while True:
        try:
            number, line = next(lines)
        except StopIteration:
            break
        except InvalidInput:
            if pending:
                yield pending  # what was read before the damage is stored, then the error stops the import
            raise
        if not line.strip():
            continue
        summary.lines += 1
        try:
            paper = parse_record(json.loads(line))
        except json.JSONDecodeError as exc:
            summary.bad.append((number, f"not valid JSON (cut off?): {exc.msg} at column {exc.colno}"))
            continue
        except ValueError as exc:
            summary.bad.append((number, str(exc)))
            continue
        if wanted and not any(c.startswith(w) for c in paper.categories for w in wanted):
            summary.filtered += 1
            continue
        if since and paper.published and paper.published < since.isoformat():
            summary.filtered += 1
            continue
        pending.append(paper)
        if len(pending) >= batch:
            yield pending
            pending = []
    if pending:
        yield pending
