"""`claimtrack run` reading past the abstract, end to end: a first look on title, abstract and citation contexts,
then the full text's best passages for the pairs it keeps, every quote cited by number from what was sent.

Real discovery, the real full-text reader (lxml, pypdfium2), real passage ranking (FTS5 + MiniLM), the real
openai client, against loopback arXiv (API, HTML, PDF), Semantic Scholar (citations with contexts) and a
scripted model that answers by the material it is shown."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from agent_helpers import citing, judgement, role_of, store_qualification
from conftest import FIXTURES, claims_workspace, invoke
from loopback import ChatReply, Entry, Literature, OpenAIServer, Reply, user_text
from pdf_maker import many_pages

from claimtrack.fulltext.text import count_tokens
from claimtrack.workspace import Workspace

CLAIM = "it-output-format-not-task"
ANCHOR = "2305.11383"
BUDGET = 300  # passages per pair, in MiniLM tokens: room for the results paragraph, not for the whole paper
HTML = (FIXTURES / "fulltext" / "2406.01234v2.html").read_bytes()
RESULT = "tuning on simplified task definitions lost 7.8 exact-match points on held-out tasks"
CONTEXT = (
    "Unlike Kung and Peng (2023), we find that instruction-tuned models above 3B parameters lose 9 points of "
    "exact match when tuned on simplified task definitions. We therefore keep the full definitions."
)
FULL = Entry(  # its abstract hints at the finding; the results section states it
    "2506.01234v2",
    "Instruction Semantics Matter at Scale",
    "Earlier work found that instruction-tuned T5 models score about as well when tuned on simplified or misleading"
    " instructions, and concluded that instruction tuning mostly teaches the output format. We repeat that study"
    " across model scale and find that the conclusion holds for small models but not for large ones.",
    "2025-06-03",
)
UNRELATED = Entry(  # found by the claim's search terms, but about something else; its full text is served
    "2506.05555v1",
    "Instruction tuning for protein design",
    "We apply instruction tuning to protein language models and report folding accuracy on three benchmarks.",
    "2025-06-05",
)
CITING_ID = "2507.00002"  # known only from Semantic Scholar, with what it says where it cites the anchor
S2 = {
    f"arXiv:{ANCHOR}": [
        {
            "contexts": [CONTEXT, "Kung and Peng (2023) study instruction tuning on T5."],
            "intents": ["result"],
            "isInfluential": True,
            "citingPaper": {
                "paperId": "s2-citing",
                "title": "Instruction following under distribution shift",
                "abstract": "We study how instruction-tuned models generalise to new task phrasings.",
                "externalIds": {"ArXiv": CITING_ID},
                "publicationDate": "2025-07-02",
                "year": 2025,
                "authors": [{"name": "C. Iting"}],
            },
        }
    ]
}


def full_text_shown(text: str) -> bool:
    return "\nFull text" in text


def respond(request: dict[str, Any]) -> ChatReply:
    """A model that answers by what it is shown: the first look on FULL is unsure (the abstract only hints),
    its full text's results passage relaxes the claim; the citing paper's context relaxes it; the protein
    paper is clearly unrelated."""
    role = role_of(request)
    if role == "plan":
        return ChatReply(content=json.dumps({"queries": ["instruction semantics scale"]}), tokens_in=50, tokens_out=10)
    text = user_text(request)
    title_line = re.search(r"^\[1\] (.*)$", text, re.MULTILINE)
    assert title_line is not None, text
    title = title_line[1]
    if title == FULL.title:
        if full_text_shown(text):
            return citing(request, "relaxes", RESULT, 0.85, scope_note="models below 3B parameters")
        return judgement("supports", confidence=0.4, sentences=[3])
    if title == S2[f"arXiv:{ANCHOR}"][0]["citingPaper"]["title"]:
        if "What this paper says" not in text:  # its abstract alone does not speak to the claim
            return judgement("unrelated", confidence=0.6)
        return citing(request, "relaxes", "above 3B parameters lose 9 points", 0.8, scope_note="models up to 3B")
    return judgement("unrelated", confidence=0.95)


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    return claims_workspace(tmp_path / "ws", CLAIM)


def _serve(
    monkeypatch: pytest.MonkeyPatch, literature: Literature, responder: Callable[[dict[str, Any]], ChatReply]
) -> OpenAIServer:
    llm = OpenAIServer(responder=responder)
    for key, value in {**literature.env(), **llm.env()}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("CLAIMTRACK_FULLTEXT_BUDGET_TOKENS", str(BUDGET))
    monkeypatch.setenv("CLAIMTRACK_HTTP_BACKOFF_S", "0.01")
    return llm


@pytest.fixture
def literature() -> Iterator[Literature]:
    html = {FULL.arxiv_id: HTML, UNRELATED.arxiv_id: HTML}
    with Literature([FULL, UNRELATED], s2=S2, openalex={ANCHOR: []}, html=html) as server:
        yield server


def _run(ws: Path, *extra: str) -> Any:
    # The scripted judge, measured right on 40 of 40 pairs per stance: its judgements weigh by that measurement,
    # and two agreeing answers settle a pair (P = 0.9994), so these tests see the reading, not extra rechecks.
    store_qualification(ws, per_label=40)
    result = invoke("--workspace", str(ws), "run", CLAIM, "--no-replicate", *extra)
    assert result.exit_code == 0, result.stdout + result.stderr
    return result


def _requests(llm: OpenAIServer, title: str) -> list[tuple[str, str]]:
    """(role, user message) of each judge and confirm request about the paper with this title."""
    out = []
    for request in llm.chat.requests:
        text = user_text(request)
        if role_of(request) != "plan" and f"\n[1] {title}\n" in text:
            out.append((role_of(request), text))
    return out


def _blocks(text: str, label: str) -> list[str]:
    """The sentences of every block whose label starts with `label`, one string per block."""
    blocks = re.findall(rf"^({re.escape(label)}[^\n]*):\n((?:\[\d+\] [^\n]*\n?)+)", text, re.MULTILINE)
    return [" ".join(re.sub(r"^\[\d+\] ", "", line) for line in body.strip().splitlines()) for _, body in blocks]


def _evidence(ws: Path) -> dict[str, dict[str, Any]]:
    claim = yaml.safe_load((ws / "claims" / f"{CLAIM}.yaml").read_text())
    return {e["source"]: e for e in claim["evidence"]}


def test_the_judge_reads_the_best_passages_and_the_citation_contexts_and_cites_them(ws, literature, monkeypatch):
    with _serve(monkeypatch, literature, respond) as llm:
        result = _run(ws, "--json")
        full = _requests(llm, FULL.title)
        # first look on the abstract (unsure), then the full judgement with passages, then its confirmation
        assert [role for role, _ in full] == ["judge", "judge", "confirm"]
        look, judged, confirmed = (text for _, text in full)
        assert not full_text_shown(look) and "lost 7.8" not in look
        assert full_text_shown(judged) and "Full text, §3 Results:" in judged and RESULT in judged
        passages = _blocks(judged, "Full text")
        assert sum(count_tokens(passages)) <= BUDGET  # the budget holds ...
        assert "Kung and Peng" not in judged and "Pavlick" not in judged  # ... the references are never sent,
        assert "eight accelerators" not in judged and "Prompt templates" not in judged  # nor unrelated sections
        assert _blocks(confirmed, "Full text") == passages  # the confirmation reads the same material

        # the citing paper's first look already shows what it says where it cites the anchor
        [(_, context_look), (_, context_confirm)] = _requests(llm, "Instruction following under distribution shift")
        label = f"What this paper says where it cites arXiv:{ANCHOR} (intent: result; influential)"
        assert f"{label}:" in context_look and CONTEXT.split(". ")[0] in context_look
        assert not full_text_shown(context_look)  # it has no full text on arXiv: judged on what could be read
        assert _blocks(context_confirm, "What this paper") == _blocks(context_look, "What this paper")

        # the clearly unrelated paper was looked at and the look confirmed on the same material (as strong as
        # counting a paper takes); its full text was never asked for
        assert [role for role, _ in _requests(llm, UNRELATED.title)] == ["judge", "confirm"]
        assert not [r for r in literature.requests if UNRELATED.base_id in r.path]

    summary = json.loads(result.stdout)
    totals = summary["totals"]
    assert (totals["pairs_judged"], totals["pairs_set_aside"], totals["pairs_read_in_full"]) == (3, 1, 1)
    assert totals["pairs_confirmed"] == 2 and totals["tokens_per_pair"] > 0
    assert totals["tokens_per_pair_with_confirmation"] > totals["tokens_per_pair"]
    assert f"full text: no HTML (HTTP 404); no PDF (HTTP 404) for arXiv:{CITING_ID}" in summary["claims"][0]["notes"]

    evidence = _evidence(ws)
    from_text = evidence[f"arXiv:{FULL.base_id}"]
    assert RESULT in from_text["quote"] and from_text["stance"] == "relaxes"
    assert (from_text["quote_source"], from_text["quote_section"]) == ("fulltext", "3 Results")
    from_context = evidence[f"arXiv:{CITING_ID}"]
    assert from_context["quote"] == CONTEXT.split(" We therefore")[0]
    assert (from_context["quote_source"], from_context["quote_section"]) == ("citation-context", f"arXiv:{ANCHOR}")
    shown = " ".join(invoke("--workspace", str(ws), "show", CLAIM).stdout.split())  # unwrapped
    assert "(full text, §3 Results)" in shown and f"(citation context on arXiv:{ANCHOR})" in shown

    # A second run sends nothing new: the same passages come from the ledger (nothing is ranked again), every
    # judgement is cached, and no full text is fetched again.
    fetched = [r.path for r in literature.requests if r.path.startswith(("/html/", "/pdf/"))]

    def not_again(*args: object) -> None:
        raise AssertionError("passages ranked again")

    monkeypatch.setattr("claimtrack.fulltext.passages_for", not_again)
    with _serve(monkeypatch, literature, respond) as again:
        summary = json.loads(_run(ws, "--json").stdout)
        assert not [r for r in again.chat.requests if role_of(r) != "plan"]
    assert [r.path for r in literature.requests if r.path.startswith(("/html/", "/pdf/"))] == fetched
    totals = summary["totals"]
    assert (totals["pairs_judged"], totals["pairs_cached"], totals["tokens_per_pair"]) == (0, 3, None)
    assert summary["claims"][0]["notes"] == []  # no ranking failed, and what was said last run is not said again


def test_a_cited_number_that_was_not_sent_or_a_quote_from_what_was_not_sent_is_rejected(ws, literature, monkeypatch):
    """The full judgement cites a sentence number past the last one sent, then (told so) copies a sentence of
    the references, which were never sent: neither grounds anything."""
    reference = "simplified task definitions and delusive examples give held-out exact match comparable"

    def ungrounded(request: dict[str, Any]) -> ChatReply:
        text = user_text(request)
        if role_of(request) == "judge" and full_text_shown(text) and FULL.title in text:
            if "Your previous reply was rejected" not in text:
                last = max(int(n) for n in re.findall(r"^\[(\d+)\]", text, re.MULTILINE))
                return judgement("supersedes", sentences=[last + 1])
            return judgement("supersedes", quote=reference)
        return respond(request)

    with _serve(monkeypatch, literature, ungrounded) as llm:
        summary = json.loads(_run(ws, "--json").stdout)
        retry = [t for role, t in _requests(llm, FULL.title) if "Your previous reply was rejected" in t]
    assert len(retry) == 1 and re.search(r"sentence \d+ does not exist \(the paper's sentences are numbered", retry[0])
    assert summary["totals"]["judge_errors"] == 1
    [error] = [n for n in summary["claims"][0]["notes"] if n.startswith("judge-error")]
    assert "the text given as quote is not in the paper" in error
    # the judge's rejected replies ground nothing: the pair counts only on what the confirmer and the rechecker
    # cited, which is in the text sent
    full = _evidence(ws)[f"arXiv:{FULL.base_id}"]
    assert RESULT in full["quote"] and reference not in full["quote"]
    assert full["confirmation"] is not None and full["judged_by"] != full["confirmation"]["by"]


def test_no_fulltext_judges_titles_and_abstracts_only(ws, literature, monkeypatch):
    with _serve(monkeypatch, literature, respond) as llm:
        result = _run(ws, "--no-fulltext")
        asked = [user_text(r) for r in llm.chat.requests if role_of(r) != "plan"]
    assert not [r for r in literature.requests if r.path.startswith(("/html/", "/pdf/"))]
    assert asked and all(not full_text_shown(t) and "What this paper says" not in t for t in asked)
    assert all(re.findall(r"^(\S[^\n]*):\n\[", t, re.MULTILINE) == ["Title and abstract"] for t in asked)
    # one judgement per pair and its confirmation (none credible on its abstract, and unrelated takes two
    # agreeing judgements as counting does): no first look apart
    roles = [role_of(r) for r in llm.chat.requests if role_of(r) != "plan"]
    assert len(asked) == 6 and roles.count("judge") == roles.count("confirm") == 3
    assert "(titles and abstracts only)" in result.stdout
    with sqlite3.connect(Workspace.at(ws).ledger_path) as conn:  # the run is recorded as the command it was
        assert (
            conn.execute("SELECT command FROM runs").fetchone()[0]
            == f"claimtrack run {CLAIM} --no-fulltext --no-replicate"
        )
    assert "judge tokens per pair judged:" in result.stdout


def test_a_paper_arxiv_cannot_give_is_judged_on_its_abstract_with_a_note(ws, monkeypatch):
    """404 for the HTML and for the PDF: the first look is the judgement (asked once), and a note says why."""
    finding = "the conclusion holds for small models but not for large ones"

    def on_abstract(request: dict[str, Any]) -> ChatReply:
        if role_of(request) == "plan":
            return respond(request)
        assert not full_text_shown(user_text(request))
        return citing(request, "relaxes", finding, 0.8, scope_note="small models")

    with Literature([FULL], s2={f"arXiv:{ANCHOR}": []}, openalex={ANCHOR: []}) as server:
        with _serve(monkeypatch, server, on_abstract) as llm:
            result = _run(ws)
            assert [role for role, _ in _requests(llm, FULL.title)] == ["judge", "confirm"]
        assert [r.path for r in server.requests if r.path.startswith(("/html/", "/pdf/"))] == [
            f"/html/{FULL.arxiv_id}",
            f"/pdf/{FULL.arxiv_id}",
        ]
    item = _evidence(ws)[f"arXiv:{FULL.base_id}"]
    assert item["quote_source"] == "abstract" and finding in item["quote"]
    assert "note: full text: no HTML (HTTP 404); no PDF (HTTP 404)" in result.stdout
    assert "untested -> relaxed" in result.stdout


def test_slow_huge_and_rate_limited_papers_are_judged_on_what_could_be_read(ws, monkeypatch):
    """One paper's HTML trickles past the download limit (judged on the passages before the cut), one has no
    HTML and a 300-page PDF (judged on the first pages), one is rate-limited once with Retry-After (read after
    the wait), and one's PDF is past the byte limit (judged on its abstract; asked again next run). Each is a
    judged pair; what was left out is a note."""
    thesis_line = "Page {n}: tuning on simplified task definitions costs large models accuracy."
    papers = [
        Entry(f"2506.0{i}000v1", f"Instruction tuning study {i}", FULL.abstract, "2025-06-0" + str(i + 1))
        for i in range(4)
    ]
    slow, thesis, limited, huge = papers
    literature = Literature(
        papers,
        s2={f"arXiv:{ANCHOR}": []},
        openalex={ANCHOR: []},
        html={limited.arxiv_id: HTML},
        pdf={thesis.arxiv_id: many_pages(300, thesis_line), huge.arxiv_id: b"%PDF-1.4\n" + b"0" * 400_000},
    )  # the limits below: a 2 s download, 300,000 bytes (the thesis is half that)
    with literature:
        page = "text/html; charset=utf-8"
        literature.route(f"/html/{slow.arxiv_id}", [Reply(200, HTML, page, drip_s=0.25)])  # 4 KiB a second
        refused = Reply(429, "slow down", "text/plain", headers={"Retry-After": "1"})
        literature.route(f"/html/{limited.arxiv_id}", [refused, Reply(200, HTML, page)])

        def by_material(request: dict[str, Any]) -> ChatReply:
            if role_of(request) == "plan":
                return respond(request)
            return judgement("supports", confidence=0.4, sentences=[2])  # unsure: every pair is read in full

        monkeypatch.setenv("CLAIMTRACK_FULLTEXT_FETCH_S", "2")
        monkeypatch.setenv("CLAIMTRACK_FULLTEXT_MAX_BYTES", "300000")
        monkeypatch.setenv("CLAIMTRACK_HTTP_MAX_WAIT_S", "2")
        with _serve(monkeypatch, literature, by_material) as llm:
            summary = json.loads(_run(ws, "--json").stdout)
            shown = {p.title: [t for role, t in _requests(llm, p.title) if role == "judge"] for p in papers}
        asked = [r.path for r in literature.requests if r.path.startswith(("/html/", "/pdf/"))]
        with _serve(monkeypatch, literature, by_material):  # the next run: only the PDF past the limit is asked again
            later = json.loads(_run(ws, "--json").stdout)["claims"][0]["notes"]
        again = [r.path for r in literature.requests if r.path.startswith(("/html/", "/pdf/"))][len(asked) :]
    notes = " | ".join(summary["claims"][0]["notes"])
    assert summary["totals"]["pairs_judged"] == 4 and summary["totals"]["judge_errors"] == 0
    # the slow page: cut at the time limit, judged on the passages before the cut
    assert len(shown[slow.title]) == 2 and full_text_shown(shown[slow.title][1])
    assert re.search(rf"full text: HTML cut at the 2 s limit after [\d,]+ bytes for arXiv:{slow.arxiv_id}", notes)
    # the 300-page thesis: its first 50 pages read, with a note
    pages = [int(n) for n in re.findall(r"Page (\d+): tuning", shown[thesis.title][-1])]
    assert len(shown[thesis.title]) == 2 and pages and max(pages) <= 50
    assert f"full text: PDF: read the first 50 of 300 pages for arXiv:{thesis.arxiv_id}" in notes
    # the rate-limited page: read after the server's wait, no note
    assert asked.count(f"/html/{limited.arxiv_id}") == 2 and full_text_shown(shown[limited.title][1])
    assert limited.arxiv_id not in notes
    # the PDF past the byte limit: judged on the abstract alone (the first look), and tried again next run
    assert len(shown[huge.title]) == 1 and f"-byte limit for arXiv:{huge.arxiv_id}" in notes
    assert again == [f"/html/{huge.arxiv_id}", f"/pdf/{huge.arxiv_id}"]
    assert [n for n in later if n.startswith("full text")] == [n for n in notes.split(" | ") if huge.arxiv_id in n]
