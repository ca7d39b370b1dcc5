"""The status rules of claimtrack.agent.decide, one case per row of the table in docs/agent.md."""

from __future__ import annotations

import datetime as dt

import pytest

from claimtrack.agent.decide import decide, is_credible
from claimtrack.models import Claim, Evidence, EvidenceKind, Stance, Status, StatusChange

T0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
LATER = T0 + dt.timedelta(days=30)


def _claim(**kw) -> Claim:
    return Claim(id="c", title="t", statement="s", claimed="2023-05", **kw)


def _paper(
    stance: str,
    confidence: float = 0.9,
    *,
    quote: str = "a quoted finding here",
    published="2025-01",
    at=T0,
    ident="e1",
    scope=None,
) -> Evidence:
    return Evidence(
        id=ident,
        kind=EvidenceKind.PAPER,
        source="arXiv:2501.00001",
        published=published,
        stance=Stance(stance),
        quote=quote,
        confidence=confidence,
        judged_by="m@p",
        judged_at=at,
        scope_note=scope,
    )


def _decide(claim: Claim) -> StatusChange | None:
    return decide(claim, threshold=0.6, run_id="run-x", now=LATER)


@pytest.mark.parametrize(
    ("stances", "expected"),
    [
        (["supersedes", "supports"], Status.SUPERSEDED),
        (["contradicts", "supports"], Status.RELAXED),
        (["relaxes"], Status.RELAXED),
        (["supports", "supports"], Status.HOLDING),
        (["unrelated"], None),
        ([], None),
    ],
)
def test_rules_table(stances, expected):
    claim = _claim(evidence=[_paper(s, ident=f"e{i}") for i, s in enumerate(stances)])
    change = _decide(claim)
    assert (change.to if change else None) == expected
    if change:
        assert change.by == "run-x" and change.from_ == Status.UNTESTED and change.at == LATER
        assert set(change.evidence) <= {e.id for e in claim.evidence} and change.evidence
        assert "arXiv:2501.00001" in change.rationale


def test_low_confidence_or_missing_quote_is_not_credible():
    assert _decide(_claim(evidence=[_paper("supersedes", 0.59)])) is None
    assert _decide(_claim(evidence=[_paper("supersedes", 0.99, quote="")])) is None


def test_relaxed_carries_the_scope_note_of_the_most_confident():
    claim = _claim(
        evidence=[
            _paper("relaxes", 0.7, ident="a", scope="small models"),
            _paper("contradicts", 0.9, ident="b", scope="only on math"),
        ]
    )
    change = _decide(claim)
    assert change.to == Status.RELAXED and change.scope == "only on math" and change.evidence == ["b", "a"]


def test_a_paper_older_than_the_claim_cannot_supersede():
    change = _decide(_claim(evidence=[_paper("supersedes", published="2022-03")]))
    assert change.to == Status.RELAXED


def test_no_change_when_status_already_matches():
    assert _decide(_claim(status=Status.HOLDING, evidence=[_paper("supports")])) is None


def test_replication_counts_like_a_paper_when_ruled():
    rep = Evidence(
        id="rep-1",
        kind=EvidenceKind.REPLICATION,
        source="job-1",
        stance=Stance.CONTRADICTS,
        judged_by="rule:instruction-ablation",
        judged_at=T0,
        numbers={"effect": 0.1},
    )
    assert is_credible(rep, 0.6)
    assert _decide(_claim(evidence=[rep])).to == Status.RELAXED
    unruled = rep.model_copy(update={"judged_by": "someone"})
    assert not is_credible(unruled, 0.6)


def test_pinned_verdict_holds_until_newer_evidence():
    pin = StatusChange(
        from_=Status.UNTESTED,
        to=Status.HOLDING,
        at=T0 + dt.timedelta(days=1),
        by="person:ana",
        rationale="read it myself",
        pinned=True,
    )
    old = _paper("supersedes", at=T0, ident="old")
    claim = _claim(status=Status.HOLDING, history=[pin], evidence=[old])
    assert _decide(claim) is None  # the person saw that paper; their verdict stands
    claim.evidence.append(_paper("relaxes", at=T0 + dt.timedelta(days=2), ident="new", scope="only 7B"))
    change = _decide(claim)
    assert change.to == Status.RELAXED and change.evidence == ["new"]  # only evidence newer than the pin
