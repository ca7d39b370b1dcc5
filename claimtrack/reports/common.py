"""What the reports share: reading pending candidates, parsing --since, formatting evidence and numbers."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from claimtrack.errors import InvalidArgument
from claimtrack.models import CONTESTING, Claim, Evidence, Stance, Status, partial_date_start
from claimtrack.workspace import Workspace

DEFAULT_WINDOW_DAYS = 30
"""Without --since, "changed since" covers this many days before the newest change in the store."""

# Order used wherever statuses or stances are listed or counted, so output never depends on dict order.
STATUS_ORDER = [Status.UNTESTED, Status.HOLDING, Status.RELAXED, Status.SUPERSEDED]
STANCE_ORDER = [Stance.SUPPORTS, Stance.RELAXES, Stance.CONTRADICTS, Stance.SUPERSEDES, Stance.UNRELATED]


def parse_since(text: str, where: str = "--since") -> dt.datetime:
    """A user's date (YYYY, YYYY-MM, YYYY-MM-DD or an ISO timestamp) as an aware UTC datetime."""
    value = text.strip()
    try:
        if len(value) <= 10:
            day = partial_date_start(value) if _looks_partial(value) else dt.date.fromisoformat(value)
            return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
        stamp = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidArgument(where, f"'{text}' is not a date (expected YYYY-MM-DD)") from None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)


def _looks_partial(value: str) -> bool:
    parts = value.split("-")
    return len(parts) in (1, 2) and all(p.isdigit() for p in parts) and len(parts[0]) == 4


def pending_by_claim(workspace: Workspace) -> dict[str, list[dict[str, Any]]]:
    """Unjudged candidates per claim from the ledger; empty when the workspace has no ledger yet.

    A report never creates a ledger: a store without one simply has nothing waiting for review.
    """
    if not workspace.ledger_path.exists():
        return {}
    from claimtrack.ledger import Ledger
    from claimtrack.papers import pending_candidates

    with Ledger(workspace.ledger_path) as ledger:
        rows = pending_candidates(ledger)
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        grouped[row["claim_id"]].append(row)
    return dict(grouped)


RECENT_RUNS = 5
"""How many of the newest runs a report describes."""


def recent_runs(workspace: Workspace, limit: int = RECENT_RUNS) -> list[dict[str, Any]]:
    """The newest runs from the ledger's runs table, newest first: when, how they ended, claims checked and
    failed, status changes, and the sources that failed (with how many claims each hit). Empty without a
    ledger (a report never creates one)."""
    if not workspace.ledger_path.exists():
        return []
    import json

    from claimtrack.ledger import Ledger

    with Ledger(workspace.ledger_path) as ledger:
        rows = ledger.conn.execute(
            "SELECT id, started_at, finished_at, outcome, summary_json FROM runs ORDER BY started_at DESC, rowid DESC"
            " LIMIT ?",
            (limit,),
        ).fetchall()
    runs = []
    for row in rows:
        summary = json.loads(row["summary_json"]) if row["summary_json"] else {}
        totals = summary.get("totals", {})
        runs.append(
            {
                "id": row["id"],
                "started_at": row["started_at"],
                "finished_at": row["finished_at"],
                "outcome": row["outcome"] or "running or killed",
                "offline": bool(summary.get("offline")),
                "claims": totals.get("claims"),
                "failed": totals.get("failed"),
                "status_changes": totals.get("status_changes"),
                "failed_sources": [
                    {"source": g["source"], "cause": g["cause"], "claims": len(g["claims"])}
                    for g in summary.get("failures_by_source", [])
                ],
            }
        )
    return runs


