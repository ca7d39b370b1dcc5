"""The review queue: pairs whose two judgements disagreed wait here for a person.

A run never lets a disputed pair move a claim. The pair waits in the ledger's `reviews` table (one item per
claim and paper) until a person accepts it (that reading of the paper then counts, and the claim is re-decided
at once) or rejects it (the paper is ruled out for the claim). Both decisions are rulings on the (claim, paper)
pair that hold through any re-judgement until a person lifts them (rulings.py, `lift`), and both are dated
entries in the claim's history (`event: review`), so `git diff claims/` shows who decided what.

A decision is read, made and written under the store's lock: the claim first, then the ledger row. The claim
file is the record: a ledger row left behind by a crash between the two writes is set from the claim's
history the next time the queue is opened (`reconcile`), so a second decision on the item is refused.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Literal

from claimtrack.agent.decide import DEFAULT_MARGIN, weigh
from claimtrack.agent.judge import JudgeOutcome, outcome_from_row, to_evidence
from claimtrack.errors import AlreadyDecided, InvalidArgument, NotFound
from claimtrack.ledger import Ledger
from claimtrack.models import Claim, Confirmation, ReviewDecision, RulingLifted, Stance, StatusChange
from claimtrack.papers import Paper, get_paper
from claimtrack.reviews_table import waiting
from claimtrack.rulings import item_states, paper_of, rulings
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


def open_ids(ledger: Ledger) -> list[str]:
    """The open items' ids in the queue's order (`items`), without reading their judgements: next and previous."""
    return [r[0] for r in ledger.conn.execute("SELECT id FROM reviews WHERE state = 'open' ORDER BY created_at, id")]


def queue(ws: Workspace, claim_id: str | None = None) -> list[ReviewItem]:
    """The open items as `claimtrack review` and the web page list them: a decision a crash left half-written is
    first set from the claim's history (`reconcile`); empty when the workspace has no ledger yet."""
    if not ws.ledger_path.exists():
        return []
    with Ledger(ws.ledger_path) as ledger:
        reconcile(ledger, ws)
        return items(ledger, claim_id)


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


def reconcile(ledger: Ledger, ws: Workspace) -> int:
    """Set each review row to the state the claim's history gives it (the claim is written first, so it is the
    record when a crash came between the two writes); returns the rows changed. Claims that no longer load are
    left alone (validate names them)."""
    library = Store(ws).read()
    changed = 0
    with ledger.transaction() as conn:
        for row in conn.execute("SELECT id, claim_id, state FROM reviews").fetchall():
            claim = library.claims.get(row["claim_id"])
            wanted = item_states(claim).get(row["id"]) if claim is not None else None
            if wanted is None or wanted == row["state"]:
                continue
            decision = next((d for d in reversed(claim.review_decisions) if d.item == row["id"]), None)
            decided = decision is not None and wanted != "open"
            conn.execute(
                "UPDATE reviews SET state = ?, decided_at = ?, decided_by = ?, note = ? WHERE id = ?",
                (
                    wanted,
                    decision.at.isoformat() if decided else None,
                    decision.by if decided else None,
                    decision.rationale if decided else None,
                    row["id"],
                ),
            )
            changed += 1
    return changed


@dataclass(frozen=True)
class Decided:
    item: ReviewItem
    claim: Claim
    change: StatusChange | None  # the status change an accept caused, if any


def _first_judgement(ledger: Ledger, item: ReviewItem) -> tuple[JudgeOutcome, Any]:
    row = ledger.conn.execute("SELECT * FROM judgements WHERE key = ?", (item.judge_key,)).fetchone()
    if row is None or row["outcome"] != "judged":
        raise InvalidArgument("ITEM", f"{item.id}: its first judgement is missing from the ledger")
    return outcome_from_row(dict(row), item.claim_id, item.paper), row


@dataclass(frozen=True)
class _Decision:
    """One decision on one item, with all it needs to change the claim: made by `decide_item`, and on a copy of
    the claim by `preview`."""

    item: ReviewItem
    first: JudgeOutcome
    run_id: str | None
    decision: Decision
    person: str
    because: str | None
    threshold: float
    margin: float
    others: list[tuple[str, dict[Stance, float]]]

    def apply(self, claim: Claim, now: dt.datetime | None) -> StatusChange | None:
        """Write the decision into the claim (an accept adds the confirmed evidence) and re-decide it."""
        judgement = self.first.judgement
        assert judgement is not None
        at = claim.entry_time(now or dt.datetime.now(dt.UTC))
        evidence_id = None
        if self.decision == "accept":
            evidence = to_evidence(self.first, run_id=self.run_id)
            assert evidence is not None
            confirmation = Confirmation(by=self.person, stance=evidence.stance, at=at, review=self.item.id)
            accepted = evidence.model_copy(update={"confirmation": confirmation})
            claim.add_evidence([accepted])
            # the claim may hold this reading already (judged again, and confirmed, under another id)
            held = claim.evidence_by_id(accepted.id) or next(
                e for e in claim.evidence if e.kind == accepted.kind and e.reading_key == accepted.reading_key
            )
            evidence_id = held.id
        claim.record_decision(
            ReviewDecision(
                at=at,
                by=self.person,
                item=self.item.id,
                decision=self.decision,
                source=self.item.source,
                stance=judgement.stance,
                evidence=evidence_id,
                rationale=self.because,
            )
        )
        weighed = weigh(
            claim, threshold=self.threshold, by=self.person, now=at, margin=self.margin, waiting=self.others
        )
        claim.contested = weighed.contested
        if weighed.change is not None:
            claim.record_change(weighed.change)
        return weighed.change


