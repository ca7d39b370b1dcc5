"""A PDF's text as passages under its section headings, for papers that arXiv has no HTML for.

Extraction runs pypdfium2 (PDFium, BSD/Apache licensed) in a child process (pdf_child.py): a wall-clock limit
can then end it whatever it is doing, a crash in the C library on a hostile file ends only the child, and the
child caps its own memory. It writes one JSON line per page as it goes, so a reading cut
short by the time limit still gives the pages read so far. Why pypdfium2: it measured the most accurate and by
far the fastest of the permissively licensed libraries (benchmarks/pdf_text.py, docs/fulltext.md).

The text is then cleaned here, in the parent, in time linear in the text and under the same deadline (a PDF
built so that every line joins the next, 8 pages x 2,000 fragments, is cleaned in well under a second):
- running page numbers and lines that are mostly numbers (table rows) are dropped;
- a word broken across lines with a hyphen is joined ("lan-\\nguage" -> "language") or keeps its hyphen
  ("pre-\\ntraining" -> "pre-training") as the paper itself spells it elsewhere, else as English word
  frequencies say (a joined form that is a word wins; two parts that are each words keep the hyphen);
- numbered headings ("3 Results", "4.2 Ablations") and the usual unnumbered ones ("Abstract", "References")
  become section labels; a line counts as a heading only if it is short and its number follows the previous
  heading's, so a body line that starts with a number is not mistaken for one;
- the references section is dropped, up to an appendix heading that follows it ("A Additional results").
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

from claimtrack.fulltext.models import Parsed

CHILD = Path(__file__).with_name("pdf_child.py")
CLEANING_GRACE_S = 0.5  # cleaning's own time when extraction used the whole limit
_PAGE_NUMBER = re.compile(r"^(?:page\s+)?\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?$", re.IGNORECASE)
_BREAK_MARK = re.compile(r"[\ufffe\u00ad\x02]")  # PDFium marks a hyphen at a line break (and soft hyphens)
_NUMBERED = re.compile(r"^(?P<num>\d{1,2}(?:\.\d{1,2}){0,3})\.?\s+(?P<title>[A-Z][^\n]{0,90})$")
_LETTERED = re.compile(r"^(?P<num>[A-H](?:\.\d{1,2}){0,3})\.?\s+(?P<title>[A-Z][^\n]{0,90})$")
_NAMED = re.compile(
    r"^(?:abstract|introduction|related work|background|conclusions?|discussion|limitations|"
    r"acknowledge?ments?|references|bibliography|appendix(?:\s+[A-Z])?(?:[.:]?\s+[A-Z].{0,60})?)$",
    re.IGNORECASE,
)
_REFERENCES = re.compile(r"^(?:references|bibliography)$", re.IGNORECASE)
_DROPPED_SECTIONS = re.compile(r"^(?:acknowledge?ments?)$", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")
_NUMERIC = re.compile(r"^[\d.,:%±()+\-–/]+[A-Za-z%]{0,2}$")


def read_pdf(data: bytes, *, max_pages: int, timeout_s: float) -> Parsed:
    """The passages of a PDF, reading at most max_pages pages, in about timeout_s seconds at most: extraction
    stops at the limit, and cleaning (linear in the text) stops there too, or half a second after extraction
    when that used the whole limit."""
    started = time.monotonic()
    pages, total, notes = _extract(data, max_pages, timeout_s)
    deadline = max(started + timeout_s, time.monotonic() + CLEANING_GRACE_S)
    try:
        parsed = pages_to_pieces(pages, deadline=deadline)
    except CleaningStopped as stopped:
        return Parsed(notes=[*notes, f"PDF text cleaning stopped at the {timeout_s:g} s limit ({stopped})"])
    parsed.notes = notes + parsed.notes
    if total is not None and total > len(pages) and not notes:
        parsed.notes.append(f"PDF: read the first {len(pages)} of {total} pages")
    return parsed


def _extract(data: bytes, max_pages: int, timeout_s: float) -> tuple[list[str], int | None, list[str]]:
    command = [sys.executable, str(CHILD), str(max_pages)]
    notes: list[str] = []
    try:
        done = subprocess.run(command, input=data, capture_output=True, timeout=timeout_s, check=False)
        out = done.stdout
        if done.returncode != 0:
            last = (done.stderr.decode(errors="replace").strip().splitlines() or ["no message"])[-1]
            notes.append(f"PDF reader failed (exit {done.returncode}: {last[:200]})")
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout or b""
        notes.append(f"PDF reading stopped at the {timeout_s:g} s limit")
    pages: list[str] = []
    total = None
    for line in out.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            break  # the last line of a child stopped mid-write
        if "error" in record:
            notes.append(f"PDF not readable: {record['error']}")
        elif "pages" in record:
            total = int(record["pages"])
        else:
            pages.append(str(record.get("text", "")))
    if total is not None and len(pages) < min(total, max_pages) and notes:
        notes[-1] += f" after {len(pages)} of {total} pages"
    return pages, total, notes


# --- cleaning ---------------------------------------------------------------------------------------------------


def pages_to_pieces(pages: list[str], *, deadline: float | None = None) -> Parsed:
    """Sections of cleaned text from the pages' raw text (see the module docstring); CleaningStopped past the
    deadline (a time.monotonic() value)."""
    return _sections(text_lines(pages, deadline=deadline))


def text_lines(pages: list[str], *, keep_numbers: bool = False, deadline: float | None = None) -> list[str]:
    """The pages' lines without page numbers (nor, unless keep_numbers, lines that are mostly numbers), with
    words broken across lines put back together."""
    lines = []
    for page in pages:
        page = _BREAK_MARK.sub("-\n", page.replace("\r\n", "\n").replace("\r", "\n"))
        for raw in page.split("\n"):
            line = " ".join(raw.replace("\x00", "").split())
            if not line or _PAGE_NUMBER.match(line) or (not keep_numbers and _mostly_numbers(line)):
                continue
            lines.append(line)
    return _join_hyphenated(lines, deadline)


def _mostly_numbers(line: str) -> bool:
    tokens = line.split()
    numeric = sum(bool(_NUMERIC.match(t)) for t in tokens)
    return numeric >= 2 and numeric >= 0.5 * len(tokens)


def _join_hyphenated(lines: list[str], deadline: float | None = None) -> list[str]:
    """Lines with each word broken at a line end put back together. Linear in the text: a joined line grows as a
    list of pieces, and only the word at its end is looked at, so a page of fragments that all join ("ab-",
    "cd-", ...) costs no more than a page of prose."""
    vocabulary = _Vocabulary(lines)
    out: list[str] = []
    pieces: list[str] = []  # the line being joined, in pieces
    tail = ""  # the letters at the end of that line (at most _LONGEST_WORD of them)
    for number, line in enumerate(lines):
        if deadline is not None and number % 256 == 0 and time.monotonic() > deadline:
            raise CleaningStopped(len(lines) - number)
        second = _leading_word(line)
        broken = bool(pieces) and (_ends_broken(pieces[-1]) or (len(pieces) > 1 and _ends_broken("." + pieces[-1])))
        if broken and line[:1].islower() and tail and second:
            pieces[-1] = pieces[-1][:-1]
            hyphen = "-" if _keep_hyphen(tail, second, vocabulary) else ""
            pieces.append(hyphen + line)
            ending = _trailing_word(line)
            whole = len(ending) == len(line) - line.endswith("-")  # the line is one fragment: the word goes on
            tail = (tail + ending)[-_LONGEST_WORD - 1 :] if whole and not hyphen else ending
            continue
        if pieces:
            out.append("".join(pieces))
        pieces, tail = [line], _trailing_word(line)
    if pieces:
        out.append("".join(pieces))
    return out


_LONGEST_WORD = 40  # letters; a longer run is no word a dictionary or the paper's vocabulary could hold


class CleaningStopped(Exception):
    """Cleaning ran past its deadline; carries how many lines were left."""

    def __init__(self, left: int):
        self.left = left
        super().__init__(f"{left} lines left")


def _leading_word(line: str) -> str:
    end = 0
    while end < len(line) and end <= _LONGEST_WORD and line[end].isalpha():
        end += 1
    return line[:end]


def _trailing_word(line: str) -> str:
    """The letters before a broken line's final hyphen (or at its end), at most _LONGEST_WORD + 1 of them."""
    end = len(line) - 1 if line.endswith("-") else len(line)
    start = end
    while start > 0 and end - start <= _LONGEST_WORD and line[start - 1].isalpha():
        start -= 1
    return line[start:end]


