"""How claims are shown: the status row, the JSON objects, the full text of one claim."""

from __future__ import annotations

import datetime as dt
import textwrap
from typing import Any

from claimtrack.models import AnchorDecision, Claim, PaperMerge, ReviewDecision, RulingLifted
from claimtrack.rulings import rulings
from claimtrack.store import Library


def _date(value: dt.datetime | None) -> str | None:
    return value.date().isoformat() if value else None


def status_row(claim: Claim, library: Library, now: dt.datetime) -> dict[str, Any]:
    """The fields `claimtrack status --json` prints for one claim."""
    changed = claim.latest_change.at if claim.latest_change else None
    return {
        "id": claim.id,
        "title": claim.title,
        "status": str(claim.status),
        "contested": claim.contested,
        "claimed": claim.claimed,
        "anchors": claim.anchor_ids,
        "lines": library.lines_of(claim.id),
        "last_checked": claim.last_checked.isoformat() if claim.last_checked else None,
        "last_changed": changed.isoformat() if changed else None,
        "due": claim.is_due(now),
        "evidence": len(claim.evidence),
        "replication": claim.replication,
        "replications": len(claim.replications),
        "last_replication": claim.replications[-1].model_dump(mode="json") if claim.replications else None,
    }


def status_cells(claim: Claim) -> list[str]:
    anchor = claim.anchor_ids[0] if claim.anchor_ids else "-"
    if len(claim.anchor_ids) > 1:
        anchor += f" +{len(claim.anchor_ids) - 1}"
    replicated = "-"
    if claim.replications:
        last = claim.replications[-1]
        figure = "?" if last.value is None else f"{last.value:.3g}"
        replicated = f"{last.metric} {figure} n={last.n} ({last.at.date().isoformat()})"
    status = f"{claim.status} (contested)" if claim.contested else str(claim.status)
    return [claim.id, status, claim.year or "?", anchor, _date(claim.last_checked) or "never", replicated]


def claim_json(claim: Claim, library: Library) -> dict[str, Any]:
    data = claim.model_dump(mode="json", by_alias=True)
    data.setdefault("replications", [])  # an empty list is left out of the claim's file, not of its JSON
    data["lines"] = library.lines_of(claim.id)
    data["rulings"] = [r.as_dict() for r in rulings(claim).values()]
    return data


def _wrap(text: str, indent: str = "  ") -> str:
    return "\n".join(
        textwrap.fill(p, width=100, initial_indent=indent, subsequent_indent=indent) for p in text.splitlines() if p
    )


