"""The research prompt: a frozen snapshot for a seed line, completeness, determinism, bad input."""

from __future__ import annotations

import os
import re
from pathlib import Path

import yaml
from conftest import invoke
from reports_helpers import FIXTURES, hostile_workspace, seed_line_workspace

LINE = "confounds-surface-vs-cause"
SNAPSHOT = FIXTURES / f"prompt-{LINE}.md"


def _prompt(root: Path, *extra: str) -> str:
    result = invoke("-w", str(root), "report", "prompt", *extra)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def test_prompt_matches_snapshot(tmp_path: Path) -> None:
    seed_line_workspace(tmp_path / "ws")
    text = _prompt(tmp_path / "ws", "--line", LINE)
    if os.environ.get("UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(text, encoding="utf-8")
    assert text == SNAPSHOT.read_text(encoding="utf-8")


def test_prompt_names_every_claim_and_anchor_of_the_line(tmp_path: Path) -> None:
    seed_line_workspace(tmp_path / "ws")
    text = _prompt(tmp_path / "ws", "--line", LINE)
    line = yaml.safe_load((FIXTURES / "store" / "claims" / "lines" / f"{LINE}.yaml").read_text())
    assert len(line["claims"]) == 8
    for claim_id in line["claims"]:
        claim = yaml.safe_load((FIXTURES / "store" / "claims" / f"{claim_id}.yaml").read_text())
        assert f"`{claim_id}`" in text
        assert claim["title"] in text
        for anchor in claim["anchors"]:
            assert re.search(rf"- arXiv:{re.escape(anchor['arxiv'])} \({anchor['date']}\): ", text), anchor
    for anchor in line["prompt_anchors"]:
        assert f"arXiv:{anchor['arxiv']} ({anchor['year']}" in text
    # what changed the relaxed claim, and what waits for review, are in the prompt
    assert "relaxed since 2026-04-05" in text
    assert 'Changed by arXiv:2604.01234 (2026-04-02, relaxes) Instructions Matter at Scale: "above 7B' in text
    assert "not yet judged: arXiv:2605.11111 (2026-05-10) Calibrated Rewards Revisited" in text
    assert (
        "disputed, waiting for a person's review: arXiv:2605.33333 Rewards and Confidence"
        " (one judgement says supersedes, the other supports)"
    ) in text
    assert "1 judged pair of this line waits for a person's review" in text
    assert "Propose two research questions" in text


def test_same_store_gives_the_same_text(tmp_path: Path) -> None:
    seed_line_workspace(tmp_path / "a")
    seed_line_workspace(tmp_path / "b")
    first = _prompt(tmp_path / "a")
    assert first == _prompt(tmp_path / "a")
    assert first == _prompt(tmp_path / "b")


def test_unanchored_claims_are_marked_and_every_line_is_included(tmp_path: Path) -> None:
    hostile_workspace(tmp_path / "ws")
    text = _prompt(tmp_path / "ws")
    assert "[`unanchored-claim`; no anchor paper (not yet grounded)]" in text
    assert "Claims with no anchor paper (grounding unknown): `unanchored-claim`." in text
    assert "not yet judged: arXiv:2606.00042" in text
    # a superseded claim shows the change's rationale and the evidence behind it
    assert "Why it changed: A newer training recipe removes the trade-off." in text
    assert "Changed by arXiv:2604.05555 (2026-04, supersedes)" in text
    assert 'confident guesses persist" (full text, §4.2 Scaling)' in text  # where the quote stands in the paper


def test_out_writes_the_file(tmp_path: Path) -> None:
    seed_line_workspace(tmp_path / "ws")
    out = tmp_path / "prompt.md"
    result = invoke("-w", str(tmp_path / "ws"), "report", "prompt", "--line", LINE, "--out", str(out))
    assert result.exit_code == 0, result.stderr
    assert out.read_text(encoding="utf-8") == SNAPSHOT.read_text(encoding="utf-8")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".prompt.md")] == []


def test_unknown_line_is_one_line_error_and_writes_nothing(tmp_path: Path) -> None:
    seed_line_workspace(tmp_path / "ws")
    out = tmp_path / "prompt.md"
    result = invoke("-w", str(tmp_path / "ws"), "report", "prompt", "--line", "confounds-surface", "--out", str(out))
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "error: unknown line id 'confounds-surface' (did you mean confounds-surface-vs-cause?)"
    ]
    assert not out.exists()
