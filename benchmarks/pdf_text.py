"""PDF text libraries side by side: word accuracy and pages/s on PDFs of known text, in one run.

    python benchmarks/pdf_text.py [--pages 40] [--rounds 3]

Needs the candidates and the generator installed (`pip install -e '.[dev,bench]'`): pypdfium2 (the one
claimtrack uses), pypdf and pdfminer.six. PyMuPDF is left out on purpose: it is AGPL-licensed.

The PDFs come from tests/pdf_maker.py (reportlab): a paper of numbered sections with an abstract, a table,
references and words broken across lines with hyphens, laid out
- `1col`: one column;
- `2col`: two columns, each drawn top to bottom (the order pdfTeX writes, so most arXiv PDFs);
- `2col-rows`: two columns whose lines are drawn row by row across both, so reading order must come from the
  layout, not the drawing order.

Each library's page texts go through the same cleaning claimtrack applies (page numbers out, broken words
joined, `claimtrack.fulltext.pdf.text_lines`), then are compared with the words a perfect reader would see:
- words F1: overlap of the two bags of words (whitespace tokens, punctuation kept), order ignored;
- order: difflib's ratio between the two word sequences (1.0 is the right words in the right order);
- hyphens: of the words the generator broke across lines, the share that come back spelled as in the source.
Speed is pages/s of text extraction alone (no cleaning) on a `--pages`-long two-column paper, the median of
`--rounds` rounds in which the libraries take turns.
"""

from __future__ import annotations

import argparse
import difflib
import io
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from pdf_maker import MadePdf, make_pdf, paper_blocks  # noqa: E402

from claimtrack.fulltext.pdf import text_lines  # noqa: E402


def pypdfium2_pages(data: bytes) -> list[str]:
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(data)
    pages = []
    for index in range(len(document)):
        page = document[index]
        textpage = page.get_textpage()
        pages.append(textpage.get_text_range())
        textpage.close()
        page.close()
    document.close()
    return pages


def pypdf_pages(data: bytes) -> list[str]:
    from pypdf import PdfReader

    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def pdfminer_pages(data: bytes) -> list[str]:
    from pdfminer.high_level import extract_text

    return extract_text(io.BytesIO(data)).split("\f")


LIBRARIES: dict[str, Callable[[bytes], list[str]]] = {
    "pypdfium2": pypdfium2_pages,
    "pypdf": pypdf_pages,
    "pdfminer.six": pdfminer_pages,
}


def versions() -> dict[str, str]:
    from importlib.metadata import version

    return {name: version(name) for name in LIBRARIES}


def scores(made: MadePdf, pages: list[str]) -> tuple[float, float, float]:
    words = " ".join(text_lines(pages, keep_numbers=True)).split()
    truth = made.words
    overlap = sum((Counter(words) & Counter(truth)).values())
    precision, recall = overlap / max(1, len(words)), overlap / max(1, len(truth))
    f1 = 2 * precision * recall / max(1e-9, precision + recall)
    order = difflib.SequenceMatcher(None, words, truth, autojunk=False).ratio()
    broken = [w for w in truth if len(w) >= 8 or "-" in w]  # the words the generator may break
    found = Counter(words)
    hyphens = sum(min(found[w], n) for w, n in Counter(broken).items()) / max(1, len(broken))
    return f1, order, hyphens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    layouts = {
        "1col": make_pdf(paper_blocks(6, 4, seed=1), columns=1),
        "2col": make_pdf(paper_blocks(6, 4, seed=2), columns=2),
        "2col-rows": make_pdf(paper_blocks(6, 4, seed=3), columns=2, order="rows"),
    }
    print("library versions:", ", ".join(f"{k} {v}" for k, v in versions().items()))
    print(f"\n{'library':<14}" + "".join(f"{name:>28}" for name in layouts))
    print(f"{'':<14}" + "".join(f"{'F1 / order / hyphens':>28}" for _ in layouts))
    for name, extract in LIBRARIES.items():
        cells = []
        for made in layouts.values():
            f1, order, hyphens = scores(made, extract(made.data))
            cells.append(f"{f1:.3f} / {order:.3f} / {hyphens:.3f}")
        print(f"{name:<14}" + "".join(f"{c:>28}" for c in cells))

    sections = 1
    long = make_pdf(paper_blocks(sections, 4, seed=4), columns=2)
    while long.pages < args.pages:
        sections += max(1, sections * (args.pages - long.pages) // max(1, long.pages))
        long = make_pdf(paper_blocks(sections, 4, seed=4), columns=2)
    timings: dict[str, list[float]] = {name: [] for name in LIBRARIES}
    for _ in range(args.rounds):
        for name, extract in LIBRARIES.items():
            started = time.perf_counter()
            extract(long.data)
            timings[name].append(time.perf_counter() - started)
    print(f"\nspeed on a {long.pages}-page two-column paper, median of {args.rounds} rounds")
    fastest = min(statistics.median(t) for t in timings.values())
    for name, taken in timings.items():
        median = statistics.median(taken)
        print(f"{name:<14}{long.pages / median:>10.1f} pages/s   {median / fastest:>6.1f}x the fastest's time")


if __name__ == "__main__":
    main()
