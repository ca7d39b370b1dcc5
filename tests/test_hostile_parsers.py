"""Property-based tests (hypothesis) over every parser of outside text: whatever arrives, each ends in its
result or its typed error, never a traceback, never a hang, in bounded memory.

Inputs are both arbitrary (bytes, text, JSON values) and real documents mutated (bytes flipped, cut, spliced),
since a mutated real document reaches far deeper into a parser than noise does. API answers go through the
real clients against a loopback server that answers each example's body. Example counts are kept small, so
the file runs in well under a minute on two shared cores; `HOSTILE_EXAMPLES` scales them up for a long hunt.
"""

from __future__ import annotations

import json
import os
import resource
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, ROOT
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from loopback import Loopback, Reply, recorded
from pdf_maker import make_pdf, paper_blocks

from claimtrack.discovery import arxiv_source, citations
from claimtrack.discovery.arxiv_source import ArxivQuery
from claimtrack.discovery.http import Fetcher, forget_down_hosts
from claimtrack.discovery.snapshot import import_snapshot
from claimtrack.errors import InvalidArgument, InvalidInput, SourceError
from claimtrack.fulltext.html import parse_html
from claimtrack.fulltext.pdf import read_pdf
from claimtrack.ledger import Ledger
from claimtrack.linedoc import parse_line_document
from claimtrack.models import Claim
from claimtrack.store import parse_file

SCALE = int(os.environ.get("HOSTILE_EXAMPLES", "1"))
FAST = settings(
    max_examples=40 * SCALE,
    deadline=2000,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    derandomize=True,
)
NET = settings(FAST, max_examples=25 * SCALE)  # each example is one or more loopback requests
SLOW = settings(
    max_examples=12 * SCALE,
    deadline=8000,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)
MEMORY_MB = 300  # what one parser may add to the process's peak memory over all its examples
TRIED: dict[str, int] = {}  # examples run per parser: the count the docs report

ATOM = recorded("arxiv", "q_testing_s0_m10.xml")
S2_PAGE = recorded("semanticscholar", "test_get_paper_citations_18.json")
OPENALEX_WORK = recorded("openalex", "work_W2741809807.json")
HTML = (FIXTURES / "fulltext" / "2406.01234v2.html").read_bytes()
LINE_DOC = (FIXTURES / "lines" / "length-bias.txt").read_bytes()
CLAIM_YAML = (ROOT / "claims" / "it-output-format-not-task.yaml").read_bytes()
SNAPSHOT_LINE = json.dumps(
    {
        "id": "2305.11383",
        "title": "Do Models Really Learn to Follow Instructions?",
        "abstract": "We study instruction tuning.",
        "authors_parsed": [["Kung", "Po-Nien", ""]],
        "versions": [{"version": "v1", "created": "Fri, 19 May 2023 02:00:00 GMT"}],
        "categories": "cs.CL",
        "update_date": "2023-05-19",
    }
).encode()


def mutated(seed: bytes) -> st.SearchStrategy[bytes]:
    """`seed` with a few bytes replaced, a piece cut out or repeated, or cut short."""

    @st.composite
    def edit(draw: st.DrawFn) -> bytes:
        data = bytearray(seed)
        for _ in range(draw(st.integers(1, 6))):
            if not data:
                break
            at = draw(st.integers(0, len(data) - 1))
            kind = draw(st.sampled_from(["flip", "cut", "repeat", "insert", "truncate"]))
            size = draw(st.integers(1, 64))
            if kind == "flip":
                data[at] = draw(st.integers(0, 255))
            elif kind == "cut":
                del data[at : at + size]
            elif kind == "repeat":
                data[at:at] = data[at : at + size] * draw(st.integers(2, 50))
            elif kind == "insert":
                data[at:at] = draw(st.binary(min_size=1, max_size=size))
            else:
                del data[at:]
        return bytes(data)

    return edit()


def hostile(seed: bytes) -> st.SearchStrategy[bytes]:
    """Noise, or text with the characters that hide things (format characters, look-alikes), or the seed
    mutated."""
    weird = st.text(alphabet=st.characters(codec="utf-8"), max_size=300).map(str.encode)
    return st.one_of(st.binary(max_size=2000), weird, mutated(seed), mutated(seed), mutated(seed))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=25,
)


