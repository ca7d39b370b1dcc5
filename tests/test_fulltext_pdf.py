"""PDF text: PDFs made here with known text come back as sectioned passages without references, page numbers or
table rows, with words broken across lines put together; bad and huge PDFs end in a note, within the limits."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from pdf_maker import Block, blank_pages, broken_lines_pdf, make_pdf, many_pages, paper_blocks

from claimtrack.fulltext import pdf as pdf_module
from claimtrack.fulltext.pdf import CleaningStopped, pages_to_pieces, read_pdf, text_lines

FINDING = (
    "Above eleven billion parameters, tuning on simplified task definitions lost nearly eight exact-match points "
    "relative to the original instructions."
)


def _read(data: bytes, **limits: float) -> tuple[list[tuple[str, str, str]], list[str]]:
    parsed = read_pdf(data, max_pages=int(limits.get("max_pages", 50)), timeout_s=limits.get("timeout_s", 60.0))
    return parsed.pieces, parsed.notes


def test_a_two_column_paper_comes_back_as_its_sections_and_words() -> None:
    blocks = paper_blocks(sections=4, paragraphs=3, seed=7, extra={"Results": FINDING})
    made = make_pdf(blocks, columns=2)
    pieces, notes = _read(made.data)
    headings = [b.text for b in blocks if b.kind == "heading" and b.text != "References"]
    assert list(dict.fromkeys(s for s, _, _ in pieces)) == headings
    assert pieces[0][1] == "abstract" and {k for _, k, _ in pieces[1:]} == {"text"}
    # Every word of every paragraph, in order, and nothing else: no rows of numbers, page numbers or references.
    # A table's header line is a line of words like any other, so it stays.
    expected = []
    in_references = False
    for block in blocks:
        in_references = in_references or block.text == "References"
        if block.kind == "para" and not in_references:
            expected += block.text.split()
        elif block.kind == "table":
            expected += block.rows[0]
    assert " ".join(t for _, _, t in pieces).split() == expected
    assert any(FINDING in t for s, _, t in pieces if s == "3 Results")
    assert notes == ["references dropped"]


def test_words_broken_at_line_ends_are_joined_as_the_paper_spells_them() -> None:
    pages = [
        "1 Introduction\nWe study lan-\nguage models and their pre-\ntraining data; pre-training is costly.\n"
        "A state-of-the-\nart model, a self-\nattention layer, and multi-\nlingual data.\n7",
        "PDFium marks a break like this: wit\ufffehdraw, and a page may end mid-word: decre-",
        "8\nases. Known words stay whole: inter-\nnational.",
    ]
    text = " ".join(text_lines(pages))
    assert "We study language models" in text  # not a word apart: joined
    assert "their pre-training data; pre-training is costly." in text  # the paper writes it with a hyphen
    assert "A state-of-the-art model, a self-attention layer, and multilingual data." in text
    assert "wit\ufffe" not in text and "withdraw" in text
    assert "mid-word: decreases." in text  # across a page break, over the page number
    assert "international." in text
    assert " 7 " not in f" {text} " and " 8 " not in f" {text} "  # running page numbers


def test_numbered_headings_must_follow_each_other_and_be_short() -> None:
    lines = [
        "Abstract",
        "We report results.",
        "1 Introduction",
        "2 We trained on two datasets and the line goes on to the full width of the column as body text does.",
        "Body text continues here with enough words to be a typical line of the column.",
        "1990 Census data were used.",
        "2 Results",
        "Results come first.",
        "2.1 Scaling",
        "Bigger is better here, mostly, across every one of the model families that we looked at.",
        "7 Not a heading after two",
        "References",
        "[1] A. Author. A title. 2020.",
        "A Appendix tables",
        "Extra rows are described here in words.",
    ]
    parsed = pages_to_pieces(["\n".join(lines)])
    sections = [s for s, _, _ in parsed.pieces]
    assert sections == ["Abstract", "1 Introduction", "2 Results", "2.1 Scaling", "A Appendix tables"]
    scaling = {s: t for s, _, t in parsed.pieces}["2.1 Scaling"]
    assert scaling.endswith("7 Not a heading after two")
    assert "A. Author" not in " ".join(t for _, _, t in parsed.pieces)


def test_a_300_page_pdf_is_read_up_to_the_page_limit() -> None:
    data = many_pages(300)
    pieces, notes = _read(data, max_pages=12)
    text = " ".join(t for _, _, t in pieces)
    assert "Page 12 reports" in text and "Page 13 reports" not in text
    assert notes == ["PDF: read the first 12 of 300 pages"]


def test_reading_stops_at_the_time_limit_with_what_it_has() -> None:
    started = time.monotonic()
    pieces, notes = _read(many_pages(300), max_pages=300, timeout_s=0.05)
    assert time.monotonic() - started < 10
    assert len(notes) == 1 and notes[0].startswith("PDF reading stopped at the 0.05 s limit")
    assert len(pieces) <= 1  # the child had barely started: at most a few pages' text


def test_truncated_garbage_and_empty_pdfs_end_in_a_note() -> None:
    made = make_pdf(paper_blocks(sections=2, paragraphs=2), columns=1)
    for data in (made.data[: len(made.data) // 2], b"%PDF-1.7\n garbage \x00\xff", b"not a pdf at all", b""):
        pieces, notes = _read(data)
        assert pieces == [] and len(notes) == 1 and notes[0].startswith("PDF not readable"), (data[:20], notes)
    pieces, notes = _read(blank_pages(3))
    assert pieces == [] and notes == []


def test_a_paper_without_headings_is_one_unlabelled_section() -> None:
    made = make_pdf([Block("para", "Plain text without any heading at all. " * 5)], columns=1)
    pieces, _ = _read(made.data)
    assert [(s, k) for s, k, _ in pieces] == [("", "text")]


def test_a_reader_that_crashes_ends_alone_and_its_pages_so_far_are_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    crashing = tmp_path / "crashing_child.py"  # a child that dies as PDFium would on a hostile file
    crashing.write_text(
        "import json, os, signal\n"
        'print(json.dumps({"pages": 3}), flush=True)\n'
        'print(json.dumps({"text": "1 Introduction\\nThe first page was read."}), flush=True)\n'
        "os.kill(os.getpid(), signal.SIGSEGV)\n"
    )
    monkeypatch.setattr(pdf_module, "CHILD", crashing)
    pieces, notes = _read(b"%PDF-1.7")
    assert pieces == [("1 Introduction", "text", "The first page was read.")]
    assert notes == ["PDF reader failed (exit -11: no message) after 1 of 3 pages"]


def test_a_pdf_whose_every_line_joins_the_next_ends_within_the_limit_plus_a_second() -> None:
    """8 pages x 2,000 hyphen-broken fragments: the old cleaning took 100 s on it with a 5 s limit."""
    data = broken_lines_pdf(pages=8, lines=2000)
    for limit in (5.0, 0.2):
        started = time.monotonic()
        parsed = read_pdf(data, max_pages=50, timeout_s=limit)
        assert time.monotonic() - started < limit + 1.0, limit
    pages = ["\n".join(f"{'ab' * (n % 3 + 1)}-" for n in range(2000))] * 8
    assert len(text_lines(pages)) == 1  # one joined line: the joining itself is what is exercised
    with pytest.raises(CleaningStopped):
        pages_to_pieces(pages, deadline=time.monotonic() - 1)  # past its deadline, cleaning stops at once
    assert parsed.pieces or parsed.notes  # read whole, or stopped with a note saying so
