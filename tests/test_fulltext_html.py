"""arXiv's LaTeXML HTML as passages: sections, math, captions and text tables kept; references, number tables,
footnotes and page chrome dropped; bad markup read as far as it goes."""

from __future__ import annotations

from conftest import FIXTURES

from claimtrack.fulltext.html import parse_html

PAPER = (FIXTURES / "fulltext" / "2406.01234v2.html").read_bytes()


def _pieces(data: bytes = PAPER) -> list[tuple[str, str, str]]:
    return parse_html(data).pieces


def test_passages_keep_their_section_headings_in_document_order() -> None:
    sections = list(dict.fromkeys(section for section, _, _ in _pieces()))
    assert sections == [
        "Abstract",
        "1 Introduction",
        "2 Method",
        "2.1 Instruction variants",
        "3 Results",
        "3 Results › Compute",  # a \paragraph run-in heading, under its section
        "4 Conclusion",
        "Appendix A Prompt templates",  # after the bibliography, and still read
    ]
    abstract = [t for s, k, t in _pieces() if k == "abstract"]
    assert len(abstract) == 1 and abstract[0].startswith("Earlier work found that instruction-tuned T5 models")


def test_results_paragraph_is_whole_with_math_as_its_latex() -> None:
    results = [t for s, k, t in _pieces() if s == "3 Results" and k == "text"]
    assert len(results) == 1
    assert (
        "with N\\geq 11 B parameters, tuning on simplified task definitions lost 7.8 exact-match points" in results[0]
    )
    method = next(t for s, k, t in _pieces() if s == "2 Method")
    # display math by its alttext, without the equation number; inline math too
    assert "\\Delta=\\mathrm{EM}_{\\text{original}}-\\mathrm{EM}_{\\text{simplified}} where" in method
    assert "has \\Delta\\approx 0." in method and "(1)" not in method


def test_captions_are_passages_and_only_tables_of_words_are_kept() -> None:
    captions = [(s, t) for s, k, t in _pieces() if k == "caption"]
    figure = "Figure 1: The exact-match gap \\Delta grows with model size; it is near zero below 1B parameters."
    assert ("3 Results", figure) in captions
    assert ("3 Results", "Table 1: Exact match (%) on held-out tasks.") in captions
    tables = [t for s, k, t in _pieces() if k == "table"]
    assert tables == [
        "Variant | What the model is shown ; Original | the full task definition ; Simplified | only the output space"
        " of the task ; Delusive | examples with wrong input-output mappings"
    ]
    everything = " ".join(t for _, _, t in _pieces())
    assert "54.2" not in everything and "T5-11B" not in everything  # Table 1's numbers are not text


def test_references_footnotes_acknowledgements_and_page_chrome_are_dropped() -> None:
    everything = " ".join(t for _, _, t in _pieces())
    for absent in (
        "Webson and Pavlick",  # the bibliography
        "Do prompt-based models really understand",
        "Our code is released",  # a footnote
        "Example Foundation",  # acknowledgements
        "experimental HTML",  # arXiv's header
        "Table of Contents",  # the navigation
        "not yet supported by the HTML conversion",  # the conversion alert
        "Generated on",  # the LaTeXML footer
        "ada,ben",  # the authors block
        "Received June",  # dates
    ):
        assert absent not in everything, absent
    intro = next(t for s, k, t in _pieces() if s == "1 Introduction")
    assert intro.endswith("is still debated.")  # the footnote mark left no trace
    assert "(Wei et al., 2022)" in intro  # a citation reads as its text


def test_a_list_inside_a_paragraph_stays_in_that_paragraph() -> None:
    contributions = [t for s, k, t in _pieces() if t.startswith("Our contributions are:")]
    assert contributions == [
        "Our contributions are: • a replication of the simplified-definition experiment at five model sizes;"
        " • a measure of how much of the gain the output space alone explains."
    ]


def test_truncated_html_yields_the_passages_before_the_cut() -> None:
    cut = PAPER[: PAPER.index(b"From 3B parameters on")]
    pieces = _pieces(cut)
    assert [s for s, _, _ in pieces][-1] == "3 Results"
    assert pieces[-1][2].endswith("as the earlier study reported.")
    assert len(pieces) == 8


def test_malformed_markup_is_read_as_far_as_it_goes() -> None:
    broken = (
        b"<html><body><article class='ltx_document'><section class='ltx_section'><h2 class='ltx_title'>1 Intro"
        b"<div class='ltx_para'><p class='ltx_p'>Unclosed <b>bold <i>and italic text about scaling.</p>"
        b"</section></section></div><div class='ltx_para'><p>A stray paragraph.</p></span></body>"
    )
    # The unclosed heading swallows what follows: its paragraphs are still read, under a short label.
    assert _pieces(broken) == [
        ("1 Intro", "text", "Unclosed bold and italic text about scaling."),
        ("1 Intro", "text", "A stray paragraph."),
    ]
    stray = b"<div class='ltx_para'><p class='ltx_p'>One <em>unclosed</p></div></i></b><p class='ltx_p'>Two</div>"
    assert [t for _, _, t in _pieces(stray)] == ["One unclosed", "Two"]


def test_empty_or_binary_documents_give_no_passages_and_a_note() -> None:
    for data in (b"", b"   \n  "):
        parsed = parse_html(data)
        assert parsed.pieces == [] and parsed.notes and "not parseable" in parsed.notes[0]
    assert parse_html(b"\x00\x01\xff\xfe%PDF-1.7 garbage").pieces == []  # no paragraphs: nothing to pass on


def test_deeply_nested_markup_does_not_crash() -> None:
    deep = b"<html><body>" + b"<div>" * 20000 + b"<p>deep</p>" + b"</div>" * 20000 + b"</body></html>"
    parse_html(deep)  # libxml2 gives up below its depth limit; the walk must not overflow either


def test_a_page_that_is_not_latexml_is_read_by_its_headings_and_paragraphs() -> None:
    page = (
        b"<html><head><title>t</title><script>var x = 1;</script></head><body><nav><p>Home</p></nav>"
        b"<h2>Results</h2><p>Scaling helps.</p><ul><li>Larger models gain more.</li></ul>"
        b"<h2>References</h2><p>[1] Someone. A paper. 2020.</p><h2>Appendix</h2><p>More tables.</p></body></html>"
    )
    assert _pieces(page) == [
        ("Results", "text", "Scaling helps."),
        ("Results", "text", "Larger models gain more."),
        ("Appendix", "text", "More tables."),
    ]


def test_a_huge_page_stops_at_the_time_limit_with_what_it_read() -> None:
    """Near the byte limit, a page of a million paragraphs would take many seconds to walk: the walk stops at
    the limit with the passages read so far and a note."""
    page = b"<html><body>" + b'<p class="ltx_p">word ' * 300_000 + b"</body></html>"
    parsed = parse_html(page, timeout_s=0.2)
    assert parsed.notes == ["HTML reading stopped at the 0.2 s limit"] and len(parsed.pieces) < 300_000
    assert len(parse_html(page[:2000], timeout_s=0.2).pieces) > 50  # a small page is read whole
