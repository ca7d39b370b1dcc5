"""PDFs of known text, made with reportlab, for the full-text tests and the PDF library benchmark.

A document is a list of blocks (headings, paragraphs, a table, references). `make_pdf` lays them out on pages of
one or two columns, breaking long words across lines with a hyphen the way a typesetter does, and returns the
PDF with the words a perfect extractor would read, in reading order. `order="rows"` writes a two-column page's
lines row by row (left line, right line, ...) so that an extractor must use the layout, not the drawing order,
to read each column whole.
"""

from __future__ import annotations

import io
import random
import re
from dataclasses import dataclass, field
from typing import Literal

PAGE_W, PAGE_H = 612.0, 792.0  # US letter, in points
MARGIN, GUTTER = 54.0, 18.0
FONT, BOLD, SIZE, LEADING = "Times-Roman", "Times-Bold", 10.0, 12.5


@dataclass(frozen=True)
class Block:
    kind: Literal["heading", "para", "table", "references"]
    text: str = ""
    rows: tuple[tuple[str, ...], ...] = ()


@dataclass
class MadePdf:
    data: bytes
    pages: int
    words: list[str] = field(default_factory=list)  # what a perfect extractor reads, page numbers excluded
    body_words: list[str] = field(default_factory=list)  # the same, without the references section


@dataclass
class _Line:
    text: str
    font: str = FONT
    cells: tuple[tuple[float, str], ...] = ()  # (x offset, text) for table rows


