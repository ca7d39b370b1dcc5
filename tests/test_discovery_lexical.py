"""Lexical search on SQLite FTS5: safe queries, the index kept in step with the papers table, scopes, weights."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest
from conftest import invoke

from claimtrack.discovery import lexical
from claimtrack.discovery.lexical import Scope, fts_query
from claimtrack.ledger import Ledger
from claimtrack.papers import Paper, get_paper, upsert_paper
from claimtrack.workspace import Workspace

PAPERS = [
    Paper(
        id="2402.00001",
        title="Instruction tuning teaches the output format",
        abstract="Models tuned on corrupted instructions keep their scores: what transfers is the output space.",
        published="2024-02-01",
    ),
    Paper(
        id="2403.00002",
        title="Chain of thought after fine-tuning",
        abstract="Fine-tuning makes the stated reasoning steps performative; answers no longer depend on them.",
        published="2024-03-01",
    ),
    Paper(
        id="2201.00003",
        title="Rotation curves of spiral galaxies",
        abstract="Radio telescopes measure how fast galaxies rotate; the output of our simulator is a curve.",
        published="2022-01-01",
    ),
    Paper(
        id="2405.00004",
        title="Naïve Bayes for Müller's corpus",
        abstract="A classifier for the Zürich collection; 深度学习 is compared.",
        published="2024-05-01",
    ),
]


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    ledger = Ledger(tmp_path / "ledger.sqlite")
    with ledger.transaction():
        for paper in PAPERS:
            upsert_paper(ledger, paper, source="test")
    return ledger


def ids(ledger: Ledger, text: str, k: int = 10, **scope: object) -> list[str]:
    """The ids `search` returns. Every call also runs the two-stage path (a budget of one posting: only the
    rarest word picks candidates, each re-scored from its own text) and checks that it returns papers FTS5
    matches now, scored exactly as FTS5's bm25() scores them now: whatever wrote the papers, both paths see it."""
    where = Scope(**scope) if scope else None
    whole = lexical.search(ledger.conn, text, k, scope=where)
    staged = lexical.search(ledger.conn, text, k, scope=where, budget=1)
    fts5 = dict(lexical.ranked(ledger.conn, fts_query(text), 10_000, scope=where))
    assert [doc_id for doc_id, _ in staged] == sorted(
        (doc_id for doc_id, _ in staged), key=lambda doc_id: (-fts5[doc_id], doc_id)
    )
    assert all(score == pytest.approx(fts5[doc_id], rel=1e-9) for doc_id, score in staged)
    if len(lexical.words(text)) <= 1:
        assert staged == whole
    return [doc_id for doc_id, _ in whole]


def in_step(ledger: Ledger) -> None:
    """FTS5's own check that the index matches the papers table row for row (it raises when it does not)."""
    ledger.conn.execute("INSERT INTO papers_fts (papers_fts, rank) VALUES ('integrity-check', 1)")


def test_a_query_is_quoted_words_joined_by_or() -> None:
    assert fts_query("Does instruction tuning teach the output format?") == (
        '"instruction" OR "tuning" OR "teach" OR "output" OR "format"'
    )
    # operators and FTS5 syntax characters are dropped; words repeat once; lower-cased
    assert fts_query('NEAR("format" output) AND title:format* OR ^Output -x') == (
        '"format" OR "output" OR "title" OR "x"'
    )
    assert fts_query("the of and") == "" and fts_query("") == "" and fts_query("()*^:\"'") == ""
    assert fts_query("Müller naïve 深度学习") == '"müller" OR "naïve" OR "深度学习"'
    assert len(fts_query(" ".join(f"w{i}" for i in range(500))).split(" OR ")) == lexical.MAX_WORDS