def claim_text(claim: Claim, library: Library) -> str:
    """One claim whole, for `claimtrack show`."""
    out = [f"{claim.id}  [{claim.status}{', contested' if claim.contested else ''}]", claim.title, ""]
    if claim.contested:
        out += ["Contested (the status stays until the evidence clearly favours another):", _wrap(claim.contested), ""]
    out += ["Statement:", _wrap(claim.statement)]
    if claim.scope:
        out += ["Scope:", _wrap(claim.scope)]
    out += [
        f"Claimed: {claim.claimed or 'unknown'}    Review every {claim.review_every_days} days"
        f"    Last checked: {_date(claim.last_checked) or 'never'}"
    ]
    out += [f"Lines: {', '.join(library.lines_of(claim.id)) or '-'}"]
    out.append("Anchors:")
    for a in claim.anchors:
        author = f", {a.first_author}" if a.first_author else ""
        version = a.version or ""
        how = f", {'research prompt' if a.found_by == 'prompt' else 'arXiv search'} {a.score}" if a.found_by else ""
        out.append(f"  arXiv:{a.arxiv}{version} ({a.date or '?'}{author}; {a.confidence}{how}) {a.display_title}")
    if claim.anchor_note:
        out.append(_wrap(claim.anchor_note))
    if claim.numbers:
        out.append("Numbers:")
        for n in claim.numbers:
            source = f" [from {n.source}]" if n.source else ""
            out.append(f"  - {n.text}{source}")
            if n.unconfirmed:
                out.append(_wrap(f"unconfirmed: {n.unconfirmed}", "      "))
    if claim.caveat:
        out += ["Caveat:", _wrap(claim.caveat)]
    if claim.library_note:
        out += ["As written in the library:", _wrap(f'"{claim.library_note}"')]
    if claim.search.terms or claim.search.categories:
        out += [f"Search: {'; '.join(claim.search.terms)}  [{', '.join(claim.search.categories)}]"]
    if claim.replication:
        out.append(f"Replication spec: {claim.replication}")
    out.append(f"Evidence ({len(claim.evidence)}):")
    for e in claim.evidence:
        conf = f" {e.confidence:.2f}" if e.confidence is not None else ""
        out.append(
            f"  - {e.id}: {e.stance}{conf} from {e.source} ({e.published or e.judged_at.date()}) by {e.judged_by}"
        )
        if e.title:
            out.append(f"      {e.title}")
        if e.quote:
            where = f" ({e.quote_origin})" if e.quote_origin else ""
            out.append(_wrap(f'"{e.quote}"{where}', "      "))
        if e.probability:
            chances = ", ".join(f"{k} {v:.2f}" for k, v in sorted(e.probability.items(), key=lambda kv: -kv[1]))
            out.append(f"      measured: {chances}")
        if e.confirmation:
            c = e.confirmation
            conf = f" {c.confidence:.2f}" if c.confidence is not None else ""
            review = f" (review {c.review})" if c.review else ""
            out.append(f"      confirmed by {c.by}: {c.stance}{conf}{review}")
        if e.numbers:
            out.append("      " + ", ".join(f"{k}={v:.4g}" for k, v in e.numbers.items()))
        if e.scope_note:
            out.append(_wrap(f"scope: {e.scope_note}", "      "))
    if claim.replications:
        out.append(f"Replications ({len(claim.replications)}):")
        for r in claim.replications:
            run = f", run {r.run}" if r.run else ""
            out.append(f"  - {r.at.date()} job {r.job} (spec {r.spec}{run})")
            out.append(_wrap(r.describe(), "      "))
    out.append(f"History ({len(claim.history)}):")
    for h in claim.history:
        if isinstance(h, AnchorDecision):
            out.append(f"  - {h.at.date()} anchor arXiv:{h.arxiv} set {h.confidence} by {h.by}")
            out.append(_wrap(h.rationale, "      "))
            out += [f"      {change}" for change in h.changes]
            continue
        if isinstance(h, ReviewDecision):
            out.append(f"  - {h.at.date()} review {h.item}: {h.decision}ed {h.stance} from {h.source} by {h.by}")
            if h.rationale:
                out.append(_wrap(h.rationale, "      "))
            continue
        if isinstance(h, PaperMerge):
            out.append(f"  - {h.at.date()} paper {h.merged} is {h.into}: evidence {', '.join(h.evidence)} by {h.by}")
            continue
        if isinstance(h, RulingLifted):
            out.append(f"  - {h.at.date()} lifted the ruling ({h.lifted}) on {h.source} by {h.by}")
            out.append(_wrap(h.rationale, "      "))
            continue
        pin = " (pinned verdict)" if h.pinned else ""
        out.append(f"  - {h.at.date()} {h.from_} -> {h.to} by {h.by}{pin}")
        out.append(_wrap(h.rationale, "      "))
        if h.evidence:
            out.append(f"      evidence: {', '.join(h.evidence)}")
        if h.overrules:
            out.append(f"      overrules: {', '.join(h.overrules)}")
    ruled = rulings(claim)
    if ruled:
        out.append(f"Rulings ({len(ruled)}; each holds until lifted: `claimtrack verdict ID --lift PAPER`):")
        out += [f"  - {r.line()}" for r in ruled.values()]
    return "\n".join(out)