def make_pdf(
    blocks: list[Block], *, columns: int = 1, order: Literal["stream", "rows"] = "stream", hyphenate: bool = True
) -> MadePdf:
    from reportlab.pdfbase.pdfmetrics import stringWidth
    from reportlab.pdfgen import canvas

    width = (PAGE_W - 2 * MARGIN - (columns - 1) * GUTTER) / columns
    lines: list[_Line] = []
    truth: list[str] = []
    body: list[str] = []
    in_references = False
    for block in blocks:
        if block.kind == "heading":
            in_references = block.text.split()[-1].lower() in ("references", "bibliography")
            lines += [_Line(""), _Line(block.text, BOLD)]
            words = block.text.split()
        elif block.kind == "table":
            step = width / max(len(r) for r in block.rows)
            lines.append(_Line(""))
            lines += [_Line("", cells=tuple((i * step, cell) for i, cell in enumerate(row))) for row in block.rows]
            words = [w for row in block.rows for cell in row for w in cell.split()]
        else:
            lines.append(_Line(""))
            wrapped = _wrap(block.text, width, lambda s: stringWidth(s, FONT, SIZE), hyphenate)
            lines += [_Line(text) for text in wrapped]
            words = block.text.split()
        truth += words
        if not in_references:
            body += words

    per_column = int((PAGE_H - 2 * MARGIN) // LEADING)
    per_page = per_column * columns
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=(PAGE_W, PAGE_H), pageCompression=1)
    pages = 0
    for start in range(0, len(lines), per_page):
        pages += 1
        page = lines[start : start + per_page]
        placed = []  # (row, column, line)
        for i, line in enumerate(page):
            placed.append((i % per_column, i // per_column, line))
        if order == "rows":
            placed.sort(key=lambda p: (p[0], p[1]))
        for row, column, line in placed:
            x = MARGIN + column * (width + GUTTER)
            y = PAGE_H - MARGIN - (row + 1) * LEADING
            if line.cells:
                pdf.setFont(FONT, SIZE)
                for dx, cell in line.cells:
                    pdf.drawString(x + dx, y, cell)
            elif line.text:
                pdf.setFont(line.font, SIZE)
                pdf.drawString(x, y, line.text)
        pdf.setFont(FONT, 8)
        pdf.drawCentredString(PAGE_W / 2, MARGIN / 2, str(pages))  # a page number, as papers have
        pdf.showPage()
    pdf.save()
    return MadePdf(buffer.getvalue(), pages, truth, body)


def _wrap(text: str, width: float, measure, hyphenate: bool) -> list[str]:
    """Fill lines to `width`; a long word that does not fit is broken with a hyphen (at its own hyphen if it
    has one), as LaTeX does."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}" if line else word
        if measure(candidate) <= width:
            line = candidate
            continue
        head, tail = _split(word, line, width, measure) if hyphenate else (None, word)
        if head is not None:
            lines.append(f"{line} {head}" if line else head)
            line = tail
        else:
            lines.append(line)
            line = word
    if line:
        lines.append(line)
    return lines


def _split(word: str, line: str, width: float, measure) -> tuple[str | None, str]:
    prefix = f"{line} " if line else ""
    if "-" in word.strip("-"):
        first, rest = word.split("-", 1)
        if len(first) >= 2 and measure(f"{prefix}{first}-") <= width:
            return f"{first}-", rest
    letters = re.fullmatch(r"[A-Za-z]+([.,;:]?)", word)
    if letters is None or len(word) < 8:
        return None, word
    for cut in range(len(word) - 4, 2, -1):
        if measure(f"{prefix}{word[:cut]}-") <= width:
            return f"{word[:cut]}-", word[cut:]
    return None, word


# --- a paper of known text ------------------------------------------------------------------------------------

SENTENCES = (
    "We study how instruction tuning changes the behaviour of language models on reasoning benchmarks.",
    "The experiments cover seven model families between one hundred million and seventy billion parameters.",
    "Pre-training data was deduplicated before the evaluation, following standard practice.",
    "Our state-of-the-art baselines were fine-tuned with the hyperparameters reported by their authors.",
    "Accuracy improves steadily with scale, although the smallest models remain close to chance.",
    "We observe that the effect disappears when the prompts are paraphrased by annotators.",
    "Representational similarity between checkpoints decreases during the first thousand optimisation steps.",
    "Further analysis shows that multilingual models generalise better to unseen languages.",
    "Computational requirements grow quadratically with the sequence length of the transformer.",
    "A self-attention layer mixes information across positions, whereas feedforward layers act on each token.",
    "Interestingly, contamination of the evaluation sets explains only a small part of the improvement.",
    "Participants were compensated above the minimum wage and could withdraw at any time.",
)
TABLE = (
    ("Model", "Params", "Accuracy", "F1"),
    ("Base", "125M", "41.2", "38.9"),
    ("Large", "1.3B", "55.7", "52.1"),
    ("XL", "13B", "63.4", "60.8"),
)
REFERENCES = (
    "[1] A. Author and B. Writer. Scaling laws for neural language models. arXiv preprint, 2020.",
    "[2] C. Scholar. Measuring massive multitask language understanding. In Proceedings of ICLR, 2021.",
    "[3] D. Researcher, E. Student. Chain of thought prompting elicits reasoning. In NeurIPS, 2022.",
)


def paper_blocks(sections: int = 4, paragraphs: int = 3, seed: int = 0, *, extra: dict[str, str] | None = None):
    """A paper of numbered sections, each of a few paragraphs of the sentences above, one table and references.
    `extra` maps a section title to a paragraph placed first in it (a finding a test looks for)."""
    rng = random.Random(seed)
    titles = ["Introduction", "Method", "Results", "Analysis", "Discussion", "Limitations", "Conclusion"]
    blocks = [Block("heading", "Abstract"), Block("para", " ".join(rng.sample(SENTENCES, 3)))]
    for number in range(1, sections + 1):
        title = titles[(number - 1) % len(titles)]
        blocks.append(Block("heading", f"{number} {title}"))
        if extra and title in extra:
            blocks.append(Block("para", extra[title]))
        for sub in range(paragraphs):
            if sub == 1 and number == 2:
                blocks.append(Block("heading", f"{number}.1 Experimental setup"))
            blocks.append(Block("para", " ".join(rng.sample(SENTENCES, rng.randint(3, 6)))))
        if title == "Results":
            blocks.append(Block("table", rows=TABLE))
    blocks.append(Block("heading", "References"))
    blocks += [Block("para", ref) for ref in REFERENCES]
    return blocks


def many_pages(count: int, line: str = "Page {n} reports one more finding about scaling.") -> bytes:
    """A long PDF quickly: one numbered line per page (a 300-page thesis, for the page limit)."""
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=(PAGE_W, PAGE_H))
    for n in range(1, count + 1):
        pdf.setFont(FONT, SIZE)
        pdf.drawString(MARGIN, PAGE_H - MARGIN, line.format(n=n))
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def blank_pages(count: int = 1) -> bytes:
    """A valid PDF with no text at all (a scan without OCR reads like this)."""
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=(PAGE_W, PAGE_H))
    for _ in range(count):
        pdf.rect(MARGIN, MARGIN, 100, 100)
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def broken_lines_pdf(pages: int = 8, lines: int = 2000, seed: int = 0) -> bytes:
    """A PDF built to make text cleaning slow: `lines` short lines per page in tiny type, each a fragment of
    letters ending in a hyphen ("kzq-"), so that every line joins the next into one ever longer word."""
    from reportlab.pdfgen import canvas

    rng = random.Random(seed)
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=(PAGE_W, PAGE_H))
    leading = (PAGE_H - 2 * MARGIN) / lines
    for _ in range(pages):
        pdf.setFont(FONT, leading * 0.8)
        for n in range(lines):
            fragment = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 5)))
            pdf.drawString(MARGIN, PAGE_H - MARGIN - n * leading, fragment + "-")
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()
