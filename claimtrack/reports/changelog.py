"""The changelog: every status change across claims, newest first, with its evidence and rationale, and the
anchor decisions people made (which move no status)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from claimtrack.models import AnchorDecision, Claim, PaperMerge, RulingLifted
from claimtrack.reports.common import one_line
from claimtrack.reports.status import evidence_dict
from claimtrack.store import Library


def log_entries(
    library: Library, claim_id: str | None = None, since: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """Changes as JSON-ready dicts; a change's evidence ids are resolved to the evidence they name
    (an id the claim no longer holds is kept, marked `missing`). A person's review decisions, which move no
    status themselves, are entries with `event: review`; a lifted ruling `event: lift`, and a paper found to be
    one with another id `event: paper`."""
    claims = [library.claim(claim_id)] if claim_id is not None else list(library.claims.values())
    entries = []
    for claim in claims:
        for decision in claim.history:
            if since is not None and decision.at < since:
                continue
            if isinstance(decision, AnchorDecision):
                entries.append(_anchor_entry(claim, decision))
            elif isinstance(decision, (RulingLifted, PaperMerge)):
                entries.append({"claim": claim.id, "title": claim.title, **decision.model_dump(mode="json")})
        for decision in claim.review_decisions:
            if since is None or decision.at >= since:
                entries.append(
                    {
                        "event": "review",
                        "claim": claim.id,
                        "title": claim.title,
                        "at": decision.at.isoformat(),
                        "by": decision.by,
                        "item": decision.item,
                        "decision": decision.decision,
                        "source": decision.source,
                        "stance": str(decision.stance),
                        "evidence": decision.evidence,
                        "rationale": decision.rationale,
                    }
                )
        for change in claim.status_changes:
            if since is not None and change.at < since:
                continue
            evidence = []
            for ident in change.evidence:
                item = claim.evidence_by_id(ident)
                if item is None:
                    evidence.append({"id": ident, "missing": True})
                else:
                    evidence.append(evidence_dict(item))
            entries.append(
                {
                    "claim": claim.id,
                    "title": claim.title,
                    "event": "status",
                    "at": change.at.isoformat(),
                    "from": str(change.from_),
                    "to": str(change.to),
                    "by": change.by,
                    "pinned": change.pinned,
                    "rationale": change.rationale,
                    "scope": change.scope,
                    "evidence": evidence,
                }
            )
    entries.sort(key=lambda e: (e["at"], e["claim"]), reverse=True)
    return entries


def _anchor_entry(claim: Claim, decision: AnchorDecision) -> dict[str, Any]:
    return {
        "claim": claim.id,
        "title": claim.title,
        "event": "anchor",
        "at": decision.at.isoformat(),
        "by": decision.by,
        "arxiv": decision.arxiv,
        "confidence": str(decision.confidence),
        "changes": list(decision.changes),
        "rationale": decision.rationale,
    }


def render_log(entries: list[dict[str, Any]]) -> str:
    if not entries:
        return "no status changes recorded"
    out = []
    for e in entries:
        if e["event"] == "anchor":
            out.append(f"{e['at'][:10]}  {e['claim']}  anchor arXiv:{e['arxiv']} set {e['confidence']}  by {e['by']}")
            out.append(f"    {one_line(e['rationale'])}")
            out += [f"    {change}" for change in e["changes"]]
            out.append("")
            continue
        if e["event"] == "lift":
            out.append(
                f"{e['at'][:10]}  {e['claim']}  lifted the ruling ({e['lifted']}) on {e['source']}  by {e['by']}"
            )
            out += [f"    {one_line(e['rationale'])}", ""]
            continue
        if e["event"] == "paper":
            out.append(f"{e['at'][:10]}  {e['claim']}  paper {e['merged']} is {e['into']}  by {e['by']}")
            out += [f"    evidence rewritten: {', '.join(e['evidence'])}", ""]
            continue
        if e["event"] == "review":
            out.append(
                f"{e['at'][:10]}  {e['claim']}  review {e['item']}: {e['decision']}ed {e['stance']} from"
                f" {e['source']}  by {e['by']}"
            )
            if e["rationale"]:
                out.append(f"    {one_line(e['rationale'])}")
            out.append("")
            continue
        pin = " (pinned)" if e["pinned"] else ""
        out.append(f"{e['at'][:10]}  {e['claim']}  {e['from']} -> {e['to']}  by {e['by']}{pin}")
        out.append(f"    {one_line(e['rationale'])}")
        if e["scope"]:
            out.append(f"    still holds within: {one_line(e['scope'])}")
        for item in e["evidence"]:
            if item.get("missing"):
                out.append(f"    evidence {item['id']}: no longer in the claim's evidence")
                continue
            line = f"    evidence {item['id']}: {item['stance']} {item['source']} ({item['date_text']})"
            if item["title"]:
                line += f" {one_line(item['title'])}"
            out.append(line)
            if item["quote"]:
                origin = f" ({item['quote_origin']})" if item["quote_origin"] else ""
                out.append(f'      "{one_line(item["quote"])}"{origin}')
            if item["numbers_text"]:
                out.append(f"      {item['numbers_text']}")
        out.append("")
    return "\n".join(out).rstrip()