def _decision(
    ledger: Ledger, item: ReviewItem, decision: Decision, person: str, because: str | None, threshold: float,
    margin: float,
) -> _Decision:  # fmt: skip
    first, row = _first_judgement(ledger, item)
    others = waiting(ledger, item.claim_id, besides=item.id)
    return _Decision(item, first, row["run_id"], decision, person, because, threshold, margin, others)


def preview(
    ws: Workspace, ledger: Ledger, item: ReviewItem, decision: Decision, *, threshold: float,
    margin: float = DEFAULT_MARGIN,
) -> Claim:  # fmt: skip
    """The claim as `decide_item` would leave it, made by the same code on a copy and written nowhere: what a
    reviewer sees before deciding."""
    claim = Store(ws).read().claim(item.claim_id).model_copy(deep=True)
    _decision(ledger, item, decision, "person:preview", None, threshold, margin).apply(claim, None)
    return claim


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
    wait: float = 30.0,
) -> Decided:
    """Record a person's decision on an item in the claim's history (and, for an accept, add the evidence and
    re-decide the claim at once), then close the item in the ledger: all under the store's lock (waiting up to
    `wait` seconds for it, else Busy), so of two decisions on one item the second finds it decided
    (AlreadyDecided) and changes nothing."""
    store = Store(ws)
    with store.locked(wait), Ledger.open(ws) as ledger:
        reconcile(ledger, ws)
        item = get_item(ledger, ident)
        if item.state != "open":
            row = ledger.conn.execute("SELECT decided_by FROM reviews WHERE id = ?", (ident,)).fetchone()
            raise AlreadyDecided(f"{ident} was already {item.state} by {row['decided_by']}; nothing changed")
        made = _decision(ledger, item, decision, f"person:{by}", because, threshold, margin)
        changes: list[StatusChange | None] = []
        claim = store.update_claim(item.claim_id, lambda claim: changes.append(made.apply(claim, now)))
        reconcile(ledger, ws)  # the claim now says how the item stands: the ledger row follows it
    return Decided(item, claim, changes[-1] if changes else None)


def lift(
    ws: Workspace,
    claim_id: str,
    paper: str,
    *,
    by: str,
    because: str,
    threshold: float,
    margin: float = DEFAULT_MARGIN,
    now: dt.datetime | None = None,
    wait: float = 30.0,
) -> tuple[Claim, RulingLifted, StatusChange | None]:
    """Lift a person's ruling on `paper` for the claim (a verdict's overrule, a review's accept or reject): its
    judgements are weighed by the rules again and the claim is re-decided at once; the review items the ruling
    decided open again. Refused (InvalidArgument) when no ruling on the paper is in force."""
    if not because.strip():
        raise InvalidArgument("--because", "say why; the reason is the changelog")
    person = f"person:{by}"
    store = Store(ws)
    lifted: list[RulingLifted] = []
    changes: list[StatusChange] = []
    pending = []
    if ws.ledger_path.exists():
        with Ledger.open(ws) as ledger:
            pending = waiting(ledger, claim_id)

    def apply(claim: Claim) -> None:
        ruled = rulings(claim)
        target = paper_of(claim, paper if ":" in paper else f"arXiv:{paper}")
        if target not in ruled:
            held = ", ".join(sorted(ruled)) or "none"
            raise InvalidArgument("--lift", f"no ruling on {paper} for {claim.id} (rulings in force: {held})")
        at = claim.entry_time(now or dt.datetime.now(dt.UTC))
        entry = RulingLifted(at=at, by=person, source=target, lifted=ruled[target].kind, rationale=because)
        claim.lift_ruling(entry)
        lifted.append(entry)
        weighed = weigh(claim, threshold=threshold, by=person, now=at, margin=margin, waiting=pending)
        claim.contested = weighed.contested
        if weighed.change is not None:
            claim.record_change(weighed.change)
            changes.append(weighed.change)

    with store.locked(wait):
        claim = store.update_claim(claim_id, apply)
        if ws.ledger_path.exists():
            with Ledger.open(ws) as ledger:
                reconcile(ledger, ws)
    return claim, lifted[0], changes[0] if changes else None
