"""Workspaces for the report tests: claims with evidence, history and pending candidates, built through
the real models, the store's writer and the real ledger."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from claimtrack.ledger import Ledger
from claimtrack.models import (
    Anchor,
    Claim,
    Evidence,
    EvidenceKind,
    Line,
    QuoteSource,
    Stance,
    Status,
    StatusChange,
)
from claimtrack.papers import Paper, upsert_paper
from claimtrack.store import Store
from claimtrack.workspace import Workspace

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "reports"
SCRIPT_TITLE = "Attack <script>document.body.setAttribute('data-pwned','1')</script> on calibration"
IMG_QUOTE = "\"><img src=x onerror=\"document.body.setAttribute('data-pwned','2')\"> confident guesses persist"
T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


def at(days: int) -> dt.datetime:
    return T0 + dt.timedelta(days=days)


def add_candidates(ws: Workspace, rows: list[tuple[str, str, str, str, float, int]]) -> None:
    """(claim_id, arxiv id, title, published, score, rank) as unjudged candidates in the ledger."""
    with Ledger.open(ws) as ledger, ledger.transaction():
        for claim_id, arxiv, title, published, score, rank in rows:
            upsert_paper(
                ledger, Paper(id=arxiv, title=title, published=published), source="arxiv", claim_id=claim_id, now=at(40)
            )
            ledger.conn.execute(
                "INSERT INTO candidates (claim_id, paper_id, score, rank, why, found_at, run_id, state)"
                " VALUES (?,?,?,?,?,?,?, 'unjudged')",
                (claim_id, arxiv, score, rank, "terms: calibration", at(40).isoformat(), "run-test"),
            )


def add_review(
    ws: Workspace, claim_id: str, arxiv: str, title: str, first: tuple[str, str, float], second: tuple[str, str, float]
) -> str:
    """A pair whose two judgements ((stance, quote, confidence) each) disagreed, queued for review."""
    from claimtrack.reviews_table import enqueue

    with Ledger.open(ws) as ledger:
        with ledger.transaction():
            upsert_paper(ledger, Paper(id=arxiv, title=title), source="arxiv", claim_id=claim_id, now=at(40))
            for role, (stance, quote, confidence) in (("judge", first), ("confirm", second)):
                ledger.conn.execute(
                    "INSERT INTO judgements (key, claim_id, paper_id, model, prompt_version, outcome, stance, quote,"
                    " confidence, judged_at, role) VALUES (?,?,?,?,?,'judged',?,?,?,?,?)",
                    (f"{role}-{arxiv}", claim_id, arxiv, "gpt-test", f"{role}-v1", stance, quote, confidence,
                     at(40).isoformat(), role),
                )  # fmt: skip
        return enqueue(ledger, claim_id, arxiv, f"judge-{arxiv}", f"confirm-{arxiv}", run_id="run-test", now=at(40))[0]


def seed_line_workspace(root: Path) -> Workspace:
    """The frozen seed line, with one claim relaxed by a paper, one holding by replication, and
    candidates waiting for review."""
    shutil.copytree(FIXTURES / "store" / "claims", root / "claims")
    ws = Workspace.at(root)
    store = Store(ws)

    def relax(relaxed: Claim) -> None:
        relaxed.add_evidence(
            [
                Evidence(
                    id="ev-2604-01234",
                    kind=EvidenceKind.PAPER,
                    source="arXiv:2604.01234",
                    title="Instructions Matter at Scale",
                    published="2026-04-02",
                    stance=Stance.RELAXES,
                    quote="above 7B parameters, models trained on correct instructions outperform those trained on"
                    " shuffled ones by 6 points",
                    scope_note="holds for models under 7B parameters",
                    confidence=0.8,
                    rationale="scale-dependent effect",
                    judged_by="gpt-test@judge-v1",
                    judged_at=at(35),
                )
            ]
        )
        relaxed.record_change(
            StatusChange(
                from_=Status.UNTESTED,
                to=Status.RELAXED,
                at=at(35),
                by="run-20260405",
                evidence=["ev-2604-01234"],
                rationale="A newer study finds the effect only below 7B parameters.",
                scope="models under 7B parameters",
            )
        )
        relaxed.last_checked = at(35)

    def hold(holding: Claim) -> None:
        holding.add_evidence(
            [
                Evidence(
                    id="rep-cot-1",
                    kind=EvidenceKind.REPLICATION,
                    source="job:cot-faithfulness-7",
                    stance=Stance.SUPPORTS,
                    judged_by="rule:cot-faithfulness",
                    judged_at=at(20),
                    numbers={"effect": 0.142, "stderr": 0.031, "ci_low": 0.081, "ci_high": 0.203, "n": 400},
                )
            ]
        )
        holding.record_change(
            StatusChange(
                from_=Status.UNTESTED,
                to=Status.HOLDING,
                at=at(20),
                by="run-20260321",
                evidence=["rep-cot-1"],
                rationale="Replication on an open model reproduces the drop in faithfulness.",
            )
        )
        holding.last_checked = at(20)

    store.update_claim("it-output-format-not-task", relax)
    store.update_claim("finetuning-makes-cot-performative", hold)

    add_candidates(
        ws,
        [
            ("binary-reward-hurts-calibration", "2605.11111", "Calibrated Rewards Revisited", "2026-05-10", 0.91, 1),
            ("binary-reward-hurts-calibration", "2605.22222", "Brier Terms in RLVR", "2026-05-20", 0.75, 2),
        ],
    )
    add_review(
        ws,
        "binary-reward-hurts-calibration",
        "2605.33333",
        "Rewards and Confidence",
        ("supersedes", "calibration no longer degrades under binary rewards", 0.8),
        ("supports", "binary rewards still raise overconfidence", 0.7),
    )
    return ws


def hostile_workspace(root: Path) -> Workspace:
    """A small store with every kind of content, including markup in a title and in a quote."""
    (root / "claims" / "lines").mkdir(parents=True)
    ws = Workspace.at(root)
    store = Store(ws)
    claims = [
        Claim(
            id="calibration-claim",
            title="Does binary reward hurt calibration?",
            statement="Binary rewards push models toward confident guessing.",
            claimed="2025-07",
            anchors=[Anchor(arxiv="2507.16806", title="Beyond Binary Rewards", date="2025-07")],
            status=Status.SUPERSEDED,
            last_checked=at(30),
            evidence=[
                Evidence(
                    id="ev-hostile",
                    kind=EvidenceKind.PAPER,
                    source="arXiv:2604.05555",
                    title=SCRIPT_TITLE,
                    published="2026-04",
                    stance=Stance.SUPERSEDES,
                    quote=IMG_QUOTE,
                    quote_source=QuoteSource.FULLTEXT,
                    quote_section="4.2 Scaling",
                    confidence=0.7,
                    judged_by="gpt-test@judge-v1",
                    judged_at=at(30),
                ),
                Evidence(
                    id="ev-support",
                    kind=EvidenceKind.PAPER,
                    source="arXiv:2508.00001",
                    title="Guessing under binary rewards",
                    published="2025-08",
                    stance=Stance.SUPPORTS,
                    quote="binary rewards raise overconfidence",
                    quote_source=QuoteSource.CITATION_CONTEXT,
                    quote_section="arXiv:2507.16806",
                    judged_by="gpt-test@judge-v1",
                    judged_at=at(5),
                ),
            ],
            history=[
                StatusChange(
                    from_=Status.UNTESTED,
                    to=Status.HOLDING,
                    at=at(5),
                    by="run-a",
                    evidence=["ev-support"],
                    rationale="A follow-up confirms the effect.",
                ),
                StatusChange(
                    from_=Status.HOLDING,
                    to=Status.SUPERSEDED,
                    at=at(30),
                    by="run-b",
                    evidence=["ev-hostile"],
                    rationale="A newer training recipe removes the trade-off.",
                ),
            ],
        ),
        Claim(
            id="replicated-claim",
            title="Does fine-tuning make CoT performative?",
            statement="Fine-tuned models ignore their reasoning steps more often.",
            claimed="2024-11",
            anchors=[Anchor(arxiv="2411.15382", title="On the Impact of Fine-Tuning on CoT", date="2024-11")],
            status=Status.HOLDING,
            last_checked=at(10),
            evidence=[
                Evidence(
                    id="rep-1",
                    kind=EvidenceKind.REPLICATION,
                    source="job:probe-1",
                    stance=Stance.SUPPORTS,
                    judged_by="rule:probe",
                    judged_at=at(10),
                    numbers={"effect": 0.12, "stderr": 0.03, "ci_low": 0.06, "ci_high": 0.18},
                )
            ],
            history=[
                StatusChange(
                    from_=Status.UNTESTED,
                    to=Status.HOLDING,
                    at=at(10),
                    by="run-c",
                    evidence=["rep-1"],
                    rationale="The probe reproduces the effect.",
                )
            ],
        ),
        Claim(
            id="unanchored-claim",
            title="Do GRPO models learn procedures?",
            statement="GRPO-trained models drop on N-1 variants.",
            status=Status.UNTESTED,
        ),
    ]
    for claim in claims:
        store.create_claim(claim)
    store.write_line(
        Line(
            id="test-line",
            question="Which training signals fool us?",
            framing="Surface signals mistaken for capability.",
            claims=[c.id for c in claims],
        )
    )
    add_candidates(ws, [("unanchored-claim", "2606.00042", "Template <b>matching</b> & RL", "2026-06-01", 0.5, 1)])
    add_review(
        ws,
        "replicated-claim",
        "2606.00077",
        "Reasoning <i>after</i> tuning",
        ("contradicts", "tuned models keep using their reasoning", 0.75),
        ("supports", "tuned models skip reasoning steps", 0.8),
    )
    return ws
