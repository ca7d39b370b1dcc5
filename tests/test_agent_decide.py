"""The status rules of claimtrack.agent.decide, one case per row of the table in docs/agent.md."""

from __future__ import annotations

import datetime as dt

import pytest

from claimtrack.agent.decide import decide, is_credible
from claimtrack.models import (
    AnchorConfidence,
    AnchorDecision,
    Claim,
    Confirmation,
    Evidence,
    EvidenceKind,
    ReviewDecision,
    Stance,
    Status,
    StatusChange,
)
from claimtrack.rulings import rulings

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
    confirmed: bool | float = True,
    source: str | None = None,
) -> Evidence:
    confirmation = None
    if confirmed is not False:
        second = confidence if confirmed is True else confirmed
        confirmation = Confirmation(by="m2@p", stance=Stance(stance), confidence=second, at=at)
    return Evidence(
        id=ident,
        kind=EvidenceKind.PAPER,
        source=source or f"arXiv:2501.{ident}",  # one paper per item unless a test says otherwise
        published=published,
        stance=Stance(stance),
        quote=quote,
        confidence=confidence,
        judged_by="m@p",
        judged_at=at,
        scope_note=scope,
        confirmation=confirmation,
    )


def _replication(stance: str, ident: str = "rep-1", scope: str | None = None) -> Evidence:
    return Evidence(
        id=ident,
        kind=EvidenceKind.REPLICATION,
        source="job-1",
        stance=Stance(stance),
        judged_by="rule:instruction-ablation",
        judged_at=T0,
        numbers={"effect": 0.1},
        scope_note=scope,
    )


def _decide(claim: Claim) -> StatusChange | None:
    return decide(claim, threshold=0.6, by="run-x", now=LATER)


