"""Reading full texts from (loopback) arXiv: HTML first, the PDF on a 404, one fetch per id and version kept in
the ledger, and every failure (404s, 429, no host, cut or slow bodies, not a PDF) a typed outcome, never a raise."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import FIXTURES
from loopback import ArxivFullText, Literature, Reply, bomb_reply
from pdf_maker import make_pdf, paper_blocks

from claimtrack import migrations
from claimtrack.discovery.http import forget_down_hosts
from claimtrack.fulltext import FullText, Reader, Unreadable, read_fulltext
from claimtrack.fulltext import reader as reader_module
from claimtrack.ledger import Ledger
from claimtrack.papers import Paper

HTML = (FIXTURES / "fulltext" / "2406.01234v2.html").read_bytes()
PAPER = Paper(id="2406.01234", version="v2", title="Instruction Semantics Matter at Scale")
HTML_PATH, PDF_PATH = "/html/2406.01234v2", "/pdf/2406.01234v2"


@pytest.fixture(autouse=True)
def _fresh_hosts() -> None:
    forget_down_hosts()


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    with Ledger(tmp_path / "ledger.sqlite") as opened:
        yield opened


def _reader(ledger: Ledger, api: Literature, waits: list[float] | None = None, **settings: object) -> Reader:
    chosen = api.settings(**{"http_backoff_s": 0.01, "http_retries": 1, **settings})
    return Reader(ledger, chosen, sleep=(waits.append if waits is not None else time.sleep))


def _pdf() -> bytes:
    return make_pdf(paper_blocks(sections=3, paragraphs=2, seed=3), columns=2).data


def test_html_is_read_once_per_version_and_kept_in_the_ledger(ledger: Ledger) -> None:
    with Literature(html={"2406.01234v2": HTML}) as api:
        with _reader(ledger, api) as reader:
            text = reader.read(PAPER)
        with _reader(ledger, api) as later:  # a later run: the ledger answers
            again = later.read(PAPER)
        assert len(api.hits(HTML_PATH)) == 1 and not api.hits(PDF_PATH)
    assert isinstance(text, FullText) and text.source == "html" and text.version == "v2"
    assert again == text
    assert [p.n for p in text.passages] == list(range(len(text.passages)))
    results = [p for p in text.passages if p.section == "3 Results" and p.kind == "text"]
    assert len(results) == 1 and "lost 7.8 exact-match points" in results[0].text
    assert text.abstract.startswith("Earlier work found")
    row = ledger.conn.execute("SELECT source, version, parser FROM fulltexts WHERE paper_id = '2406.01234'").fetchone()
    assert tuple(row) == ("html", "v2", f"{reader_module.PARSER_VERSION}/200")


def test_a_changed_parser_reads_the_paper_again(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    with Literature(html={"2406.01234v2": HTML}) as api:
        _reader(ledger, api).read(PAPER)
        monkeypatch.setattr(reader_module, "PARSER_VERSION", reader_module.PARSER_VERSION + "-changed")
        assert isinstance(_reader(ledger, api).read(PAPER), FullText)
        assert len(api.hits(HTML_PATH)) == 2


def test_without_a_version_the_latest_is_asked_for(ledger: Ledger) -> None:
    with Literature(html={"2406.01234v1": b"<p>old</p>", "2406.01234v2": HTML}) as api:
        text = _reader(ledger, api).read(PAPER.model_copy(update={"version": None}))
        assert [r.path for r in api.requests] == ["/html/2406.01234"]
    assert isinstance(text, FullText) and text.version is None and "lost 7.8" in " ".join(p.text for p in text.passages)


def test_no_html_falls_back_to_the_pdf(ledger: Ledger) -> None:
    with Literature(pdf={"2406.01234v2": _pdf()}) as api:
        text = _reader(ledger, api).read(PAPER)
        assert [r.path for r in api.requests] == [HTML_PATH, PDF_PATH]
    assert isinstance(text, FullText) and text.source == "pdf"
    assert text.notes == ["no HTML (HTTP 404)", "references dropped"]
    assert [p.section for p in text.passages][:2] == ["Abstract", "1 Introduction"]


def test_an_html_page_without_text_falls_back_to_the_pdf(ledger: Ledger) -> None:
    with Literature(
        html={"2406.01234v2": b"<html><body><nav>menu</nav></body></html>"}, pdf={"2406.01234v2": _pdf()}
    ) as api:
        text = _reader(ledger, api).read(PAPER)
    assert isinstance(text, FullText) and text.source == "pdf" and text.notes[0] == "the HTML held no text"


def test_neither_html_nor_pdf_is_remembered_for_the_version(ledger: Ledger) -> None:
    with Literature() as api:
        first = _reader(ledger, api).read(PAPER)
        second = _reader(ledger, api).read(PAPER)
        assert len(api.requests) == 2  # the second read asked nothing
    assert isinstance(first, Unreadable) and first.kind == "not-found"
    assert first.reason == "no HTML (HTTP 404); no PDF (HTTP 404)"
    assert second == first
    assert first.note == "full text of 2406.01234v2: no HTML (HTTP 404); no PDF (HTTP 404)"


def test_429_waits_as_long_as_retry_after_says(ledger: Ledger) -> None:
    waits: list[float] = []
    with Literature(html={"2406.01234v2": HTML}) as api:
        api.route(ArxivFullText.HTML, [Reply(429, headers={"Retry-After": "2"}), api.fulltext.html_page])
        text = _reader(ledger, api, waits).read(PAPER)
    assert isinstance(text, FullText) and waits == [2.0]


def test_still_rate_limited_after_the_retries_is_a_source_error_asked_again_later(ledger: Ledger) -> None:
    waits: list[float] = []
    with Literature(html={"2406.01234v2": HTML}) as api:
        api.route(ArxivFullText.HTML, [Reply(429, headers={"Retry-After": "1"})])
        text = _reader(ledger, api, waits).read(PAPER)
        assert len(api.hits(HTML_PATH)) == 2 and not api.hits(PDF_PATH)
    assert isinstance(text, Unreadable) and text.kind == "source-error" and "HTTP 429" in text.reason
    assert ledger.conn.execute("SELECT COUNT(*) FROM fulltexts").fetchone()[0] == 0


def test_an_unreachable_host_fails_fast_and_is_not_remembered(ledger: Ledger) -> None:
    settings = {"arxiv_html_url": "http://127.0.0.1:9/html", "arxiv_pdf_url": "http://127.0.0.1:9/pdf"}
    waits: list[float] = []
    with Literature() as api:
        reader = _reader(ledger, api, waits, **settings)
        first = reader.read(PAPER)
        second = reader.read(Paper(id="2406.05678", version="v1", title="Another"))
    assert isinstance(first, Unreadable) and first.kind == "source-error" and "connection failed" in first.reason
    assert isinstance(second, Unreadable) and "unreachable earlier in this run" in second.reason
    assert waits == []  # a refused connection is not a passing fault: no back-off, not even for the first
    assert ledger.conn.execute("SELECT COUNT(*) FROM fulltexts").fetchone()[0] == 0


def test_a_pdf_over_the_byte_limit_is_too_large(ledger: Ledger) -> None:
    pdf = _pdf()
    with Literature(pdf={"2406.01234v2": pdf}) as api:
        text = _reader(ledger, api, fulltext_max_bytes=len(pdf) // 2).read(PAPER)
    assert isinstance(text, Unreadable) and text.kind == "too-large"
    assert text.reason == f"no HTML (HTTP 404); PDF cut at the {len(pdf) // 2:,}-byte limit"


def test_html_over_the_byte_limit_gives_the_passages_before_the_cut(ledger: Ledger) -> None:
    limit = HTML.index(b"From 3B parameters on")
    with Literature(html={"2406.01234v2": HTML}) as api:
        text = _reader(ledger, api, fulltext_max_bytes=limit).read(PAPER)
    assert isinstance(text, FullText) and text.notes == [f"HTML cut at the {limit:,}-byte limit"]
    assert text.passages[-1].section == "3 Results" and "Conclusion" not in {p.section for p in text.passages}


def test_a_document_that_trickles_in_is_cut_at_the_time_limit(ledger: Ledger) -> None:
    with Literature() as api:
        api.route(ArxivFullText.HTML, [Reply(200, HTML, "text/html", drip_s=0.2)])
        started = time.monotonic()
        text = _reader(ledger, api, fulltext_fetch_s=0.5).read(PAPER)
        took = time.monotonic() - started
    assert took < 2.0  # the whole page would take len(HTML) / 1024 * 0.2 s, over 3 s
    assert isinstance(text, FullText) and text.notes[0].startswith("HTML cut at the 0.5 s limit after")


def test_a_pdf_answer_that_is_not_a_pdf_is_no_text(ledger: Ledger) -> None:
    with Literature() as api:
        api.route(ArxivFullText.PDF, [Reply(200, "<html>Please log in</html>", "text/html")])
        text = _reader(ledger, api).read(PAPER)
    assert isinstance(text, Unreadable) and text.kind == "no-text"
    assert text.reason == "no HTML (HTTP 404); the PDF answer is not a PDF (text/html)"


def test_a_malformed_pdf_is_no_text_with_the_reason(ledger: Ledger) -> None:
    pdf = _pdf()
    with Literature(pdf={"2406.01234v2": pdf[: len(pdf) // 3]}) as api:
        text = _reader(ledger, api).read(PAPER)
    assert isinstance(text, Unreadable) and text.kind == "no-text" and "PDF not readable" in text.reason


def test_a_paper_without_an_arxiv_id_is_not_asked_for(ledger: Ledger) -> None:
    with Literature() as api:
        text = _reader(ledger, api).read(Paper(id="doi:10.1000/x", title="A journal paper"))
        assert api.requests == []
    assert isinstance(text, Unreadable) and text.kind == "no-arxiv-id"


def test_read_fulltext_reads_one_paper(ledger: Ledger) -> None:
    with Literature(html={"2406.01234v2": HTML}) as api:
        text = read_fulltext(ledger, PAPER, api.settings())
    assert isinstance(text, FullText) and text.source == "html"


def test_an_existing_ledger_gains_the_fulltexts_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "ledger.sqlite"
    shipped = list(migrations.MIGRATIONS)
    mine = next(fn for fn in shipped if fn.__name__.endswith("_fulltexts"))  # whatever number a merge gives it
    monkeypatch.setattr(migrations, "MIGRATIONS", shipped[: shipped.index(mine)])
    with Ledger(path) as old:
        old.conn.execute("INSERT INTO runs (id, started_at, command) VALUES ('run-1', '2026-01-01', 'run')")
    monkeypatch.setattr(migrations, "MIGRATIONS", shipped)
    with Ledger(path) as ledger:
        assert mine.__name__ in migrations.applied(ledger.conn)
        assert ledger.conn.execute("SELECT id FROM runs").fetchone()[0] == "run-1"
        columns = [c["name"] for c in ledger.conn.execute("PRAGMA table_info(fulltexts)")]
        assert columns == ["paper_id", "version", "parser", "source", "fulltext", "reason", "fetched_at"]
        with pytest.raises(sqlite3.IntegrityError):  # one row per paper and version
            for _ in range(2):
                ledger.conn.execute(
                    "INSERT INTO fulltexts (paper_id, version, parser, source, fetched_at)"
                    " VALUES ('x', '', '1', 'none', 'now')"
                )


def test_an_empty_html_page_and_no_pdf_is_no_text_remembered(ledger: Ledger) -> None:
    with Literature(html={"2406.01234v2": b""}) as api:
        first = _reader(ledger, api).read(PAPER)
        again = _reader(ledger, api).read(PAPER)
        assert len(api.requests) == 2
    assert isinstance(first, Unreadable) and first.kind == "no-text" and again == first
    assert first.reason == "the HTML held no text (HTML not parseable: Document is empty); no PDF (HTTP 404)"


def test_importing_the_package_loads_no_parser_model_or_pdf_library() -> None:
    import subprocess
    import sys

    heavy = "{'lxml', 'torch', 'chromadb', 'pypdfium2', 'numpy'}"
    code = f"import sys, claimtrack.fulltext; print(sorted({heavy} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_decompression_bomb_is_refused_with_a_note_and_asked_again_later(ledger: Ledger) -> None:
    """1 GiB of zeros gzipped twice (1,827 bytes on the wire) as the HTML page: refused before decoding."""
    with Literature() as api:
        api.route(ArxivFullText.HTML, bomb_reply())
        with _reader(ledger, api) as reader:
            text = reader.read(PAPER)
        assert len(api.hits(HTML_PATH)) == 1 and not api.hits(PDF_PATH)
    assert isinstance(text, Unreadable) and text.kind == "source-error"
    assert "refused a body with stacked content codings (gzip, gzip)" in text.note


_UNDER_A_MEMORY_LIMIT = """
import resource, sys
from pathlib import Path
from claimtrack.config import Settings
from claimtrack.fulltext import read_fulltext
from claimtrack.ledger import Ledger
from claimtrack.papers import Paper
url, path = sys.argv[1], sys.argv[2]
settings = Settings(arxiv_html_url=url + "/html", arxiv_pdf_url=url + "/pdf", fulltext_max_bytes=8_000_000_000)
ledger = Ledger(Path(path))
used = int(open("/proc/self/statm").read().split()[0]) * resource.getpagesize()
limit = used + 400 * 1024**2  # 400 MB more than it holds now: far less than the 1 GiB the answer decodes to
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
print(read_fulltext(ledger, Paper(id="2406.01234", version="v2", title="t"), settings).note)
"""


def test_reading_never_raises_even_when_memory_runs_out(tmp_path: Path) -> None:
    """A one-layer bomb under a limit set far above what fits in memory: the process runs out, and the paper
    gets a note instead of a MemoryError."""
    with Literature() as api:
        api.route(ArxivFullText.HTML, bomb_reply(layers=1))
        command = [sys.executable, "-c", _UNDER_A_MEMORY_LIMIT, api.url, str(tmp_path / "ledger.sqlite")]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(
        r"full text of 2406.01234v2: answer too large for the memory left \(127.0.0.1:\d+/html/2406.01234v2\)",
        done.stdout.strip(),
    ), done.stdout
