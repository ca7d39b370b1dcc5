"""Reading a paper's full text from arXiv: the HTML rendering, or the PDF when there is none, read once per
paper version and kept in the ledger (`fulltexts`), since a version's text never changes.

Both requests go through the same polite Fetcher as the arXiv API (discovery/http.py): calls spaced by
CLAIMTRACK_ARXIV_DELAY_S, 5xx and timeouts retried with back-off, a 429's Retry-After honoured, a host that
refuses connections not asked again for five minutes. Bodies are bounded in bytes and in time. Nothing here
raises for a bad document or a failing source: every paper ends as a FullText or an Unreadable that says why.
The raw pages are not kept (an arXiv HTML page with its MathML runs to megabytes); the parsed passages are,
tagged with the parser that made them, so a changed parser reads each paper once more.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import zlib
from collections.abc import Callable

from claimtrack.config import Settings
from claimtrack.discovery.http import Fetcher, Response
from claimtrack.errors import SourceError
from claimtrack.fulltext.html import parse_html
from claimtrack.fulltext.models import REMEMBERED, FullText, Parsed, Passage, Unreadable
from claimtrack.fulltext.pdf import read_pdf
from claimtrack.fulltext.text import chunk
from claimtrack.ledger import Ledger
from claimtrack.papers import Paper

log = logging.getLogger(__name__)

SOURCE = "arxiv-fulltext"
PARSER_VERSION = "2"  # raise when parsing or chunking changes, so stored passages are made again


class Reader:
    """Full texts for one run: one fetcher for arXiv's HTML and PDF pages, whose calls are spaced together with those
    of every other reader in the process (http.Pace), one at a time; parsing runs in the caller's thread."""

    def __init__(self, ledger: Ledger, settings: Settings, *, sleep: Callable[[float], None] = time.sleep):
        self.ledger = ledger
        self.settings = settings
        self.parser = f"{PARSER_VERSION}/{settings.fulltext_passage_tokens}"
        self.fetcher = Fetcher.for_source(
            SOURCE,
            settings,
            ledger=None,  # the parsed text is kept below; the raw page would only bloat the HTTP cache
            min_interval_s=settings.arxiv_delay_s,
            connections=1,
            max_bytes=settings.fulltext_max_bytes,
            max_time_s=settings.fulltext_fetch_s,
            cut_ok=True,
            sleep=sleep,
        )

    def read(self, paper: Paper) -> FullText | Unreadable:
        """The paper's passages, from the ledger when this version was read before, else from arXiv."""
        arxiv_id = paper.arxiv_id
        if arxiv_id is None:
            return Unreadable(paper_id=paper.id, kind="no-arxiv-id", reason="not an arXiv paper (no arXiv id)")
        version = paper.version or None
        stored = self._stored(arxiv_id, version)
        if stored is not None:
            return stored
        try:
            outcome = self._fetch(arxiv_id, version)
        except MemoryError:  # a document within the byte limit that still outgrew the memory left: this paper's note
            reason = "ran out of memory reading it (lower CLAIMTRACK_FULLTEXT_MAX_BYTES)"
            outcome = Unreadable(paper_id=arxiv_id, version=version, kind="too-large", reason=reason)
        if isinstance(outcome, FullText) or outcome.kind in REMEMBERED:
            self._store(outcome)
        if isinstance(outcome, Unreadable):
            log.info("%s", outcome.note)
        return outcome

    def close(self) -> None:
        self.fetcher.close()

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- fetching ------------------------------------------------------------------------------------------------

    def _fetch(self, arxiv_id: str, version: str | None) -> FullText | Unreadable:
        name = f"{arxiv_id}{version or ''}"
        html = self._get(f"{self.settings.arxiv_html_url.rstrip('/')}/{name}")
        if isinstance(html, Unreadable):
            return html.model_copy(update={"paper_id": arxiv_id, "version": version})
        notes: list[str] = []
        if html.status == 200:
            parsed = _parse(lambda data: parse_html(data, timeout_s=self.settings.fulltext_parse_s), html.body, "HTML")
            if html.truncated:
                parsed.notes.insert(0, f"HTML {html.truncated}")
            if parsed.pieces:
                return self._fulltext(arxiv_id, version, "html", parsed)
            notes.append("the HTML held no text" + (f" ({parsed.notes[-1]})" if parsed.notes else ""))
        else:
            notes.append(f"no HTML (HTTP {html.status})")
        pdf = self._get(f"{self.settings.arxiv_pdf_url.rstrip('/')}/{name}")
        if isinstance(pdf, Unreadable):
            return pdf.model_copy(update={"paper_id": arxiv_id, "version": version})
        if pdf.status != 200:
            gone = (404, 410)
            kind = ("not-found" if html.status in gone else "no-text") if pdf.status in gone else "source-error"
            return Unreadable(
                paper_id=arxiv_id, version=version, kind=kind, reason=f"{'; '.join(notes)}; no PDF (HTTP {pdf.status})"
            )
        if pdf.truncated:
            return Unreadable(
                paper_id=arxiv_id, version=version, kind="too-large", reason=f"{'; '.join(notes)}; PDF {pdf.truncated}"
            )
        if not pdf.body.lstrip()[:1024].startswith(b"%PDF"):
            what = pdf.content_type or "unknown type"
            reason = f"{'; '.join(notes)}; the PDF answer is not a PDF ({what})"
            return Unreadable(paper_id=arxiv_id, version=version, kind="no-text", reason=reason)
        settings = self.settings
        parsed = _parse(
            lambda data: read_pdf(data, max_pages=settings.fulltext_max_pages, timeout_s=settings.fulltext_parse_s),
            pdf.body,
            "PDF",
        )
        if not parsed.pieces:
            why = "; ".join([*notes, *(parsed.notes or ["the PDF held no text"])])
            return Unreadable(paper_id=arxiv_id, version=version, kind="no-text", reason=why)
        parsed.notes[:0] = notes
        return self._fulltext(arxiv_id, version, "pdf", parsed)

    def _get(self, url: str) -> Response | Unreadable:
        try:
            return self.fetcher.get(url)
        except SourceError as exc:  # unreachable, or 5xx/429/timeouts past the retries
            return Unreadable(paper_id="", kind="source-error", reason=exc.detail)

    def _fulltext(self, arxiv_id: str, version: str | None, source: str, parsed: Parsed) -> FullText:
        passages = []
        for section, kind, text in parsed.pieces:
            for piece in chunk(text, self.settings.fulltext_passage_tokens):
                passages.append(Passage(n=len(passages), section=section, kind=kind, text=piece))
        return FullText(paper_id=arxiv_id, version=version, source=source, passages=passages, notes=parsed.notes)

    # --- the ledger ----------------------------------------------------------------------------------------------

    def _stored(self, arxiv_id: str, version: str | None) -> FullText | Unreadable | None:
        row = self.ledger.conn.execute(
            "SELECT source, fulltext, reason, parser FROM fulltexts WHERE paper_id = ? AND version = ?",
            (arxiv_id, version or ""),
        ).fetchone()
        if row is None or row["parser"] != self.parser:
            return None
        if row["source"] == "none":
            kind, _, reason = (row["reason"] or "no-text: ").partition(": ")
            return Unreadable(paper_id=arxiv_id, version=version, kind=kind, reason=reason)
        return FullText.model_validate_json(zlib.decompress(row["fulltext"]))

    def _store(self, outcome: FullText | Unreadable) -> None:
        if isinstance(outcome, FullText):
            source, blob, reason = outcome.source, zlib.compress(outcome.model_dump_json().encode()), None
        else:
            source, blob, reason = "none", None, f"{outcome.kind}: {outcome.reason}"
        with self.ledger.transaction() as conn:
            conn.execute(
                "INSERT INTO fulltexts (paper_id, version, parser, source, fulltext, reason, fetched_at)"
                " VALUES (?,?,?,?,?,?,?) ON CONFLICT(paper_id, version) DO UPDATE SET parser = excluded.parser,"
                " source = excluded.source, fulltext = excluded.fulltext, reason = excluded.reason,"
                " fetched_at = excluded.fetched_at",
                (
                    outcome.paper_id,
                    outcome.version or "",
                    self.parser,
                    source,
                    blob,
                    reason,
                    dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                ),
            )


def _parse(parser: Callable[[bytes], Parsed], data: bytes, what: str) -> Parsed:
    """Run a parser on a downloaded document. Paper files are untrusted input: a parser that fails on one is
    reported as that paper's note, with its traceback in the log, and the run goes on."""
    try:
        return parser(data)
    except Exception as exc:
        log.warning("%s parser failed", what, exc_info=True)
        return Parsed(notes=[f"{what} parser failed: {type(exc).__name__}: {exc}"])


def read_fulltext(ledger: Ledger, paper: Paper, settings: Settings) -> FullText | Unreadable:
    """One paper's full text (a Reader for one call; a run reading many papers keeps one Reader)."""
    with Reader(ledger, settings) as reader:
        return reader.read(paper)