@pytest.mark.parametrize(
    ("stances", "expected"),
    [
        (["supersedes"], Status.SUPERSEDED),
        (["supersedes", "supports"], None),  # one against one: split, so the status stays (and is contested)
        (["supersedes", "supersedes", "supports"], Status.SUPERSEDED),
        (["supersedes", "relaxes"], Status.RELAXED),  # a tie between contests: the weaker one stands
        (["supersedes", "supersedes", "relaxes"], Status.SUPERSEDED),
        (["supersedes", "relaxes", "relaxes"], Status.RELAXED),
        (["contradicts", "supports"], None),  # split likewise
        (["contradicts", "supports", "supports"], Status.HOLDING),
        (["contradicts", "contradicts", "supports"], Status.RELAXED),
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
        assert f"arXiv:2501.{change.evidence[0]}" in change.rationale  # the deciding paper is named


def test_one_late_contest_does_not_overturn_ten_supports():
    claim = _claim(
        status=Status.HOLDING,
        evidence=[_paper("supports", 0.95, ident=f"s{i}") for i in range(10)] + [_paper("supersedes", 0.61, ident="x")],
    )
    assert _decide(claim) is None
    claim.status = Status.UNTESTED
    change = _decide(claim)
    assert change.to == Status.HOLDING and "x" not in change.evidence
    assert change.rationale.startswith("10 supports (9.50), 1 contests (0.61, of which 1 supersedes 0.61)")
    assert "the support outweighs the contests" in change.rationale


def test_the_rationale_states_the_balance():
    evidence = [_paper("supports", 0.8, ident="s1")] + [_paper("relaxes", 0.7, ident=f"r{i}") for i in range(3)]
    change = _decide(_claim(evidence=evidence))
    assert change.to == Status.RELAXED and change.rationale.startswith("1 supports (0.80), 3 contests (2.10)")
    assert "the contests outweigh the support" in change.rationale


def test_a_paper_judged_again_counts_once_as_it_was_last_read():
    """Its abstract said supports; its full text, read in a later run, relaxes: the paper is weighed once, by the
    newer judgement, and the rationale says an earlier one was set aside."""
    same = "arXiv:2507.00001"
    abstract = _paper("supports", 0.9, ident="abstract", source=same)
    fulltext = _paper("relaxes", 0.8, ident="fulltext", source=same, at=T0 + dt.timedelta(days=7), scope="below 3B")
    other = _paper("supports", 0.7, ident="other", source="arXiv:2508.00002")
    change = _decide(_claim(evidence=[abstract, fulltext, other]))
    assert change.to == Status.RELAXED and change.evidence == ["fulltext"] and change.scope == "below 3B"
    assert change.rationale.startswith("1 supports (0.70), 1 contests (0.80)")
    assert "1 other readings of papers judged again, not weighed" in change.rationale
    # had the supports come from another paper, both would count and outweigh the contest
    elsewhere = abstract.model_copy(update={"source": "arXiv:2509.00003"})
    assert _decide(_claim(evidence=[elsewhere, fulltext, other])).to == Status.HOLDING


def test_unconfirmed_low_confidence_or_quoteless_evidence_is_not_credible():
    assert _decide(_claim(evidence=[_paper("supersedes", 0.99, confirmed=False)])) is None
    assert _decide(_claim(evidence=[_paper("supersedes", 0.59)])) is None
    assert _decide(_claim(evidence=[_paper("supersedes", 0.99, confirmed=0.4)])) is None  # a timid confirmation
    assert _decide(_claim(evidence=[_paper("supersedes", 0.99, quote="")])) is None


def test_weight_is_the_lower_of_the_two_judgements():
    claim = _claim(evidence=[_paper("supports", 0.9, ident="s"), _paper("relaxes", 0.95, ident="r", confirmed=0.7)])
    assert _decide(claim).to == Status.HOLDING  # 0.9 against min(0.95, 0.7)


def test_relaxed_carries_the_scope_note_of_the_heaviest_contesting_paper():
    claim = _claim(
        evidence=[
            _paper("relaxes", 0.7, ident="a", scope="small models"),
            _paper("contradicts", 0.9, ident="b", scope="only on math"),
        ]
    )
    change = _decide(claim)
    assert change.to == Status.RELAXED and change.scope == "only on math" and change.evidence == ["b", "a"]


def test_relaxed_scope_never_comes_from_replication_metadata():
    claim = _claim(
        evidence=[
            _replication("contradicts", scope="calibration probe at eval time, lm-eval 0.4.13, limit None"),
            _paper("relaxes", 0.7, ident="p", scope="models below 7B"),
        ]
    )
    change = _decide(claim)
    assert change.to == Status.RELAXED and change.scope == "models below 7B"
    assert _decide(_claim(evidence=[_replication("contradicts", scope="lm-eval 0.4.13")])).scope is None


def test_a_paper_older_than_the_claim_cannot_supersede():
    change = _decide(_claim(evidence=[_paper("supersedes", published="2022-03")]))
    assert change.to == Status.RELAXED


def test_no_change_when_status_already_matches():
    assert _decide(_claim(status=Status.HOLDING, evidence=[_paper("supports")])) is None


def test_replication_counts_like_a_paper_when_ruled():
    rep = _replication("contradicts")
    assert is_credible(rep, 0.6)
    assert _decide(_claim(evidence=[rep])).to == Status.RELAXED
    unruled = rep.model_copy(update={"judged_by": "someone"})
    assert not is_credible(unruled, 0.6)


def _pin(at: dt.datetime, to: Status, overrules: list[str] | None, frm: Status = Status.SUPERSEDED) -> StatusChange:
    return StatusChange(
        from_=frm, to=to, at=at, by="person:ana", rationale="read it myself", pinned=True, overrules=overrules
    )


def test_what_a_verdict_overrules_never_decides_again():
    a = _paper("supersedes", at=T0, ident="a")
    auto = StatusChange(from_=Status.UNTESTED, to=Status.SUPERSEDED, at=T0, by="run-1", evidence=["a"], rationale="r")
    pin = _pin(T0 + dt.timedelta(days=1), Status.HOLDING, ["a"])
    claim = _claim(status=Status.HOLDING, history=[auto, pin], evidence=[a])
    assert _decide(claim) is None  # the person overruled A
    b = _paper("relaxes", 0.8, at=T0 + dt.timedelta(days=2), ident="b", scope="only 7B")
    claim.evidence.append(b)
    change = _decide(claim)
    assert change.to == Status.RELAXED and change.evidence == ["b"] and "1 ruled out by a person" in change.rationale
    claim.record_change(change)
    assert _decide(claim) is None  # one automatic change later, A still does not count: relaxed stays


def test_a_review_accept_after_the_verdict_readmits_evidence():
    a = _paper("supersedes", at=T0, ident="a")
    pin = _pin(T0 + dt.timedelta(days=1), Status.HOLDING, ["a"], frm=Status.UNTESTED)
    claim = _claim(status=Status.HOLDING, history=[pin], evidence=[a])
    assert {p: r.kind for p, r in rulings(claim).items()} == {a.source: "overruled"}
    accept = ReviewDecision(
        at=T0 + dt.timedelta(days=2), by="person:ana", item="rv-1", decision="accept", source=a.source,
        stance=Stance.SUPERSEDES, evidence="a",
    )  # fmt: skip
    claim.record_decision(accept)
    assert rulings(claim)[a.source].kind == "accepted" and _decide(claim).to == Status.SUPERSEDED


def test_a_verdict_written_before_overrules_existed_overrules_what_was_judged_before_it():
    old = _paper("supersedes", at=T0, ident="old")
    claim = _claim(
        status=Status.HOLDING, history=[_pin(T0 + dt.timedelta(days=1), Status.HOLDING, None, Status.UNTESTED)]
    )
    claim.evidence = [old, _paper("relaxes", at=T0 + dt.timedelta(days=2), ident="new", scope="only 7B")]
    change = _decide(claim)
    assert change.to == Status.RELAXED and change.evidence == ["new"]


def test_a_persons_anchor_decision_in_the_history_overrules_nothing():
    """History also holds decisions that move no status (a person linking an anchor): the rules read past them."""
    decision = AnchorDecision(
        at=T0, by="person:ana", arxiv="2305.11383", confidence=AnchorConfidence.LIKELY, rationale="audit"
    )
    claim = _claim(history=[decision], evidence=[_paper("supports", at=LATER)])
    assert rulings(claim) == {}
    assert _decide(claim).to == Status.HOLDING
