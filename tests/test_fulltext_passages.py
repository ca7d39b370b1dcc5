"""Ranking a paper's passages against a claim: the passage that bears on it comes first, the budget holds, the
abstract and the references are never among them, and any claim text is a safe FTS5 query."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FIXTURES
from loopback import Literature

from claimtrack.config import Settings
from claimtrack.fulltext import FullText, Passage, passages_for, read_fulltext
from claimtrack.fulltext import passages as passages_module
from claimtrack.fulltext.text import count_tokens
from claimtrack.ledger import Ledger
from claimtrack.papers import Paper

CLAIM = (
    "Instruction-tuning models on simplified task definitions (reduced to output-space information) gave "
    "held-out-task exact match comparable to tuning on the original instructions, even for large models."
)


@pytest.fixture(scope="module")
def paper(tmp_path_factory: pytest.TempPathFactory) -> FullText:
    html = (FIXTURES / "fulltext" / "2406.01234v2.html").read_bytes()
    with Literature(html={"2406.01234v2": html}) as api, Ledger(tmp_path_factory.mktemp("l") / "l.sqlite") as ledger:
        text = read_fulltext(ledger, Paper(id="2406.01234", version="v2", title="t"), api.settings())
    assert isinstance(text, FullText)
    return text


def _cost(passages: list[Passage]) -> int:
    return sum(count_tokens([f"{p.label}: {p.text}" for p in passages]))


def test_the_results_passage_comes_first_within_the_budget(paper: FullText) -> None:
    chosen = passages_for(CLAIM, paper, 150, Settings())
    assert chosen[0].section == "3 Results" and "lost 7.8 exact-match points" in chosen[0].text
    assert _cost(chosen) <= 150 < _cost([p for p in paper.passages if p.kind != "abstract"])
    assert all(p.kind != "abstract" for p in chosen)  # the judge is shown the abstract anyway
    assert not any("Pavlick" in p.text or "Kung and Peng" in p.text for p in chosen)  # the bibliography was dropped


def test_the_default_budget_comes_from_the_settings(paper: FullText) -> None:
    small = Settings(fulltext_budget_tokens=60)
    chosen = passages_for(CLAIM, paper, settings=small)
    assert chosen and _cost(chosen) <= 60
    assert _cost(passages_for(CLAIM, paper, settings=Settings())) > 60


def test_a_passage_too_big_for_what_is_left_is_passed_over_for_a_smaller_one(paper: FullText) -> None:
    results = next(p for p in paper.passages if p.section == "3 Results" and p.kind == "text")
    budget = _cost([results]) + 25  # room for the results and one caption, not for another paragraph
    chosen = passages_for(CLAIM, paper, budget, Settings())
    assert chosen[0] == results and len(chosen) >= 2 and _cost(chosen) <= budget
    ranked = [p for p in paper.passages if p.kind != "abstract"]
    order = [int(hit.id) for hit in passages_module.rank(CLAIM, ranked, Settings())]
    passed_over = order[1 : order.index(chosen[1].n)]  # ranked above the second pick, but too long for what was left
    assert passed_over and all(_cost([paper.passages[n]]) > 25 for n in passed_over)
    assert passages_for(CLAIM, paper, 0, Settings()) == []
    assert passages_for(CLAIM, paper, 5, Settings()) == []  # nothing is that short


def test_any_text_is_a_safe_fts5_query(paper: FullText) -> None:
    hostile = "NEAR(scale size) AND \"unbalanced OR text: * ^start -gap col:x {a b} model's"
    hits = passages_module.lexical(hostile, paper.passages)
    assert hits  # ran, and matched the words
    assert passages_module.lexical("?! -- ;", paper.passages) == []
    assert passages_for("?! -- ;", paper, 200, Settings())  # no words to match: the dense ranking still orders


def test_lexical_matching_is_by_porter_stem(paper: FullText) -> None:
    hits = dict(passages_module.lexical("scaling", paper.passages))
    figure = next(p for p in paper.passages if p.kind == "caption" and "grows with model size" in p.text)
    assert str(figure.n) not in hits  # "size" is not "scaling"
    grows = dict(passages_module.lexical("growing", paper.passages))
    assert str(figure.n) in grows  # "growing" and "grows" share the stem "grow"


def test_a_long_paper_embeds_only_the_lexical_pool(paper: FullText, monkeypatch: pytest.MonkeyPatch) -> None:
    long = [Passage(n=i, section=f"{i} S", text=f"Unrelated filler number {i} about astronomy.") for i in range(80)]
    long += [p.model_copy(update={"n": 80 + p.n}) for p in paper.passages]
    embedded: list[int] = []
    real = passages_module.dense

    def spy(query: str, passages: list[Passage], settings: Settings) -> list[tuple[str, float]]:
        embedded.append(len(passages))
        return real(query, passages, settings)

    monkeypatch.setattr(passages_module, "dense", spy)
    chosen = passages_for(CLAIM, FullText(paper_id="x", source="html", passages=long), 150, Settings())
    assert embedded == [passages_module.DENSE_POOL]
    assert chosen[0].section == "3 Results"


def test_a_paper_without_passages_gives_none(tmp_path: Path) -> None:
    empty = FullText(
        paper_id="x", source="pdf", passages=[Passage(n=0, section="Abstract", kind="abstract", text="A.")]
    )
    assert passages_for(CLAIM, empty, 500, Settings()) == []