def runs_health(runs: list[dict[str, Any]]) -> str | None:
    """One sentence for a reader when the newest runs checked nothing (every claim failed, or they died), so a
    quiet report is not taken for "checked, nothing changed"; None when the newest run checked something."""
    broken = 0
    for run in runs:
        if run["outcome"] == "ok" or (run["claims"] and (run["failed"] or 0) < run["claims"]):
            break
        broken += 1
    if not broken:
        return None
    runs_text = "The last run" if broken == 1 else f"The last {broken} runs"
    return (
        f"{runs_text} checked no claim (every claim failed, or the run did not finish): the statuses below are"
        " not fresh. `claimtrack doctor` says what is missing."
    )


def failed_sources(run: dict[str, Any]) -> str:
    """A run's failed sources as text: 'arxiv: connection failed (31 claims); openalex: HTTP 503 (2 claims)'."""
    return "; ".join(f"{g['source']}: {g['cause']} ({plural(g['claims'], 'claim')})" for g in run["failed_sources"])


def one_line(text: str | None) -> str:
    """Collapse whitespace, so a multi-line title or quote cannot break a list or a table."""
    return " ".join((text or "").split())


def evidence_date(evidence: Evidence) -> str:
    """When the source appeared; for a run or a person's pointer with no such date, when it was recorded."""
    return evidence.published or f"recorded {evidence.judged_at.date().isoformat()}"


def format_numbers(numbers: dict[str, float] | None) -> str:
    """Replication numbers with their uncertainty: `effect 0.12 ± 0.03 (95% CI 0.06 to 0.18), n=200`."""
    if not numbers:
        return ""
    rest = dict(numbers)
    parts: list[str] = []
    if "effect" in rest:
        text = f"effect {_num(rest.pop('effect'))}"
        if "stderr" in rest:
            text += f" ± {_num(rest.pop('stderr'))} (stderr)"
        if "ci_low" in rest and "ci_high" in rest:
            text += f", 95% CI {_num(rest.pop('ci_low'))} to {_num(rest.pop('ci_high'))}"
        parts.append(text)
    elif "ci_low" in rest and "ci_high" in rest:
        parts.append(f"CI {_num(rest.pop('ci_low'))} to {_num(rest.pop('ci_high'))}")
    parts += [f"{key} {_num(value)}" for key, value in sorted(rest.items())]
    return ", ".join(parts)


def _num(value: float) -> str:
    return f"{value:.4g}"


def changing_evidence(claim: Claim) -> list[Evidence]:
    """The evidence behind the claim's current status: what its latest change names, else the evidence
    whose stance narrows or overturns it (for relaxed/superseded claims changed without ids)."""
    change = claim.latest_change
    if change is not None and change.evidence:
        found = [claim.evidence_by_id(e) for e in change.evidence]
        return [e for e in found if e is not None]
    if claim.status in (Status.RELAXED, Status.SUPERSEDED):
        return [e for e in claim.evidence if e.stance in CONTESTING]
    return []


def stance_counts(claim: Claim) -> dict[str, int]:
    counts = {str(s): 0 for s in STANCE_ORDER}
    for evidence in claim.evidence:
        counts[str(evidence.stance)] += 1
    return counts


def newest_change(claims: list[Claim]) -> dt.datetime | None:
    stamps = [h.at for c in claims for h in c.status_changes]
    return max(stamps) if stamps else None


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def evidence_sources(claim: dict[str, Any], ids: list[str]) -> list[str]:
    """A change's evidence ids as `source (stance)`, from a report's claim dict; unknown ids as given."""
    by_id = {e["id"]: e for e in claim["evidence"]}
    return [f"{by_id[i]['source']} ({by_id[i]['stance']})" if i in by_id else i for i in ids]


def judge_standing(workspace: Workspace) -> str | None:
    """How the judge stood in the last run that judged (qualified, trusted by override, not qualified); None
    when no run judged or the workspace has no ledger yet (none is created)."""
    if not workspace.ledger_path.exists():
        return None
    from claimtrack.agent.qualification import last_run_standing
    from claimtrack.ledger import Ledger

    with Ledger(workspace.ledger_path) as ledger:
        return last_run_standing(ledger)