def _ends_broken(line: str) -> bool:
    return len(line) > 2 and line.endswith("-") and line[-2].isalpha()


class _Vocabulary:
    """Words the paper spells whole on one line (not the fragments at a broken line's ends), and for its
    hyphenated words, the parts before each last part, so "does the paper write x-y" is a lookup."""

    def __init__(self, lines: list[str]):
        self.words: set[str] = set()
        for i, line in enumerate(lines):
            found = _WORD.findall(line)
            if _ends_broken(line) and found:
                found = found[:-1]
            if i and _ends_broken(lines[i - 1]) and found:
                found = found[1:]
            self.words.update(w.lower() for w in found if len(w) <= 4 * _LONGEST_WORD)
        self.before_last: dict[str, list[str]] = {}
        for word in self.words:
            if "-" in word:
                *_, before, last = word.split("-")
                self.before_last.setdefault(last, []).append(before)

    def hyphenated(self, first: str, second: str) -> bool:
        """The paper writes a word ending in first-second (first may be the end of a longer part)."""
        return any(before.endswith(first) for before in self.before_last.get(second, ()))


def _keep_hyphen(first: str, second: str, vocabulary: _Vocabulary) -> bool:
    if len(first) > _LONGEST_WORD or len(second) > _LONGEST_WORD:
        return False
    first, second = first.lower(), second.lower()
    if first + second in vocabulary.words:
        return False
    if vocabulary.hyphenated(first, second):
        return True
    from wordfreq import zipf_frequency

    if zipf_frequency(first + second, "en") >= 2.5:
        return False
    return zipf_frequency(first, "en") >= 2.5 and zipf_frequency(second, "en") >= 2.5


