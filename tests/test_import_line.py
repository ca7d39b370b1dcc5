"""Importing inquiring-line documents: the four seeds build the committed store's structure."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ROOT, SEED_LINE_IDS, SEEDS, invoke

from claimtrack.errors import InvalidInput
from claimtrack.linedoc import parse_line_document
from claimtrack.store import Store
from claimtrack.workspace import Workspace


def _import_all(root: Path) -> None:
    for name, line_id in SEED_LINE_IDS.items():
        result = invoke(
            "-w", str(root), "import-line", str(SEEDS / name), "--id", line_id, "--anchors", str(SEEDS / "anchors.yaml")
        )
        assert result.exit_code == 0, result.stderr


def test_seed_documents_parse_with_their_declared_note_counts() -> None:
    counts = {name: len(parse_line_document(SEEDS / name).notes) for name in SEED_LINE_IDS}
    assert counts == {
        "000_f074887dd58bdfc2.txt": 8,
        "001_75f292b1da5f1b43.txt": 10,
        "002_0842b44deafc3763.txt": 9,
        "003_1a324a15511df874.txt": 12,
    }


def test_untitled_notes_take_the_titles_the_essay_cites_in_order() -> None:
    doc = parse_line_document(SEEDS / "003_1a324a15511df874.txt")
    assert doc.notes[0].title == "Does fine-tuning on NLI teach inference or amplify shortcuts?"
    assert doc.notes[3].title == "Does instruction tuning teach task understanding or output format?"
    assert doc.notes[3].finding.startswith("Models trained on semantically empty")


def test_research_prompt_anchors_are_read() -> None:
    doc = parse_line_document(SEEDS / "000_f074887dd58bdfc2.txt")
    assert [(a.arxiv, a.year) for a in doc.prompt_anchors] == [
        ("2305.11383", 2023),
        ("2504.07912", 2025),
        ("2411.15382", 2024),
        ("2605.28388", 2026),
    ]
    assert len(doc.dated_claims) == 5


def test_all_four_seeds_import_into_31_claims_and_the_committed_line_order(empty_workspace: Path) -> None:
    _import_all(empty_workspace)
    imported = Store(Workspace.at(empty_workspace)).load()
    committed = Store(Workspace.at(ROOT)).load()
    assert len(imported.claims) == 31
    assert set(imported.claims) == set(committed.claims)
    assert {k: v.claims for k, v in imported.lines.items()} == {k: v.claims for k, v in committed.lines.items()}
    mechanism = imported.claims["mechanism-needs-representational-and-causal"]
    assert imported.lines_of(mechanism.id) == ["confounds-surface-vs-cause", "surface-vs-regime"]
    assert mechanism.title == "Can we understand LLM mechanisms with only representational analysis?"
    it = imported.claims["it-output-format-not-task"]
    assert it.anchors[0].arxiv == "2305.11383" and it.anchors[0].first_author == "Po-Nien Kung"
    assert it.claimed == "2023-05"
    assert imported.claims["grpo-template-matching-n-minus-1"].anchors == []
    assert imported.claims["grpo-template-matching-n-minus-1"].anchor_note


def test_reimport_changes_nothing(empty_workspace: Path) -> None:
    _import_all(empty_workspace)
    before = {p.name: p.read_text() for p in (empty_workspace / "claims").rglob("*.yaml")}
    _import_all(empty_workspace)
    after = {p.name: p.read_text() for p in (empty_workspace / "claims").rglob("*.yaml")}
    assert before == after


def test_import_merges_into_curated_claims_without_overwriting_them(repo_workspace: Path) -> None:
    ws = Workspace.at(repo_workspace)
    before = Store(ws).load().claims["it-output-format-not-task"]
    result = invoke(
        "-w",
        str(repo_workspace),
        "import-line",
        str(SEEDS / "003_1a324a15511df874.txt"),
        "--id",
        "finetuning-semantic-inference",
        "--offline",
    )
    assert result.exit_code == 0, result.stderr
    assert "0 new claims, 12 merged" in result.stdout
    after = Store(ws).load().claims["it-output-format-not-task"]
    assert after.statement == before.statement


def test_import_without_a_sheet_derives_slug_ids(empty_workspace: Path) -> None:
    result = invoke("-w", str(empty_workspace), "import-line", str(SEEDS / "002_0842b44deafc3763.txt"), "--offline")
    assert result.exit_code == 0, result.stderr
    library = Store(Workspace.at(empty_workspace)).load()
    assert "does-fine-tuning-disconnect-reasoning-steps-from-final" in library.claims
    assert list(library.lines) == ["does-fine-tuning-push-models-toward-reasoning-shortcuts-that"]


def test_a_note_cited_only_by_slug_is_kept_with_a_warning(empty_workspace: Path) -> None:
    result = invoke("-w", str(empty_workspace), "import-line", str(SEEDS / "000_f074887dd58bdfc2.txt"), "--offline")
    assert result.exit_code == 0
    assert "cited only by slug" in result.stderr
    library = Store(Workspace.at(empty_workspace)).load()
    slug = "mechanistic-understanding-of-llms-requires-both-representational-and-causal-ca"
    assert slug in library.claims and library.claims[slug].library_note is None


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("What is it?\nThis explores it.\nAn essay.\n", "Sources"),
        ("Not a question\nThis explores it.\nSources 1 notes\nDoes X hold?\nIt does.\n", "question"),
        ("What is it?\nThis explores it.\nEssay.\nSources 2 notes\nDoes X hold?\nIt does.\n", "Sources"),
    ],
)
def test_malformed_documents_are_refused_naming_the_part(
    tmp_path: Path, empty_workspace: Path, text: str, field: str
) -> None:
    doc = tmp_path / "line.txt"
    doc.write_text(text)
    with pytest.raises(InvalidInput) as caught:
        parse_line_document(doc)
    assert caught.value.problem.field == field
    result = invoke("-w", str(empty_workspace), "import-line", str(doc))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {doc}: {field}:")
    assert list((empty_workspace / "claims").rglob("*.yaml")) == []


def test_missing_document_and_bad_line_id(empty_workspace: Path, tmp_path: Path) -> None:
    result = invoke("-w", str(empty_workspace), "import-line", str(tmp_path / "nope.txt"))
    assert result.exit_code == 2 and "cannot read" in result.stderr
    result = invoke(
        "-w", str(empty_workspace), "import-line", str(SEEDS / "002_0842b44deafc3763.txt"), "--id", "Bad Id"
    )
    assert result.exit_code == 2 and "--id" in result.stderr
    assert list((empty_workspace / "claims").rglob("*.yaml")) == []
