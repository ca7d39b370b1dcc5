"""The review queue: pairs whose two judgements disagreed wait here for a person.

A run never lets a disputed pair move a claim. The pair waits in the ledger's `reviews` table until a person
accepts it (it then counts as confirmed evidence, and the claim is re-decided at once) or rejects it (it is
overruled: the same judgements never come back, since the pair is cached). Both decisions are dated entries
in the claim's history (`event: review`), so `git diff claims/` shows who decided what.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Literal

from claimtrack.agent.decide import DEFAULT_MARGIN, weigh
from claimtrack.agent.judge import outcome_from_row, to_evidence
from claimtrack.errors import InvalidArgument, NotFound
from claimtrack.ledger import Ledger
from claimtrack.models import Claim, Confirmation, ReviewDecision, StatusChange
from claimtrack.papers import Paper, get_paper
from claimtrack.reviews_table import waiting
from claimtrack.store import Store
from claimtrack.workspace import Workspace

Decision = Literal["accept", "reject"]
_STATE = {"accept": "accepted", "reject": "rejected"}


@dataclass(frozen=True)
class ReviewItem:
    """A queued pair with both judgements, as `claimtrack review` lists it."""

    id: str
    claim_id: str
    paper: Paper
    state: str  # open | accepted | rejected
    created_at: str
    judge: dict[str, Any]  # stance, quote, quote_source, quote_section, confidence, by, rationale (or error)
    confirm: dict[str, Any]
    judge_key: str
    reason: str | None = None  # disagree | uncertain | unqualified (None: queued before reasons were kept)
    probability: dict[str, float] | None = None  # the pair's measured stance probabilities, when measured

    @property
    def source(self) -> str:
        return self.paper.source

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "claim": self.claim_id,
            "paper": self.source,
            "title": self.paper.title,
            "state": self.state,
            "created_at": self.created_at,
            "judge": self.judge,
            "confirm": self.confirm,
            "reason": self.reason,
            "probability": self.probability,
        }


def _judgement(row: Any) -> dict[str, Any]:
    if row is None:
        return {"error": "judgement missing from the ledger"}
    data = {"by": f"{row['model']}@{row['prompt_version']}", "at": row["judged_at"]}
    if row["outcome"] != "judged":
        return {**data, "error": row["error"]}
    return {
        **data,
        "stance": row["stance"],
        "quote": row["quote"],
        "quote_source": row["quote_source"],
        "quote_section": row["quote_section"],
        "confidence": row["confidence"],
        "scope_note": row["scope_note"],
        "rationale": row["rationale"],
    }


def _item(ledger: Ledger, row: Any) -> ReviewItem:
    judgement = "SELECT * FROM judgements WHERE key = ?"
    first = ledger.conn.execute(judgement, (row["judge_key"],)).fetchone()
    second = ledger.conn.execute(judgement, (row["confirm_key"],)).fetchone()
    paper = get_paper(ledger, row["paper_id"]) or Paper(id=row["paper_id"], title=row["paper_id"])
    return ReviewItem(
        row["id"],
        row["claim_id"],
        paper,
        row["state"],
        row["created_at"],
        _judgement(first),
        _judgement(second),
        row["judge_key"],
        row["reason"],
        json.loads(row["probability_json"]) if row["probability_json"] else None,
    )


def items(ledger: Ledger, claim_id: str | None = None, *, state: str | None = "open") -> list[ReviewItem]:
    """Queued items, oldest first; only open ones unless `state` says otherwise (None: all)."""
    query, args = "SELECT * FROM reviews WHERE 1 = 1", []
    if claim_id is not None:
        query += " AND claim_id = ?"
        args.append(claim_id)
    if state is not None:
        query += " AND state = ?"
        args.append(state)
    rows = ledger.conn.execute(query + " ORDER BY created_at, id", args).fetchall()
    return [_item(ledger, row) for row in rows]


def open_by_claim(ws: Workspace) -> dict[str, list[dict[str, Any]]]:
    """Open items per claim, for the reports; empty when the workspace has no ledger yet (none is created)."""
    if not ws.ledger_path.exists():
        return {}
    grouped: dict[str, list[dict[str, Any]]] = {}
    with Ledger(ws.ledger_path) as ledger:
        for item in items(ledger):
            grouped.setdefault(item.claim_id, []).append(item.as_dict())
    return grouped


def get_item(ledger: Ledger, ident: str) -> ReviewItem:
    row = ledger.conn.execute("SELECT * FROM reviews WHERE id = ?", (ident,)).fetchone()
    if row is None:
        known = [r[0] for r in ledger.conn.execute("SELECT id FROM reviews WHERE state = 'open' ORDER BY id")]
        raise NotFound("review item", ident, [k for k in known if k.startswith(ident[:5])][:3])
    return _item(ledger, row)


@dataclass(frozen=True)
class Decided:
    item: ReviewItem
    claim: Claim
    change: StatusChange | None  # the status change an accept caused, if any


def decide_item(
    ws: Workspace,
    ident: str,
    decision: Decision,
    *,
    by: str,
    because: str | None = None,
    threshold: float,
    margin: float = DEFAULT_MARGIN,
    now: dt.datetime | None = None,
) -> Decided:
    """Record a person's decision on an item in the claim's history (and, for an accept, add the evidence and
    re-decide the claim at once), then close the item in the ledger."""
    person = f"person:{by}"
    with Ledger.open(ws) as ledger:
        item = get_item(ledger, ident)
        if item.state != "open":
            raise InvalidArgument("ITEM", f"{ident} was already {item.state}")
        row = ledger.conn.execute("SELECT * FROM judgements WHERE key = ?", (item.judge_key,)).fetchone()
        if row is None or row["outcome"] != "judged":
            raise InvalidArgument("ITEM", f"{ident}: its first judgement is missing from the ledger")
        first = outcome_from_row(dict(row), item.claim_id, item.paper)
        assert first.judgement is not None
        changes: list[StatusChange] = []
        others = waiting(ledger, item.claim_id, besides=ident)

        def apply(claim: Claim) -> None:
            at = claim.entry_time((now or dt.datetime.now(dt.UTC)).replace(microsecond=0))  # under the store's lock
            if any(d.item == ident for d in claim.review_decisions):
                return  # recorded before the ledger was updated (an interrupted decision): only the ledger lags
            evidence_id = None
            if decision == "accept":
                evidence = to_evidence(first, run_id=row["run_id"])
                assert evidence is not None
                confirmation = Confirmation(by=person, stance=evidence.stance, at=at, review=ident)
                claim.add_evidence([evidence.model_copy(update={"confirmation": confirmation})])
                evidence_id = evidence.id
            claim.record_decision(
                ReviewDecision(
                    at=at,
                    by=person,
                    item=ident,
                    decision=decision,
                    source=item.source,
                    stance=first.judgement.stance,
                    evidence=evidence_id,
                    rationale=because,
                )
            )
            if decision == "accept" or claim.contested:
                weighed = weigh(claim, threshold=threshold, by=person, now=at, margin=margin, waiting=others)
                claim.contested = weighed.contested
                change = weighed.change if decision == "accept" else None
                if change is not None:
                    claim.record_change(change)
                    changes.append(change)

        claim = Store(ws).update_claim(item.claim_id, apply)
        with ledger.transaction() as conn:
            conn.execute(
                "UPDATE reviews SET state = ?, decided_at = ?, decided_by = ?, note = ? WHERE id = ?",
                (
                    _STATE[decision],
                    dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                    person,
                    because,
                    ident,
                ),
            )
    return Decided(item, claim, changes[0] if changes else None)
