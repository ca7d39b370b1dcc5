"""Linking notes to their papers: a research prompt's anchors matched by content, an arXiv search above a
tested threshold, offline imports that say what is left, and `claimtrack anchors resolve` later."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from anchor_helpers import (
    DPO_LENGTH,
    JUDGE_LENGTH,
    LINE,
    LINE_ID,
    NEAR_MISSES,
    PROMPT_PAPERS,
    REWARD_LENGTH,
    SEARCH_PAPERS,
    SYCOPHANCY,
)
from conftest import FIXTURES, invoke
from loopback import ArxivAPI, Loopback

from claimtrack.anchors.arxiv import ArxivRecord
from claimtrack.anchors.resolve import NoteText, best_match, pair_by_content
from claimtrack.anchors.text import assign, key_phrases
from claimtrack.config import Settings
from claimtrack.discovery.http import forget_down_hosts
from claimtrack.models import AnchorConfidence
from claimtrack.store import Store
from claimtrack.workspace import Workspace

REWARD = "does-reward-model-training-mostly-reward-length"
JUDGE = "can-length-controlled-evaluation-undo-verbosity-bias"
SYCO = "do-sycophantic-answers-come-from-preference-data"
DPO = "does-dpo-inherit-the-same-length-bias"
NOWHERE = "http://127.0.0.1:9/api/query"  # nothing listens on port 9


@pytest.fixture(autouse=True)
def _fresh_hosts() -> None:
    forget_down_hosts()


def _serve(monkeypatch: pytest.MonkeyPatch, server: Loopback) -> None:
    for name, value in server.env().items():
        monkeypatch.setenv(name, value)


def _import(root: Path, *extra: str):
    return invoke("-w", str(root), "import-line", str(LINE), "--id", LINE_ID, *extra)


def _claims(root: Path):
    return Store(Workspace.at(root)).load().claims


def test_prompt_anchors_listed_out_of_order_are_matched_to_notes_by_content(
    empty_workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Loopback() as server:
        api = server.mount(ArxivAPI([*PROMPT_PAPERS, *SEARCH_PAPERS]))
        _serve(monkeypatch, server)
        result = _import(empty_workspace)
    assert result.exit_code == 0, result.stderr
    claims = _claims(empty_workspace)
    linked = {cid: claims[cid].anchors[0] for cid in (REWARD, JUDGE, SYCO)}
    assert {cid: a.arxiv for cid, a in linked.items()} == {
        REWARD: REWARD_LENGTH.base_id,
        JUDGE: JUDGE_LENGTH.base_id,
        SYCO: SYCOPHANCY.base_id,
    }
    judge = linked[JUDGE]
    assert (judge.title, judge.first_author, judge.date) == (JUDGE_LENGTH.title, "Yann Dubrovnik", "2024-04")
    assert judge.confidence == AnchorConfidence.RESOLVED and judge.found_by == "prompt" and judge.score > 0
    assert claims[JUDGE].claimed == "2024-04" and claims[REWARD].claimed == "2023-10"
    assert claims[JUDGE].search.categories == ["cs.LG", "cs.CL"]
    # Search terms are the finding's telling phrases, not the title's first words.
    assert "regressing judge preferences" in claims[JUDGE].search.terms
    assert not any(t.startswith("length-controlled evaluation") for t in claims[JUDGE].search.terms)
    # The three prompt ids went to arXiv in one id_list request.
    listed = [r.query["id_list"] for r in server.hits(ArxivAPI.PATH) if r.query.get("id_list")]
    assert len(listed) == 1 and set(listed[0].split(",")) == {p.base_id for p in PROMPT_PAPERS}
    assert f"anchor {JUDGE}: arXiv:{JUDGE_LENGTH.base_id} from the research prompt" in result.stdout
    assert api.searches  # the fourth note was searched for
    assert Store(Workspace.at(empty_workspace)).read().problems == []
    assert invoke("-w", str(empty_workspace), "validate").exit_code == 0


def test_pairing_is_one_to_one_not_first_come() -> None:
    notes = [NoteText("Do models learn format?", "Instruction tuning teaches the output format and format only.")]
    notes.append(NoteText("Does RL collapse formats?", "RL collapses output format diversity onto one format."))
    topics = ["RL format collapse", "Instruction tuning output format"]  # both share "format" with both notes
    assert {note: topic for note, (topic, _) in pair_by_content(topics, notes).items()} == {0: 1, 1: 0}
    assert assign([[0.9, 0.8], [0.85, 0.1]], floor=0.0) == [(0, 1), (1, 0)]  # best total, not row 0's best
    assert assign([[0.9], [0.05]], floor=0.1) == [(0, 0)]  # a row like nothing stays unpaired


def test_a_note_without_a_prompt_anchor_is_found_by_search(
    empty_workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Loopback() as server:
        api = server.mount(ArxivAPI([*PROMPT_PAPERS, *SEARCH_PAPERS]))
        _serve(monkeypatch, server)
        result = _import(empty_workspace)
    assert result.exit_code == 0, result.stderr
    anchor = _claims(empty_workspace)[DPO].anchors[0]
    assert anchor.arxiv == DPO_LENGTH.base_id and anchor.found_by == "search"
    assert anchor.confidence == AnchorConfidence.RESOLVED
    assert anchor.score >= Settings().anchor_match_threshold
    assert f"anchor {DPO}: arXiv:{DPO_LENGTH.base_id} found by search (match {anchor.score:.2f})" in result.stdout
    # The queries come from the finding's phrases, within a year of the prompt's "(~2024)".
    searches = [s for s in api.searches if s]
    assert "all:length-normalised AND all:margin AND submittedDate:[202301010000 TO 202512312359]" in searches
    assert all("all:dpo" not in s and "all:inherit" not in s for s in searches)


def test_a_best_match_below_the_threshold_is_not_proposed(
    empty_workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Loopback() as server:  # the DPO paper is not on this arXiv: only papers sharing a few of its words
        server.mount(ArxivAPI([*PROMPT_PAPERS, *NEAR_MISSES]))
        _serve(monkeypatch, server)
        result = _import(empty_workspace)
    assert result.exit_code == 0, result.stderr
    claim = _claims(empty_workspace)[DPO]
    assert claim.anchors == []
    assert "found no paper matching this note at 0.35 or more" in claim.anchor_note
    assert NEAR_MISSES[0].base_id in claim.anchor_note or NEAR_MISSES[1].base_id in claim.anchor_note
    assert claim.claimed == "2024"  # from the prompt's dated bullet "(~2024)"
    pending = [ln for ln in result.stdout.splitlines() if ln.startswith("to resolve")]
    assert pending == [pending[0]] and pending[0].startswith(f"to resolve {DPO}: no anchor: the best was arXiv:")


def test_the_match_threshold_separates_the_labelled_set() -> None:
    """Seed notes against the store's 28 anchor papers: at the threshold no note is given another paper, whether
    its own is among the candidates or not, and at least 14 of the 28 get their own (benchmarks/anchor_threshold.py
    prints the whole table, and SciFact's)."""
    data = yaml.safe_load((FIXTURES / "anchors" / "matches.yaml").read_text())
    papers = [ArxivRecord(p["arxiv"], "v1", p["title"], (), "2000-01-01", None, (), p["text"]) for p in data["papers"]]
    threshold = Settings().anchor_match_threshold
    right, wrong = [], []
    for item in data["notes"]:
        note = NoteText(item["title"], item["finding"])
        best, score = best_match(note, papers)
        (right if best.id == item["paper"] else wrong).append(score)
        wrong.append(best_match(note, [p for p in papers if p.id != item["paper"]])[1])
    assert len(data["notes"]) == 28 and len(right) >= 22
    assert max(wrong) < threshold
    assert sum(score >= threshold for score in right) >= 14


def test_offline_import_links_prompt_ids_and_lists_what_is_left(empty_workspace: Path, monkeypatch) -> None:
    monkeypatch.setenv("CLAIMTRACK_ARXIV_URL", NOWHERE)
    monkeypatch.setenv("CLAIMTRACK_HTTP_RETRIES", "0")
    result = _import(empty_workspace)
    assert result.exit_code == 0, result.stderr
    pending = [ln for ln in result.stdout.splitlines() if ln.startswith("to resolve")]
    assert len(pending) == 4  # one line per anchor left: three prompt ids without metadata, one note unsearched
    assert f"to resolve {JUDGE}: arXiv:{JUDGE_LENGTH.base_id} from the research prompt: metadata not resolved" in (
        result.stdout
    )
    assert f"to resolve {DPO}: no anchor: not searched (arXiv unreachable" in result.stdout
    claims = _claims(empty_workspace)
    judge = claims[JUDGE].anchors[0]
    assert judge.arxiv == JUDGE_LENGTH.base_id and judge.title is None and judge.confidence == "resolved"
    assert claims[JUDGE].claimed == "2024"  # the prompt's year, until arXiv dates it
    assert invoke("-w", str(empty_workspace), "validate").exit_code == 0
    doctor = invoke("-w", str(empty_workspace), "doctor").stdout
    assert "3 anchors: 3 without arXiv metadata" in doctor and "1 claims without an anchor" in doctor

    # Later, with arXiv back: `anchors resolve` fills the metadata and searches for the fourth note.
    forget_down_hosts()
    with Loopback() as server:
        server.mount(ArxivAPI([*PROMPT_PAPERS, *SEARCH_PAPERS]))
        _serve(monkeypatch, server)
        resolved = invoke("-w", str(empty_workspace), "anchors", "resolve")
    assert resolved.exit_code == 0, resolved.stderr
    assert f"{JUDGE}: resolved arXiv:{JUDGE_LENGTH.base_id}v2 '{JUDGE_LENGTH.title}'" in resolved.stdout
    assert f"{DPO}: linked arXiv:{DPO_LENGTH.base_id} found by search" in resolved.stdout
    claims = _claims(empty_workspace)
    assert claims[JUDGE].anchors[0].title == JUDGE_LENGTH.title and claims[JUDGE].claimed == "2024-04"
    assert claims[DPO].anchors[0].arxiv == DPO_LENGTH.base_id and claims[DPO].anchor_note is None
    again = invoke("-w", str(empty_workspace), "anchors", "resolve")
    assert again.stdout.startswith("nothing to resolve")


def test_offline_flag_asks_nothing_and_resolve_without_arxiv_exits_3(empty_workspace: Path, monkeypatch) -> None:
    with Loopback() as server:
        server.mount(ArxivAPI([*PROMPT_PAPERS, *SEARCH_PAPERS]))
        _serve(monkeypatch, server)
        result = _import(empty_workspace, "--offline")
        assert server.requests == []
    assert result.exit_code == 0 and result.stdout.count("to resolve") == 4
    monkeypatch.setenv("CLAIMTRACK_ARXIV_URL", NOWHERE)
    monkeypatch.setenv("CLAIMTRACK_HTTP_RETRIES", "0")
    later = invoke("-w", str(empty_workspace), "anchors", "resolve", JUDGE)
    assert later.exit_code == 3  # what it needed could not be asked: the README's "could not be made"
    assert later.stdout.startswith(
        f"{JUDGE}: left to resolve: arXiv:{JUDGE_LENGTH.base_id} metadata (arXiv unreachable"
    )
    assert invoke("-w", str(empty_workspace), "anchors", "resolve", "no-such-claim").exit_code == 2


def test_resolve_links_a_claim_to_its_lines_unused_prompt_anchor(empty_workspace: Path, monkeypatch) -> None:
    """A claim whose prompt anchor was unknown at import (a typo since fixed in the line) is linked later from
    the line's research prompt, not searched for."""
    with Loopback() as server:
        api = server.mount(ArxivAPI([REWARD_LENGTH, JUDGE_LENGTH, *SEARCH_PAPERS]))  # no sycophancy paper yet
        _serve(monkeypatch, server)
        first = _import(empty_workspace)
        assert f"to resolve {SYCO}: arXiv:{SYCOPHANCY.base_id} from the research prompt is unknown" in first.stdout
        assert _claims(empty_workspace)[SYCO].anchors == []
        api.entries.append(SYCOPHANCY)
        later = invoke("-w", str(empty_workspace), "anchors", "resolve", SYCO)
    assert later.exit_code == 0, later.stderr
    anchor = _claims(empty_workspace)[SYCO].anchors[0]
    assert anchor.arxiv == SYCOPHANCY.base_id and anchor.found_by == "prompt"


def test_key_phrases_skip_stopwords_and_adverbs() -> None:
    phrases = key_phrases(
        "Direct preference optimisation lengthens outputs steadily; a length-normalised margin in the loss helps."
    )
    assert "length-normalised margin" in phrases
    assert all("steadily" not in p for p in phrases)