def _shaped(keys: list[str]) -> st.SearchStrategy[Any]:
    """JSON objects that use the API's own field names, with values of any JSON type."""
    return st.dictionaries(st.sampled_from(keys), JSON_VALUES | st.just([]) | st.just({}), max_size=len(keys))


S2_ITEM = _shaped(["citingPaper", "contexts", "intents", "isInfluential"]).map(
    lambda item: {
        **item,
        "citingPaper": item.get("citingPaper")
        if not isinstance(item.get("citingPaper"), dict)
        else {**item["citingPaper"], "title": "A paper"},
    }
)
S2_PAPER = _shaped(["title", "externalIds", "abstract", "authors", "publicationDate", "year", "paperId"])
OPENALEX_WORK_SHAPED = _shaped(
    ["id", "title", "display_name", "doi", "locations", "authorships", "abstract_inverted_index", "publication_date"]
)


@pytest.fixture(autouse=True)
def _bounded_memory(request: pytest.FixtureRequest) -> Iterator[None]:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    yield
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < MEMORY_MB, f"{request.node.name} grew the process by {grown_mb:.0f} MB"


class Answering:
    """A loopback server that answers every GET with the body the running example set."""

    def __init__(self) -> None:
        self.body: bytes = b""
        self.lock = threading.Lock()
        self.server = Loopback()
        self.server.route("/{rest:path}", lambda _: Reply(200, self.body, "application/json"))

    def serve(self, body: bytes) -> None:
        with self.lock:
            self.body = body
        forget_down_hosts()


@pytest.fixture(scope="module")
def answering() -> Iterator[Answering]:
    served = Answering()
    with served.server:
        yield served


def _fetcher(source: str) -> Fetcher:
    return Fetcher(source, retries=0, ttl_s=0, timeout_s=5, max_bytes=2_000_000)


