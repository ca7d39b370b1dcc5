"""What reading a paper gives: its passages with their section headings, or why it could not be read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import Field

from claimtrack.models import Model

PassageKind = Literal["abstract", "text", "caption", "table"]


@dataclass
class Parsed:
    """What a parser read: (section, kind, text) in document order, and notes on what it left out."""

    pieces: list[tuple[str, PassageKind, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class Passage(Model):
    """One readable piece of a paper: a paragraph (or a part of a long one), a figure or table caption, or a
    table that holds words. `n` is its position in the paper, so passages ranked out of order can be put back."""

    n: int
    section: str = ""  # the heading it sits under, numbered as the paper numbers it ("3.2 Scaling"); "" if none
    kind: PassageKind = "text"
    text: str

    @property
    def label(self) -> str:
        """How the passage is introduced to a reader: its section, and 'caption'/'table' when it is one."""
        where = self.section or "(no section)"
        return where if self.kind in ("text", "abstract") else f"{where}, {self.kind}"


class FullText(Model):
    """A paper's text as read from arXiv: its HTML rendering, or its PDF when there is no HTML.

    `notes` says what was left out on the way (pages past the limit, a document cut at the byte limit), so a
    reader knows the passages may not be the whole paper.
    """

    paper_id: str
    version: str | None = None
    source: Literal["html", "pdf"]
    passages: list[Passage] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)

    @property
    def abstract(self) -> str:
        return " ".join(p.text for p in self.passages if p.kind == "abstract")


UnreadableKind = Literal["no-arxiv-id", "not-found", "no-text", "too-large", "source-error"]
REMEMBERED: frozenset[str] = frozenset({"not-found", "no-text"})  # kept per version; the others are asked again


class Unreadable(Model):
    """No passages for this paper, and why: a kind to count in the run summary and a one-line reason.

    - no-arxiv-id: the paper is known only by DOI or another source's id, so arXiv has no text to give;
    - not-found: neither HTML nor PDF exists for this version (404 for both);
    - no-text: a document came but held no readable text (empty, malformed, not a PDF);
    - too-large: the PDF is larger than CLAIMTRACK_FULLTEXT_MAX_BYTES (a cut PDF cannot be read);
    - source-error: the host unreachable, or still failing or rate-limited after the retries.
    not-found and no-text are remembered for the version; the others are tried again on a later run.
    """

    paper_id: str
    version: str | None = None
    kind: UnreadableKind
    reason: str

    @property
    def note(self) -> str:
        return f"full text of {self.paper_id}{self.version or ''}: {self.reason}"
