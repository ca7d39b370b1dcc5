"""Parse an inquiring-line document (the text format the seed library is written in).

Layout, blank lines optional: an optional `INQUIRING LINE` header; the question; the framing; essay
paragraphs that cite notes by their title question (or by a slug); `Sources N notes`; the notes, each
a title question followed by its finding (or findings alone, titled by the order the essay cites them);
optionally a research prompt with dated bullet claims and `- arXiv:ID (YEAR): topic` anchors; an
optional `Next inquiring lines` trailer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from claimtrack.errors import InvalidInput
from claimtrack.fileio import read_text
from claimtrack.ids import normalize_arxiv_id

_HEADER = "INQUIRING LINE"
_SOURCES = re.compile(r"^Sources\s+(\d+)\s+notes?$", re.IGNORECASE)
_PROMPT_START = re.compile(r"^Research prompt\b", re.IGNORECASE)
_TRAILER = re.compile(r"^Next inquiring lines?$", re.IGNORECASE)
_INTERROGATIVES = (
    "Does|Do|Did|Can|Could|How|What|Which|Why|When|Where|Who|Is|Are|Was|Were|Will|Would|Should|Has|Have|Must"
)
# A cited title: a question starting with a capitalised interrogative and holding no sentence break.
_CITED_TITLE = re.compile(rf"(?<![\w'])(?:{_INTERROGATIVES})\s(?:(?!(?<![\w'])(?:{_INTERROGATIVES})\s)[^.?!])*\?")
# A note cited by slug instead of title (e.g. `some-note-slug-cut-short`): four or more hyphenated words.
_CITED_SLUG = re.compile(r"(?<![\w-])([a-z0-9]+(?:-[a-z0-9]+){3,})(?![\w-])")
_PROMPT_ANCHOR = re.compile(r"^-\s*arXiv:\s*(?P<id>\S+)\s*\((?P<year>\d{4})\)\s*:\s*(?P<topic>.+)$", re.IGNORECASE)
_PROMPT_BULLET = re.compile(r"^[•*\-]\s+(?P<text>.+?)\s*$")
_APPROX_YEAR = re.compile(r"~\s*(\d{4})")


@dataclass
class Note:
    title: str | None
    finding: str | None
    slug: str | None = None  # set when the essay cites the note only by slug


@dataclass
class DatedClaim:
    text: str
    year: int | None


@dataclass
class PromptAnchorRef:
    arxiv: str
    year: int
    topic: str


@dataclass
class LineDocument:
    question: str
    framing: str
    essay: list[str]
    notes: list[Note]
    declared_notes: int
    dated_claims: list[DatedClaim] = field(default_factory=list)
    prompt_anchors: list[PromptAnchorRef] = field(default_factory=list)


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def parse_line_document(path: Path) -> LineDocument:
    """Parse `path`; a document that breaks the format raises InvalidInput naming the part."""
    text = read_text(path)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if lines and lines[0].upper() == _HEADER:
        lines = lines[1:]
    if len(lines) < 3:
        raise InvalidInput(path, "question", "too short: expected a question, a framing and a Sources section")
    question, framing = lines[0], lines[1]
    if not question.endswith("?"):
        raise InvalidInput(path, "question", f"the first line should be the line's question, got '{question[:60]}'")
    sources_at = next((i for i, line in enumerate(lines) if _SOURCES.match(line)), None)
    if sources_at is None:
        raise InvalidInput(path, "Sources", "no 'Sources N notes' line")
    declared = int(_SOURCES.match(lines[sources_at])[1])
    essay = lines[2:sources_at]
    rest = lines[sources_at + 1 :]
    prompt_at = next((i for i, line in enumerate(rest) if _PROMPT_START.match(line)), len(rest))
    note_lines = [line for line in rest[:prompt_at] if not _TRAILER.match(line)]
    prompt_lines = [line for line in rest[prompt_at:] if not _TRAILER.match(line)]

    notes = _pair_notes(note_lines)
    _title_from_essay(path, notes, essay)
    notes = _add_slug_only_notes(notes, essay, declared)
    if len(notes) != declared:
        raise InvalidInput(path, "Sources", f"header declares {declared} notes, the document holds {len(notes)}")
    doc = LineDocument(question, framing, essay, notes, declared)
    _parse_prompt(path, prompt_lines, doc)
    return doc


def _pair_notes(lines: list[str]) -> list[Note]:
    """Title questions followed by their findings; a line that is not a question is a finding alone."""
    notes: list[Note] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        follower = lines[i + 1] if i + 1 < len(lines) else None
        if line.endswith("?") and follower is not None and not follower.endswith("?"):
            notes.append(Note(title=line, finding=follower))
            i += 2
        elif line.endswith("?"):
            notes.append(Note(title=line, finding=None))
            i += 1
        else:
            notes.append(Note(title=None, finding=line))
            i += 1
    return notes


def cited_titles(essay: list[str]) -> list[str]:
    """Title questions the essay cites, in order of first mention."""
    seen: dict[str, str] = {}
    for paragraph in essay:
        for match in _CITED_TITLE.finditer(paragraph):
            seen.setdefault(_norm(match.group(0)), match.group(0))
    return list(seen.values())


def _title_from_essay(path: Path, notes: list[Note], essay: list[str]) -> None:
    """Give untitled findings the titles the essay cites, in order, when the counts agree."""
    untitled = [n for n in notes if n.title is None]
    if not untitled:
        return
    titled = {_norm(n.title) for n in notes if n.title}
    free = [t for t in cited_titles(essay) if _norm(t) not in titled]
    if len(untitled) != len(notes) or len(free) != len(notes):
        raise InvalidInput(
            path,
            "Sources",
            f"{len(untitled)} notes have no title question and the essay cites {len(free)} untitled questions; "
            "give each note its title line",
        )
    for note, title in zip(notes, free, strict=True):
        note.title = title


def _add_slug_only_notes(notes: list[Note], essay: list[str], declared: int) -> list[Note]:
    """A note the essay cites only by slug and the list omits still belongs to the line, in essay order."""
    if len(notes) >= declared:
        return notes
    ordered: list[Note] = []
    by_title = {_norm(n.title or ""): n for n in notes}
    placed: set[int] = set()
    for paragraph in essay:
        events = [(m.start(), "title", m.group(0)) for m in _CITED_TITLE.finditer(paragraph)]
        events += [(m.start(), "slug", m.group(1)) for m in _CITED_SLUG.finditer(paragraph)]
        for _, kind, value in sorted(events):
            if kind == "title":
                note = by_title.get(_norm(value))
                if note is not None and id(note) not in placed:
                    placed.add(id(note))
                    ordered.append(note)
            elif len(notes) + sum(1 for n in ordered if n.slug) < declared and not any(
                n.slug == value for n in ordered
            ):
                ordered.append(Note(title=None, finding=None, slug=value))
    ordered.extend(n for n in notes if id(n) not in placed)
    return ordered


def _parse_prompt(path: Path, lines: list[str], doc: LineDocument) -> None:
    for line in lines:
        anchor = _PROMPT_ANCHOR.match(line)
        if anchor:
            try:
                arxiv = normalize_arxiv_id(anchor["id"])
            except ValueError as exc:
                raise InvalidInput(path, "research prompt: anchor papers", str(exc)) from exc
            doc.prompt_anchors.append(PromptAnchorRef(arxiv, int(anchor["year"]), anchor["topic"].strip()))
            continue
        bullet = _PROMPT_BULLET.match(line)
        if bullet and line[0] == "•":
            year = _APPROX_YEAR.search(bullet["text"])
            doc.dated_claims.append(DatedClaim(bullet["text"], int(year.group(1)) if year else None))