def _written(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _count(name: str) -> None:
    TRIED[name] = TRIED.get(name, 0) + 1


# --- arXiv Atom ------------------------------------------------------------------------------------------------


# "Billion laughs": nine levels of entities, each ten of the one below (a GB of "lol" if expanded).
ENTITY_BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE feed [<!ENTITY l0 "lol">'
    + b"".join(b'<!ENTITY l%d "%s">' % (i, b"&l%d;" % (i - 1) * 10) for i in range(1, 10))
    + b']><feed xmlns="http://www.w3.org/2005/Atom"><title>&l9;</title></feed>'
)


@NET
@given(body=hostile(ATOM))
@example(body=ENTITY_BOMB)
def test_arxiv_atom(answering: Answering, body: bytes) -> None:
    _count("arXiv Atom")
    answering.serve(body)
    from claimtrack.config import Settings

    settings_ = Settings(arxiv_url=answering.server.url + "/api/query", arxiv_delay_s=0, arxiv_retries=0)
    fetcher = _fetcher("arxiv")
    client = arxiv_source.make_client(settings_, fetcher)
    try:
        papers = list(arxiv_source.search(client, ArxivQuery("term: x", ("x",)), 10))
    except SourceError:
        return
    finally:
        fetcher.close()
    assert all(p.id and p.title is not None for p in papers)


# --- Semantic Scholar and OpenAlex JSON ------------------------------------------------------------------------


def _citing(answering: Answering, body: bytes) -> None:
    from claimtrack.config import Settings

    answering.serve(body)
    url = answering.server.url
    settings_ = Settings(s2_url=url + "/graph/v1", openalex_url=url, citations_max=50)
    s2, openalex = _fetcher(citations.S2), _fetcher(citations.OPENALEX)
    try:
        found = citations.citing_papers("2305.11383", settings=settings_, s2=s2, openalex=openalex)
    finally:
        s2.close()
        openalex.close()
    assert found.source in (None, citations.S2, citations.OPENALEX)
    assert all(p.title for p in found.papers)


@NET
@example(body=b"[" * 200_000)  # nested past the JSON parser's recursion limit
@given(
    body=st.one_of(
        hostile(S2_PAGE),
        st.builds(lambda d, n: json.dumps({"data": d, "next": n}).encode(), st.lists(S2_ITEM, max_size=4), JSON_VALUES),
    )
)
def test_semantic_scholar_json(answering: Answering, body: bytes) -> None:
    _count("Semantic Scholar JSON")
    _citing(answering, body)


@NET
@given(
    body=st.one_of(
        hostile(OPENALEX_WORK),
        st.builds(
            lambda r, m: json.dumps({"id": "W1", "results": r, "meta": m}).encode(),
            st.lists(OPENALEX_WORK_SHAPED, max_size=4),
            JSON_VALUES,
        ),
    )
)
def test_openalex_json(answering: Answering, body: bytes) -> None:
    _count("OpenAlex JSON")
    _citing(answering, body)


@FAST
@given(record=S2_PAPER, work=OPENALEX_WORK_SHAPED, item=S2_ITEM)
def test_api_records_one_by_one(record: dict, work: dict, item: dict) -> None:
    """Each record converter: a Paper or None (a record too damaged to use), never an exception."""
    _count("S2/OpenAlex records")
    for paper in (citations.s2_paper(record), citations.openalex_paper(work)):
        assert paper is None or paper.title
    context = citations.s2_context("2305.11383", item)
    assert isinstance(context.contexts, tuple) and all(isinstance(c, str) for c in context.contexts)


# --- arXiv HTML and PDF ----------------------------------------------------------------------------------------


@FAST
@given(data=hostile(HTML))
def test_arxiv_html(data: bytes) -> None:
    _count("arXiv HTML")
    parsed = parse_html(data)
    assert all(isinstance(text, str) for _, _, text in parsed.pieces)


PDF = make_pdf(paper_blocks(sections=2, paragraphs=1, seed=5)).data


@SLOW
@given(data=hostile(PDF))
def test_pdf_bytes(data: bytes) -> None:
    _count("PDF bytes")
    started = time.monotonic()
    parsed = read_pdf(data, max_pages=5, timeout_s=3)
    assert time.monotonic() - started < 3 + 1.5  # the parse limit, plus cleaning's grace and start-up
    assert all(isinstance(text, str) for _, _, text in parsed.pieces)


# --- files a person hands in: the inquiring-line format, claim YAML, snapshot lines ----------------------------


@FAST
@given(data=hostile(LINE_DOC))
def test_inquiring_line_format(tmp_path: Path, data: bytes) -> None:
    _count("inquiring-line documents")
    path = _written(tmp_path / "line.txt", data)
    try:
        doc = parse_line_document(path)
    except InvalidInput as exc:
        assert str(path) in str(exc)
        return
    assert doc.question.endswith("?") and len(doc.notes) == doc.declared_notes


@FAST
@given(data=hostile(CLAIM_YAML))
def test_claim_yaml(tmp_path: Path, data: bytes) -> None:
    _count("claim YAML")
    path = _written(tmp_path / "claim.yaml", data)
    claim, problems = parse_file(path, Claim, "claims/claim.yaml")
    assert (claim is None) == bool(problems)
    assert all(p.file == "claims/claim.yaml" for p in problems)


@SLOW
@example(lines=[b"[" * 200_000, SNAPSHOT_LINE])  # nested past the JSON parser's recursion limit
@given(lines=st.lists(st.one_of(hostile(SNAPSHOT_LINE), JSON_VALUES.map(lambda v: json.dumps(v).encode())), max_size=8))
def test_snapshot_lines(tmp_path: Path, lines: list[bytes]) -> None:
    _count("snapshot lines")
    path = tmp_path / "snapshot.jsonl"
    path.write_bytes(b"\n".join(line.replace(b"\n", b" ") for line in lines))
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        try:
            summary = import_snapshot(ledger, path)
        except (InvalidInput, InvalidArgument):
            return
    assert summary.new + summary.updated + summary.unchanged + summary.filtered + len(summary.bad) == summary.lines


def test_every_parser_was_tried() -> None:
    """Runs last in the file: the tally the docs report (and proof that each property ran)."""
    expected = {
        "arXiv Atom",
        "Semantic Scholar JSON",
        "OpenAlex JSON",
        "S2/OpenAlex records",
        "arXiv HTML",
        "PDF bytes",
        "inquiring-line documents",
        "claim YAML",
        "snapshot lines",
    }
    if len(TRIED) < len(expected):
        pytest.skip("only part of the file was selected")
    assert set(TRIED) == expected and all(n >= 10 for n in TRIED.values()), TRIED
    print("hostile cases tried:", sum(TRIED.values()), TRIED)