def _sections(lines: list[str]) -> Parsed:
    parsed = Parsed()
    typical = sorted(len(line) for line in lines)[len(lines) // 2] if lines else 0
    section, kind, body = "", "text", []
    last_number: tuple[int, ...] = ()
    in_references = dropped = False
    has_front_heading = any(_NAMED.match(line) and line.lower() == "abstract" for line in lines)

    def flush() -> None:
        text = " ".join(body).strip()
        if text and not (in_references or dropped) and (section or not has_front_heading):
            parsed.pieces.append((section, "abstract" if kind == "abstract" else "text", text))
        body.clear()

    for line in lines:
        heading = _heading(line, typical, last_number, in_references)
        if heading is None:
            body.append(line)
            continue
        title, number = heading
        flush()
        if number:
            last_number = number
        if in_references and not (_LETTERED.match(line) or line.lower().startswith("appendix") or number):
            continue
        in_references = bool(_REFERENCES.match(title.split(" ", 1)[-1] if number else title))
        dropped = bool(_DROPPED_SECTIONS.match(title))
        section, kind = line, ("abstract" if title.lower() == "abstract" else "text")
        if in_references:
            parsed.notes.append("references dropped")
    flush()
    return parsed


def _heading(line: str, typical: int, last: tuple[int, ...], after_references: bool) -> tuple[str, tuple] | None:
    """(title, section number) when the line is a heading, else None."""
    if len(line) > max(60, 0.75 * typical) or (line.endswith((".", ",", ";", ":")) and not _NAMED.match(line)):
        return None
    if _NAMED.match(line):
        return line, ()
    numbered = _NUMBERED.match(line)
    if numbered and len(numbered["title"].split()) <= 12:
        number = tuple(int(n) for n in numbered["num"].split("."))
        if _follows(number, last):
            return line, number
        return None
    lettered = _LETTERED.match(line)
    if after_references and lettered and len(lettered["title"].split()) <= 12:
        return line, ()
    return None


def _follows(number: tuple[int, ...], last: tuple[int, ...]) -> bool:
    """A section number that can come after the last heading's: the next top-level section (or one soon
    after), or a subsection of the current one."""
    if not last:
        return (len(number) == 1 and number[0] <= 3) or number[:1] == (1,)
    if number[0] == last[0]:
        return len(number) > 1 and number > last
    return last[0] < number[0] <= last[0] + 2
