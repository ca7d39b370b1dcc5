"""The review queue's store: pairs that wait for a person, in the ledger's `reviews` table.

It sits below the agent (which queues pairs as it assesses them) and below review.py (a person's decisions),
so queueing a pair never reaches up into the commands that decide it. An item says why it waits (`reason`:
its judgements disagree, the judge's measurement leaves it uncertain, or the judge is not qualified) and, when
the judge was measured, the pair's stance probabilities, so the decision can weigh a pair while it waits.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from typing import Literal

from claimtrack.ledger import Ledger
from claimtrack.models import Stance

Reason = Literal["disagree", "uncertain", "unqualified"]


def item_id(judge_key: str, confirm_key: str) -> str:
    return "rv-" + hashlib.sha256(f"{judge_key}|{confirm_key}".encode()).hexdigest()[:8]


def enqueue(
    ledger: Ledger,
    claim_id: str,
    paper_id: str,
    judge_key: str,
    confirm_key: str,
    *,
    reason: Reason = "disagree",
    probability: Mapping[Stance, float] | None = None,
    run_id: str | None = None,
    now: dt.datetime | None = None,
) -> tuple[str, str]:
    """Queue a pair once: one item per claim and paper. Returns its id and state: `open`, or `accepted` /
    `rejected` when a person has decided the paper for the claim already (their ruling stands, whatever the new
    judgements say). An open item of the paper takes the newest judgements, reason and probabilities."""
    ident = item_id(judge_key, confirm_key)
    at = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0).isoformat()
    measured = json.dumps({str(k): round(v, 6) for k, v in probability.items()}) if probability is not None else None
    with ledger.transaction() as conn:
        held = conn.execute(
            "SELECT id, state FROM reviews WHERE claim_id = ? AND paper_id = ? ORDER BY state = 'open', created_at"
            " DESC LIMIT 1",
            (claim_id, paper_id),
        ).fetchone()
        if held is not None and held["state"] != "open":
            return held["id"], held["state"]
        if held is not None:
            conn.execute(
                "UPDATE reviews SET judge_key = ?, confirm_key = ?, run_id = COALESCE(?, run_id), reason = ?,"
                " probability_json = ? WHERE id = ?",
                (judge_key, confirm_key, run_id, reason, measured, held["id"]),
            )
            return held["id"], "open"
        conn.execute(
            "INSERT OR IGNORE INTO reviews (id, claim_id, paper_id, judge_key, confirm_key, created_at, run_id,"
            " reason, probability_json) VALUES (?,?,?,?,?,?,?,?,?)",
            (ident, claim_id, paper_id, judge_key, confirm_key, at, run_id, reason, measured),
        )
        state = conn.execute("SELECT state FROM reviews WHERE id = ?", (ident,)).fetchone()[0]
    return ident, state


def waiting(ledger: Ledger, claim_id: str, *, besides: str | None = None) -> list[tuple[str, dict[Stance, float]]]:
    """The claim's open items that carry measured probabilities, as (paper id, probabilities): the decision
    weighs them while they wait (`besides`: an item being decided now, left out)."""
    rows = ledger.conn.execute(
        "SELECT id, paper_id, probability_json FROM reviews WHERE claim_id = ? AND state = 'open'"
        " AND probability_json IS NOT NULL ORDER BY created_at, id",
        (claim_id,),
    ).fetchall()
    return [
        (row["paper_id"], {Stance(k): float(v) for k, v in json.loads(row["probability_json"]).items()})
        for row in rows
        if row["id"] != besides
    ]