HOSTILE = [
    '"unterminated quote',
    'a "quoted phrase" and "another',
    "NEAR(instruction format, 2)",
    "instruction NEAR/3 format",
    "format*",
    "*",
    "((instruction OR format",
    "format))",
    "title:galaxies",
    "abstract:",
    "{title abstract}: galaxies",
    "-format +output ^instruction",
    "AND OR NOT",
    "'; DROP TABLE papers; --",
    "Müller naïve Zürich",
    "深度学习",
    "🙂 emoji only",
    "",
    "   \t\n",
    "\x00 null byte",
    "format " * 400,
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_returns_results_or_nothing(ledger: Ledger, text: str) -> None:
    found = ids(ledger, text)
    assert isinstance(found, list) and len(found) == len(set(found))
    assert ledger.conn.execute("SELECT COUNT(*) FROM papers").fetchone()[0] == len(PAPERS)


def test_hostile_text_still_finds_what_its_words_say(ledger: Ledger) -> None:
    assert ids(ledger, "title:galaxies")[0] == "2201.00003"
    assert ids(ledger, "NEAR(instruction format, 2)")[0] == "2402.00001"
    assert ids(ledger, '"unterminated performative')[0] == "2403.00002"
    # diacritics fold both ways, and the porter stemmer meets inflections
    assert ids(ledger, "Muller naive") == ["2405.00004"] and ids(ledger, "zurich") == ["2405.00004"]
    assert ids(ledger, "深度学习") == ["2405.00004"]
    assert ids(ledger, "rotating galaxy") == ["2201.00003"]
    assert ids(ledger, "", 5) == [] and ids(ledger, "of the and") == []


def test_cli_search_with_hostile_text_is_not_an_error(empty_workspace: Path) -> None:
    ledger = Ledger.open(Workspace.at(empty_workspace))
    with ledger.transaction():
        for paper in PAPERS:
            upsert_paper(ledger, paper, source="test")
    for text in ('NEAR("instruction', "title:*", "((("):
        result = invoke("-w", str(empty_workspace), "papers", "search", text, "--json")
        assert result.exit_code == 0, result.stderr
        assert result.stderr == ""


def test_title_words_weigh_more_than_abstract_words(ledger: Ledger) -> None:
    with ledger.transaction():  # the same words, once in the title and once in the abstract
        upsert_paper(ledger, Paper(id="t:1", title="Pulsar timing", abstract="Notes on arrays of clocks"), source="t")
        upsert_paper(ledger, Paper(id="t:2", title="Notes on arrays", abstract="Pulsar timing of clocks"), source="t")
    assert lexical.TITLE_WEIGHT > lexical.ABSTRACT_WEIGHT
    assert ids(ledger, "pulsar timing") == ["t:1", "t:2"]
    reversed_weights = lexical.search(ledger.conn, "pulsar timing", 2, weights=(1.0, 3.0))
    assert [doc_id for doc_id, _ in reversed_weights] == ["t:2", "t:1"]


def test_scope_keeps_newer_or_included_papers_and_never_excluded_ones(ledger: Ledger) -> None:
    text = "output format galaxies instruction fine-tuning"
    assert set(ids(ledger, text)) == {"2402.00001", "2403.00002", "2201.00003"}
    assert set(ids(ledger, text, after="2023-01-01")) == {"2402.00001", "2403.00002"}
    assert set(ids(ledger, text, after="2023-01-01", include={"2201.00003"})) == {
        "2402.00001",
        "2403.00002",
        "2201.00003",
    }
    assert set(ids(ledger, text, exclude={"2402.00001"})) == {"2403.00002", "2201.00003"}


def test_matched_words_are_the_query_words_a_paper_holds_strongest_first(ledger: Ledger) -> None:
    found = lexical.matched_words(ledger.conn, "spiral galaxies and the output format", ["2201.00003", "2402.00001"])
    assert set(found["2201.00003"]) == {"spiral", "galaxies", "output"}
    assert found["2201.00003"][-1] == "output"  # only in the abstract, and in two papers: the weakest
    assert set(found["2402.00001"]) == {"output", "format"}
    assert lexical.matched_words(ledger.conn, "anything", []) == {}
    # words with one stem are one reason, shown as the query first wrote it
    tuned = lexical.matched_words(ledger.conn, "models tuned on tuning", ["2402.00001"])
    assert tuned == {"2402.00001": ["models", "tuned"]}  # "model" is in one paper, "tune" in two: rarer first
    assert lexical.stems(["tuning", "Tuned", "Müller", "深度学习"]) == ["tune", "tune", "muller", "深度学习"]


def fts5_matched_words(conn: sqlite3.Connection, text: str, ids: list[str], limit: int = 5) -> dict[str, list[str]]:
    """How the 'why' terms were found before: one FTS5 bm25() query per query word, over its whole posting list."""
    found: dict[str, list[tuple[float, str]]] = {i: [] for i in ids}
    shown: set[str] = set()
    query = lexical.words(text)
    for word, stem in zip(query, lexical.stems(query), strict=True):
        if stem in shown:
            continue
        shown.add(stem)
        rows = conn.execute(
            "SELECT p.id, -bm25(papers_fts, 3.0, 1.0) FROM papers_fts JOIN papers p ON p.rowid = papers_fts.rowid"
            f" WHERE papers_fts MATCH ? AND p.id IN ({','.join('?' * len(ids))})",
            (lexical.quote(word), *ids),
        )
        for paper_id, score in rows:
            found[paper_id].append((score, word))
    return {i: [w for _, w in sorted(pairs, key=lambda pair: -pair[0])][:limit] for i, pairs in found.items()}


def test_why_terms_come_from_the_hits_own_text_and_equal_a_search_per_word(ledger: Ledger) -> None:
    more = [
        Paper(id=f"x:{i}", title=title, abstract=abstract)
        for i, (title, abstract) in enumerate(
            [
                ("Output formats of tuned models", "Format tokens dominate the output; the model tunes format."),
                ("Galaxies and formats", "Rotation of spiral galaxies, the output of telescopes, format of data."),
                ("Tuning instructions", "Instruction tuning, instructions tuned, output format and galaxies."),
            ]
        )
    ]
    with ledger.transaction():
        for paper in more:
            upsert_paper(ledger, paper, source="test")
    every = [p.id for p in PAPERS + more]
    for text in (
        "spiral galaxies and the output format",
        "models tuned on tuning instructions: output format",
        "Müller naive Zurich 深度学习 format",
        "telescopes rotate galaxies output tuning models instruction",
    ):
        assert lexical.matched_words(ledger.conn, text, every) == fts5_matched_words(ledger.conn, text, every), text


def test_the_index_follows_inserts_updates_and_deletes(ledger: Ledger) -> None:
    in_step(ledger)
    revised = PAPERS[2].model_copy(update={"abstract": "Pulsar timing arrays, not rotation curves."})
    upsert_paper(ledger, revised, source="test")
    assert ids(ledger, "pulsar") == ["2201.00003"] and ids(ledger, "telescopes") == []
    changes = ledger.conn.total_changes
    upsert_paper(ledger, revised, source="test")  # seen again, nothing new: the row is not rewritten
    assert ledger.conn.total_changes == changes
    ledger.conn.execute("UPDATE papers SET url = 'https://example.org' WHERE id = '2201.00003'")  # no text change
    ledger.conn.execute("DELETE FROM paper_sightings WHERE paper_id = '2405.00004'")
    ledger.conn.execute("DELETE FROM papers WHERE id = '2405.00004'")
    assert ids(ledger, "zurich") == []
    in_step(ledger)


def test_the_check_catches_an_index_out_of_step(ledger: Ledger) -> None:
    ledger.conn.execute("DROP TRIGGER papers_fts_update")
    ledger.conn.execute("UPDATE papers SET abstract = 'Something else' WHERE id = '2201.00003'")
    with pytest.raises(sqlite3.DatabaseError):
        in_step(ledger)


def test_doi_rekeying_keeps_the_index_on_the_same_row(ledger: Ledger) -> None:
    """A paper Semantic Scholar knew by DOI only gains its arXiv id: the row is renamed, the index follows."""
    s2 = Paper(id="doi:10.1000/steer", doi="10.1000/STEER", title="Steering vectors compress reasoning")
    upsert_paper(ledger, s2, source="semanticscholar", claim_id="c", now=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    assert ids(ledger, "steering vectors") == ["doi:10.1000/steer"]
    arxiv = Paper(
        id="2507.04742",
        doi="10.1000/steer",
        title="Steering vectors compress chain-of-thought reasoning",
        abstract="Activation steering shortens traces.",
    )
    with ledger.transaction():  # foreign keys are checked at commit, once the sightings follow the row
        assert upsert_paper(ledger, arxiv, source="arxiv") == "2507.04742"
    assert ids(ledger, "steering vectors") == ["2507.04742"]
    assert ids(ledger, "activation traces") == ["2507.04742"]
    assert get_paper(ledger, "doi:10.1000/steer") is None
    in_step(ledger)


def test_vacuum_keeps_the_index_aligned_with_the_papers(ledger: Ledger) -> None:
    """The index is keyed by papers' rowid; VACUUM must not renumber it (papers has indexes, so it keeps them)."""
    ledger.conn.execute("DELETE FROM paper_sightings WHERE paper_id IN ('2402.00001', '2403.00002')")
    ledger.conn.execute("DELETE FROM papers WHERE id IN ('2402.00001', '2403.00002')")
    ledger.conn.execute("VACUUM")
    assert ids(ledger, "galaxies") == ["2201.00003"] and ids(ledger, "zurich") == ["2405.00004"]
    in_step(ledger)
