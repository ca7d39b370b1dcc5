"""`claimtrack validate` checks what each history entry refers to: a status change's and a merge's evidence ids,
a verdict's overrules, a review's evidence, a lift's ruling, a `paper` merge's ids. A store made by the real
writers (a verdict, a merge, review decisions, a lift through the CLI) passes; each reference broken in its file
fails with one line naming the file, the entry and the field, exit 2."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import claims_workspace, invoke

from claimtrack.models import Claim, Evidence, EvidenceKind, ReviewDecision, Stance, Status
from claimtrack.store import Store
from claimtrack.verdict import record_verdict
from claimtrack.workspace import Workspace

IT = "it-output-format-not-task"
FILE = f"claims/{IT}.yaml"
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
DOI, ARXIV = "doi:10.1234/x", "arXiv:2512.00009"


def _paper(ident: str, source: str, stance: Stance, at: dt.datetime) -> Evidence:
    return Evidence(
        id=ident,
        kind=EvidenceKind.PAPER,
        source=source,
        stance=stance,
        quote="a sentence of the paper",
        confidence=0.8,
        judged_by="test-model@v1",
        judged_at=at,
    )


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    """One claim with each kind of history entry but an anchor decision, written by the code that writes each:
    two papers judged, a verdict overruling them, the DOI paper merged into its arXiv id, a review rejecting a
    paper the claim holds no evidence of and one accepting a held item, the merged paper judged again under its
    arXiv id and under its DOI (by a workspace whose ledger never merged it), and a lift of the verdict's ruling
    on it."""
    root = claims_workspace(tmp_path / "ws", IT)
    store = Store(Workspace.at(root))

    def judge(claim: Claim) -> None:
        claim.add_evidence(
            [_paper("e-doi", DOI, Stance.CONTRADICTS, T0), _paper("e-other", "arXiv:2506.07777", Stance.SUPPORTS, T0)]
        )

    def merge(claim: Claim) -> None:
        claim.merge_paper(DOI, ARXIV, by="run-1", now=T0 + dt.timedelta(hours=2))

    def decide(claim: Claim) -> None:
        at = T0 + dt.timedelta(hours=3)
        for item, decision, source, evidence in (
            ("r-1", "reject", "arXiv:2601.00001", None),
            ("r-2", "accept", "arXiv:2506.07777", "e-other"),
        ):
            claim.record_decision(
                ReviewDecision(
                    at=at, by="person:ana", item=item, decision=decision, source=source, stance=Stance.SUPPORTS,
                    evidence=evidence,
                )
            )  # fmt: skip
        claim.add_evidence([_paper("e-late", DOI, Stance.CONTRADICTS, at), _paper("e-new", ARXIV, Stance.RELAXES, at)])

    store.update_claim(IT, judge)
    record_verdict(store, IT, Status.HOLDING, "it tests another setting", by="ana", now=T0 + dt.timedelta(hours=1))
    store.update_claim(IT, merge)
    store.update_claim(IT, decide)
    lifted = invoke("-w", str(root), "verdict", IT, "--lift", DOI, "--because", "read it again", "--by", "ana")
    assert lifted.exit_code == 0, lifted.stdout + lifted.stderr
    return root


def _history(ws: Path) -> list[dict[str, Any]]:
    return yaml.safe_load((ws / FILE).read_text())["history"]


def _index(ws: Path, event: str) -> int:
    return next(i for i, h in enumerate(_history(ws)) if h.get("event", "status") == event)


def test_a_store_with_every_kind_of_entry_and_a_merged_paper_is_valid(ws: Path) -> None:
    history = _history(ws)
    assert [h.get("event", "status") for h in history][:5] == ["status", "paper", "review", "review", "lift"]
    merge = history[1]
    assert (merge["merged"], merge["into"], merge["evidence"]) == (DOI, ARXIV, ["e-doi"])
    assert history[4]["source"] == ARXIV  # the lift names the paper by the id kept
    result = invoke("-w", str(ws), "validate")
    assert result.exit_code == 0, result.stdout
    assert result.stdout.strip() == "ok: 1 claims, 0 lines"


def _item(claim: dict[str, Any], ident: str) -> dict[str, Any]:
    return next(e for e in claim["evidence"] if e["id"] == ident)


Edit = Callable[[dict[str, Any], dict[str, Any]], None]  # (the claim, the history entry edited)


@pytest.mark.parametrize(
    ("event", "edit", "field", "message"),
    [
        (
            "paper",
            lambda claim, entry: entry.update(into="arXiv:2512.00099"),
            "into",
            "the paper merge keeps arXiv:2512.00099, a paper none of the claim's evidence names",
        ),
        (
            "paper",
            lambda claim, entry: entry.update(evidence=["e-gone"]),
            "evidence",
            "the paper merge names unknown evidence 'e-gone'",
        ),
        (
            "paper",
            lambda claim, entry: _item(claim, "e-doi").update(source=DOI),
            "evidence",
            f"the paper merge rewrote 'e-doi', which still names {DOI}, the id given up",
        ),
        (
            "paper",
            lambda claim, entry: entry.update(evidence=["e-other"]),
            "evidence",
            f"the paper merge rewrote 'e-other', which names arXiv:2506.07777, not {ARXIV}, the paper kept",
        ),
        (
            "status",
            lambda claim, entry: entry.update(evidence=["e-gone"]),
            "evidence",
            "the status change names unknown evidence 'e-gone'",
        ),
        (
            "status",
            lambda claim, entry: entry.update(overrules=["e-doi", "e-gone"]),
            "overrules",
            "the status change overrules unknown evidence 'e-gone'",
        ),
        (
            "review",
            lambda claim, entry: entry.update(evidence="e-gone"),
            "evidence",
            "the review decision names unknown evidence 'e-gone'",
        ),
        (
            "review",
            lambda claim, entry: entry.update(evidence="e-doi"),
            "evidence",
            f"the review decision names 'e-doi', evidence of {ARXIV}, not of its paper arXiv:2601.00001",
        ),
        (
            "lift",
            lambda claim, entry: entry.update(source="arXiv:2506.09999"),
            "source",
            "the lift names arXiv:2506.09999, on which no ruling was in force",
        ),
    ],
    ids=[
        "merge-into-unknown-paper",
        "merge-unknown-evidence",
        "merge-evidence-still-merged-id",
        "merge-evidence-another-paper",
        "status-unknown-evidence",
        "verdict-overrules-unknown-evidence",
        "review-unknown-evidence",
        "review-evidence-of-another-paper",
        "lift-without-ruling",
    ],
)
def test_a_broken_reference_is_one_line_naming_file_entry_and_field(
    ws: Path, event: str, edit: Edit, field: str, message: str
) -> None:
    index = _index(ws, event)
    path = ws / FILE
    claim = yaml.safe_load(path.read_text())
    edit(claim, claim["history"][index])
    path.write_text(yaml.safe_dump(claim, sort_keys=False))
    result = invoke("-w", str(ws), "validate")
    assert result.exit_code == 2
    assert result.stdout.splitlines() == [f"{FILE}: history.{index}.{field}: {message}"], result.stdout
    listed = json.loads(invoke("-w", str(ws), "validate", "--json").stdout)
    assert listed == [{"file": FILE, "field": f"history.{index}.{field}", "message": message}]
