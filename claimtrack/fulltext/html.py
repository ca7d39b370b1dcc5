"""arXiv's HTML full texts (made from the LaTeX source by LaTeXML) as passages under their section headings.

Parser: lxml's HTML parser (libxml2, in C). It is already installed with the project (the arxiv client's
dependencies bring it), and it recovers from malformed and cut-off markup instead of raising, which is what a
truncated download needs; selectolax would be one more compiled dependency, html5lib is pure Python and slow on
pages of megabytes. libxml2 also caps nesting depth, so a hostile page cannot make the walk below recurse
without bound.

What LaTeXML writes, and what is kept:
- `ltx_section`, `ltx_subsection`, `ltx_subsubsection`, `ltx_appendix` (and chapters, parts) carry an
  `ltx_title` heading such as "3.2 Scaling": it labels every passage inside; `ltx_paragraph` run-in headings
  are added after it ("3.2 Scaling › Effect of data").
- `ltx_para` paragraphs (and `ltx_p` outside one, as in the abstract) become text passages; `ltx_abstract`
  becomes the "abstract" passage.
- Math (`<math alttext=...>`) becomes its LaTeX alttext; footnotes, equation numbers and citation links are
  reduced to their text or dropped (footnotes).
- Figures and tables (`ltx_figure`, `ltx_table`): their captions are kept as "caption" passages; a table is
  kept only when most of its cells hold words (a table of numbers without text says nothing a quote can carry).
- Dropped: the bibliography (`ltx_bibliography`), acknowledgements, author and date blocks, the table of
  contents, arXiv's page chrome (header, navigation, footer, conversion alerts), scripts and styles.

A page that is not LaTeXML's (no `ltx_` structure) is read generically: h1-h6 headings and <p>/<li> text, with
a "References" heading dropping what follows it up to the next heading.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

from claimtrack.fulltext.models import Parsed

if TYPE_CHECKING:
    from lxml.html import HtmlElement

SECTIONS = {
    "ltx_part",
    "ltx_chapter",
    "ltx_section",
    "ltx_subsection",
    "ltx_subsubsection",
    "ltx_appendix",
}
RUN_IN = {"ltx_paragraph", "ltx_subparagraph"}
DROP_CLASSES = {
    "ltx_bibliography",
    "ltx_acknowledgements",
    "ltx_authors",
    "ltx_dates",
    "ltx_TOC",
    "ltx_page_navbar",
    "ltx_page_header",
    "ltx_page_footer",
    "ltx_page_logo",
    "ltx_classification",
    "ltx_keywords",
    "ltx_note",  # footnotes and margin notes: outside the paragraph's sentence flow
    "ltx_tag_equation",
    "ltx_tag_note",
    "package-alerts",  # arXiv's "this HTML conversion may have errors" box
}
DROP_TAGS = {"script", "style", "noscript", "template", "head", "nav", "header", "footer", "button", "form", "svg"}
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_REFERENCES = re.compile(r"^\s*(?:\d+\.?\s*)?(?:references|bibliography|works cited)\s*$", re.IGNORECASE)
_WS = re.compile(r"\s+")
_SPACE_BEFORE_PUNCTUATION = re.compile(r"\s+(?=[.,;:!?)])")  # left by the spaces put around math
_WORDY = re.compile(r"[^\W\d_]{3,}")
_TITLES = frozenset({"ltx_title"})
_BLOCKS = frozenset({"div", "p", "section", "table", "figure", "ul", "ol", "ltx_para"})  # not part of a heading
MAX_DEPTH = 400  # libxml2 stops at 256 levels; this only guards the walk itself


def parse_html(data: bytes, *, timeout_s: float | None = None) -> Parsed:
    """The passages of an HTML document; malformed or cut-off markup yields what could be read. The walk is
    linear in the document (about 1.5 MB/s of markup here) and stops after timeout_s seconds with the passages
    read so far and a note, so that even a page at the byte limit cannot stall a run."""
    import lxml.etree
    import lxml.html

    parsed = Parsed()
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    try:
        root = lxml.html.document_fromstring(data)
    except (lxml.etree.ParserError, ValueError) as exc:  # an empty document, or bytes no parser can start on
        parsed.notes.append(f"HTML not parseable: {exc}")
        return parsed
    latexml = bool(root.xpath("//*[contains(@class, 'ltx_')]"))
    try:
        _Walker(parsed, latexml, deadline).walk(root, "", 0)
    except _Stopped:
        parsed.notes.append(f"HTML reading stopped at the {timeout_s:g} s limit")
    return parsed


class _Stopped(Exception):
    """The walk ran past its deadline."""


def _classes(el: HtmlElement) -> set[str]:
    return set((el.get("class") or "").split())


class _Walker:
    def __init__(self, parsed: Parsed, latexml: bool, deadline: float | None = None):
        self.parsed = parsed
        self.latexml = latexml
        self.deadline = deadline
        self.visited = 0
        self.heading = ""  # generic pages only: the latest h1-h6
        self.skipping_references = False  # generic pages only: after a "References" heading

    def emit(self, section: str, kind: str, text: str) -> None:
        text = _WS.sub(" ", text).strip()
        if text and not self.skipping_references:
            self.parsed.pieces.append((section, kind, text))

    def walk(self, el: HtmlElement, section: str, depth: int) -> None:
        for child in el.iterchildren():
            if not isinstance(child.tag, str) or depth > MAX_DEPTH:
                continue  # comments and processing instructions
            self.visit(child, section, depth + 1)

    def tick(self) -> None:
        """Count one element; past the deadline, stop the walk (checked every 512 elements: the clock is cheap,
        but not free)."""
        self.visited += 1
        if self.deadline is not None and self.visited % 512 == 0 and time.monotonic() > self.deadline:
            raise _Stopped

    def visit(self, el: HtmlElement, section: str, depth: int) -> None:
        self.tick()
        tag, classes = el.tag.lower(), _classes(el)
        if tag in DROP_TAGS or classes & DROP_CLASSES:
            return
        if classes & SECTIONS:
            self.walk_section(el, _title(el) or section, depth)
        elif classes & RUN_IN:
            title = _title(el).rstrip(".:")
            self.walk_section(el, f"{section} › {title}" if section and title else (title or section), depth)
        elif "ltx_abstract" in classes:
            self.emit(
                "Abstract", "abstract", " ".join(_text(p) for p in _paragraphs(el)) or _text(el, leave_out=_TITLES)
            )
        elif tag == "figure" or classes & {"ltx_figure", "ltx_table", "ltx_float"}:
            self.figure(el, section)
        elif classes & {"ltx_para", "ltx_p"} or (tag == "p" and self.latexml):
            self.emit(section, "text", _text(el))
        elif tag == "table" and "ltx_tabular" in classes:
            self.table(el, section)
        elif not self.latexml and tag in _HEADINGS:
            self.heading = _text(el)
            self.skipping_references = bool(_REFERENCES.match(self.heading))
        elif not self.latexml and tag in ("p", "li", "blockquote", "dd"):
            self.emit(self.heading, "text", _text(el))
        else:
            self.walk(el, section, depth)

    def walk_section(self, el: HtmlElement, section: str, depth: int) -> None:
        for child in el.iterchildren():
            if not isinstance(child.tag, str):
                continue
            if "ltx_title" in _classes(child):
                self.walk(child, section, depth + 1)  # only paragraphs an unclosed heading swallowed
            else:
                self.visit(child, section, depth + 1)

    def figure(self, el: HtmlElement, section: str) -> None:
        for caption in el.xpath(".//figcaption | .//*[contains(concat(' ', @class, ' '), ' ltx_caption ')]"):
            if caption.tag != "figcaption" and caption.xpath("ancestor::figcaption"):
                continue
            self.emit(section, "caption", _text(caption))
        for table in el.xpath(".//table[contains(@class, 'ltx_tabular')][not(ancestor::table)]"):
            self.table(table, section)

    def table(self, el: HtmlElement, section: str) -> None:
        rows = []
        for row in el.xpath(".//tr"):
            self.tick()
            cells = [_WS.sub(" ", _text(c)).strip() for c in row.xpath("./td | ./th")]
            if any(cells):
                rows.append(cells)
        cells = [c for row in rows for c in row if c]
        if cells and sum(bool(_WORDY.search(c)) for c in cells) >= 0.6 * len(cells):
            self.emit(section, "table", " ; ".join(" | ".join(c for c in row if c) for row in rows))


def _title(el: HtmlElement) -> str:
    for child in el.iterchildren():
        if isinstance(child.tag, str) and "ltx_title" in _classes(child):
            return _text(child, leave_out=_BLOCKS)
    return ""


def _paragraphs(el: HtmlElement) -> list[HtmlElement]:
    return el.xpath(".//*[contains(concat(' ', @class, ' '), ' ltx_p ') or self::p][not(ancestor::p)]")


def _text(el: HtmlElement, *, leave_out: frozenset[str] = frozenset()) -> str:
    """The readable text of an element: math as its LaTeX alttext, notes and equation numbers left out, and
    elements with a tag or class in `leave_out`."""
    out: list[str] = []
    _collect(el, out, leave_out, 0)
    return _SPACE_BEFORE_PUNCTUATION.sub("", _WS.sub(" ", "".join(out))).strip()


def _collect(el: HtmlElement, out: list[str], leave_out: frozenset[str], depth: int) -> None:
    tag = el.tag.lower() if isinstance(el.tag, str) else ""
    classes = _classes(el) if tag else set()
    if not tag or tag in DROP_TAGS or classes & DROP_CLASSES or tag in leave_out or classes & leave_out:
        pass
    elif tag == "math":
        alt = el.get("alttext") or "".join(el.xpath(".//annotation[@encoding='application/x-tex']/text()"))
        out.append(f" {alt.strip() or '[math]'} ")
    elif tag == "table" and "ltx_tabular" in classes:
        pass  # a table inside a paragraph is read (or dropped) as a table, not as running text
    elif depth <= MAX_DEPTH:
        if tag in ("br", "td", "th", "li", "div", "p", "tr"):
            out.append(" ")
        out.append(el.text or "")
        for child in el.iterchildren():
            _collect(child, out, leave_out, depth + 1)
            out.append(child.tail or "")
    if tag in ("div", "p", "li", "td", "th"):
        out.append(" ")
