"""The status report's data: one JSON-ready dict that the Markdown, HTML and JSON forms all render.

Structure (`schema: "claimtrack.status-report/1"`; keys are only ever added, never renamed):

- `since`: ISO date the "changed since" section starts from; `since_rule`: "given" (from --since),
  "window" (DEFAULT_WINDOW_DAYS before `newest_change`) or "none" (no change recorded yet).
- `newest_change`: ISO timestamp of the newest status change in the store, or null.
- `totals`: `claims`, `by_status` {status: n}, `evidence`, `replications`, `pending` (candidates not yet
  judged), `review` (pairs whose two judgements disagreed, waiting for a person: `claimtrack review`).
- `runs`: the health of recent runs: `recent` [newest first: `id`, `started_at`, `finished_at`, `outcome`
  (ok | failed | interrupted | running or killed), `offline`, `claims` (checked), `failed`, `status_changes`,
  `failed_sources` [{source, cause, claims (how many it hit)}]], `warning` (a sentence when the newest runs
  checked no claim, else null).
- `changed`: status changes at or after `since`, newest first: `claim`, `title`, `lines`, `from`, `to`,
  `at`, `by`, `rationale`, `scope`, `pinned`, `evidence` (ids).
- `lines`: in store order: `id`, `question`, `framing`, `claims` (ids, in the line's order; ids missing
  from the store are listed in `missing`), `by_status`.
- `unlined`: ids of claims that sit in no line.
- `claims`: {id: `id`, `title`, `statement`, `status`, `claimed`, `anchors` [{arxiv, title, date}],
  `last_checked`, `last_change` (a change as above, or null),
  `evidence` [Evidence fields + `numbers_text`, `date_text`, `quote_origin` (where the quote stands:
  "abstract", "full text, §4.2 Scaling", "citation context on arXiv:ID"; null when not recorded)],
  `replications` [finished replication jobs, oldest first: Replication fields (`job`, `spec`, `task`,
  `metric`, `n`, `models` [{model, role, value, stderr}], `value`, `interval`, `stance`, `evidence`, `at`,
  `run`) + `text` (one line for a reader)], `stance_counts` {stance: n},
  `pending` [{paper_id, title, published, score, rank, why, found_at}],
  `review` [{id, paper, title, judge {stance, quote, confidence, by}, confirm {...}}],
  `rulings` [{paper, ruling (overruled | rejected | accepted), by, at, item, evidence, line}],
  `history` (changes, oldest first), `replication_job` (the claim's newest replication job when it is pending
  or failed: {job_id, state, external_id, reason}; else null)}.

Nothing here reads the clock: the report is a function of the store and the ledger.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from claimtrack.models import Claim, Evidence, StatusChange
from claimtrack.reports.common import (
    DEFAULT_WINDOW_DAYS,
    STATUS_ORDER,
    evidence_date,
    format_numbers,
    newest_change,
    runs_health,
    stance_counts,
)
from claimtrack.rulings import rulings
from claimtrack.store import Library

SCHEMA = "claimtrack.status-report/1"


def build_status(
    library: Library,
    pending: dict[str, list[dict[str, Any]]],
    since: dt.datetime | None = None,
    review: dict[str, list[dict[str, Any]]] | None = None,
    runs: list[dict[str, Any]] | None = None,
    replication_jobs: dict[str, dict[str, Any]] | None = None,
    judge: str | None = None,
) -> dict[str, Any]:
    """Assemble the report. Without `since`, the window ends at the store's newest change. `review` holds the
    open review items per claim (review.open_by_claim); `runs` the newest runs (common.recent_runs);
    `replication_jobs` the pending or failed replication job per claim (replication.board.open_by_claim); `judge`,
    how the judge stood in the last run that judged (qualification.last_run_standing)."""
    runs = runs or []
    review = review or {}
    jobs = replication_jobs or {}
    claims = list(library.claims.values())
    newest = newest_change(claims)
    if since is not None:
        rule = "given"
    elif newest is not None:
        since, rule = newest - dt.timedelta(days=DEFAULT_WINDOW_DAYS), "window"
    else:
        rule = "none"
    changed = []
    if since is not None:
        for claim in claims:
            changed += [_change(h, claim, library) for h in claim.status_changes if h.at >= since]
    changed.sort(key=lambda c: (c["at"], c["claim"]), reverse=True)
    lined = {c for line in library.lines.values() for c in line.claims}
    return {
        "schema": SCHEMA,
        "since": since.date().isoformat() if since else None,
        "since_rule": rule,
        "newest_change": newest.isoformat() if newest else None,
        "judge": judge,
        "totals": {
            "claims": len(claims),
            "by_status": _by_status(claims),
            "evidence": sum(len(c.evidence) for c in claims),
            "replications": sum(len(c.replications) for c in claims),
            "pending": sum(len(pending.get(c.id, [])) for c in claims),
            "review": sum(len(review.get(c.id, [])) for c in claims),
            "contested": sum(c.contested is not None for c in claims),
        },
        "changed": changed,
        "runs": {"recent": runs, "warning": runs_health(runs)},
        "lines": [
            {
                "id": line.id,
                "question": line.question,
                "framing": line.framing,
                "claims": [c for c in line.claims if c in library.claims],
                "missing": [c for c in line.claims if c not in library.claims],
                "by_status": _by_status([library.claims[c] for c in line.claims if c in library.claims]),
            }
            for line in library.lines.values()
        ],
        "unlined": [c.id for c in claims if c.id not in lined],
        "claims": {
            c.id: _claim(c, library, pending.get(c.id, []), review.get(c.id, [])) | {"replication_job": jobs.get(c.id)}
            for c in claims
        },
    }


def _by_status(claims: list[Claim]) -> dict[str, int]:
    return {str(s): sum(1 for c in claims if c.status == s) for s in STATUS_ORDER}


def _change(change: StatusChange, claim: Claim, library: Library) -> dict[str, Any]:
    return {
        "claim": claim.id,
        "title": claim.title,
        "lines": library.lines_of(claim.id),
        "from": str(change.from_),
        "to": str(change.to),
        "at": change.at.isoformat(),
        "by": change.by,
        "rationale": change.rationale,
        "scope": change.scope,
        "pinned": change.pinned,
        "evidence": list(change.evidence),
    }


def evidence_dict(item: Evidence) -> dict[str, Any]:
    """An evidence item for the renderers: its fields, plus its numbers and its date as text."""
    data = item.model_dump(mode="json")
    data["numbers_text"] = format_numbers(item.numbers)
    data["date_text"] = evidence_date(item)
    data["quote_origin"] = item.quote_origin
    return data


def _review_item(item: dict[str, Any]) -> dict[str, Any]:
    keep = ("stance", "quote", "confidence", "by", "error")
    return {
        "id": item["id"],
        "paper": item["paper"],
        "title": item["title"],
        "judge": {k: item["judge"][k] for k in keep if k in item["judge"]},
        "confirm": {k: item["confirm"][k] for k in keep if k in item["confirm"]},
    }


def _claim(
    claim: Claim, library: Library, pending: list[dict[str, Any]], review: list[dict[str, Any]]
) -> dict[str, Any]:
    change = claim.latest_change
    return {
        "id": claim.id,
        "title": claim.title,
        "statement": claim.statement,
        "status": str(claim.status),
        "contested": claim.contested,
        "claimed": claim.claimed,
        "anchors": [{"arxiv": a.arxiv, "title": a.display_title, "date": a.date} for a in claim.anchors],
        "last_checked": claim.last_checked.isoformat() if claim.last_checked else None,
        "last_change": _change(change, claim, library) if change else None,
        "evidence": [evidence_dict(e) for e in claim.evidence],
        "replications": [{**r.model_dump(mode="json"), "text": r.describe()} for r in claim.replications],
        "stance_counts": stance_counts(claim),
        "pending": [
            {k: row[k] for k in ("paper_id", "title", "published", "score", "rank", "why", "found_at")}
            for row in pending
        ],
        "review": [_review_item(item) for item in review],
        "rulings": [r.as_dict() | {"line": r.line()} for r in rulings(claim).values()],
        "history": [_change(h, claim, library) for h in sorted(claim.status_changes, key=lambda h: h.at)],
    }
