"""The status report as Markdown: for a terminal, a pull request or a notebook."""

from __future__ import annotations

from typing import Any

from claimtrack.replication.board import describe
from claimtrack.reports.common import evidence_sources, failed_sources, one_line, plural


def md_text(text: str | None) -> str:
    """Paper and claim text made inert in Markdown: one line, `<` escaped so no HTML tag survives a
    renderer, and `|` escaped so a table keeps its columns."""
    return one_line(text).replace("\\", "\\\\").replace("<", "\\<").replace("|", "\\|")


def render_markdown(report: dict[str, Any]) -> str:
    out = ["# claimtrack status report", ""]
    totals = report["totals"]
    counts = ", ".join(f"{n} {s}" for s, n in totals["by_status"].items())
    out += [
        f"{plural(totals['claims'], 'claim')} ({counts}); {plural(totals['evidence'], 'piece')} of evidence;"
        f" {plural(totals['review'], 'judged pair')} waiting for review (`claimtrack review`);"
        f" {plural(totals['pending'], 'candidate paper')} not yet judged.",
        "",
    ]
    judge = report.get("judge")
    if judge is not None and judge != "trusted (not qualified)" and not judge.startswith("qualified"):
        out += [
            "The judge of the last run was **not qualified**: its status-moving judgements wait for review."
            " Measure it with `claimtrack judge qualify`.",
            "",
        ]
    elif judge == "trusted (not qualified)":
        out += [
            "The judge of the last run was **not qualified but trusted** by a person's override"
            " (`--trust-judge` / `CLAIMTRACK_TRUST_JUDGE`): its judgements counted by their confidence.",
            "",
        ]
    out += _runs(report["runs"])
    out += _changed(report)
    for line in report["lines"]:
        out += _line(line, report["claims"])
    if report["unlined"]:
        out += _line(
            {
                "id": "(in no line)",
                "question": "Claims that sit in no inquiring line",
                "framing": "",
                "claims": report["unlined"],
                "missing": [],
            },
            report["claims"],
        )
    return "\n".join(out).rstrip() + "\n"


def _runs(runs: dict[str, Any]) -> list[str]:
    """The health of recent runs, so that failed runs are not read as "checked, nothing changed"."""
    out = ["## Recent runs", ""]
    if runs["warning"]:
        out += [f"**{runs['warning']}**", ""]
    if not runs["recent"]:
        return [*out, "No run is recorded in this workspace's ledger yet (`claimtrack run --due`).", ""]
    out += [
        "| Run | Started | Outcome | Claims checked | Failed | Status changes | Sources that failed |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in runs["recent"]:
        out.append(
            f"| `{run['id']}` | {run['started_at'][:16].replace('T', ' ')} | {run['outcome']}"
            f"{' (offline)' if run['offline'] else ''} | {_count(run['claims'])} | {_count(run['failed'])} |"
            f" {_count(run['status_changes'])} | {md_text(failed_sources(run)) or '-'} |"
        )
    return [*out, ""]


def _count(value: int | None) -> str:
    return "?" if value is None else str(value)


def _changed(report: dict[str, Any]) -> list[str]:
    if report["since_rule"] == "none":
        return ["## Changed since", "", "No status change is recorded yet.", ""]
    rule = " (30 days before the newest change)" if report["since_rule"] == "window" else ""
    out = [f"## Changed since {report['since']}{rule}", ""]
    if not report["changed"]:
        return [*out, "Nothing changed in this period.", ""]
    for change in report["changed"]:
        out.append(
            f"- {change['at'][:10]} `{change['claim']}`: {change['from']} → **{change['to']}**"
            f" by {md_text(change['by'])}: {md_text(change['rationale'])}"
        )
        if change["scope"]:
            out.append(f"  - still holds within: {md_text(change['scope'])}")
        sources = evidence_sources(report["claims"][change["claim"]], change["evidence"])
        if sources:
            out.append(f"  - evidence: {'; '.join(md_text(e) for e in sources)}")
    return [*out, ""]


def _line(line: dict[str, Any], claims: dict[str, Any]) -> list[str]:
    out = [f"## {md_text(line['question'])}", "", f"Line `{line['id']}`. {md_text(line['framing'])}".rstrip(), ""]
    out += [
        "| Claim | Status | Claimed | Last changed | Evidence | Review | Unjudged |",
        "|---|---|---|---|---|---|---|",
    ]
    for claim_id in line["claims"]:
        c = claims[claim_id]
        changed = c["last_change"]["at"][:10] if c["last_change"] else "never"
        out.append(
            f"| `{claim_id}` | {c['status']} | {c['claimed'] or '?'} | {changed} |"
            f" {len(c['evidence'])} | {len(c['review'])} | {len(c['pending'])} |"
        )
    for missing in line["missing"]:
        out.append(f"| `{missing}` | missing from the store | | | | | |")
    out.append("")
    for claim_id in line["claims"]:
        out += _claim(claims[claim_id])
    return out


def _claim(c: dict[str, Any]) -> list[str]:
    contested = " (contested)" if c.get("contested") else ""
    out = [
        f"### {md_text(c['title'])}",
        "",
        f"`{c['id']}`: **{c['status']}**{contested}. {md_text(c['statement'])}",
        "",
    ]
    if c.get("contested"):
        out.append(f"- Contested, so the status stays: {md_text(c['contested'])}")
    anchors = "; ".join(f"arXiv:{a['arxiv']} ({a['date'] or 'undated'}) {md_text(a['title'])}" for a in c["anchors"])
    out.append(f"- Anchors: {anchors or 'none (not grounded in a paper yet)'}")
    change = c["last_change"]
    if change:
        out.append(
            f"- Last changed {change['at'][:10]} ({change['from']} → {change['to']}, by {md_text(change['by'])}):"
            f" {md_text(change['rationale'])}"
        )
    else:
        out.append("- Status never changed.")
    out.append(f"- Last checked: {c['last_checked'][:10] if c['last_checked'] else 'never'}")
    if c.get("replication_job"):
        out.append(f"- {md_text(describe(c['replication_job']))}")
    if c["evidence"]:
        out.append("- Evidence:")
        for e in c["evidence"]:
            where = f"{e['date_text']}, {e['kind']}, judged by {md_text(e['judged_by'])}"
            text = f"  - {e['stance']}: {md_text(e['source'])} ({where})"
            if e["title"]:
                text += f" {md_text(e['title'])}"
            out.append(text)
            if e["quote"]:
                origin = f" *({md_text(e['quote_origin'])})*" if e["quote_origin"] else ""
                out.append(f"    > {md_text(e['quote'])}{origin}")
            if e["numbers_text"]:
                out.append(f"    - numbers: {e['numbers_text']}")
            if e["scope_note"]:
                out.append(f"    - scope: {md_text(e['scope_note'])}")
    if c["replications"]:
        out.append("- Replications (lm-eval probes; only a two-model comparison can move the status):")
        for r in c["replications"]:
            out.append(f"  - {r['at'][:10]} {md_text(r['text'])} (job `{r['job']}`)")
    if c["review"]:
        out.append("- Waiting for review (the two judgements disagree; `claimtrack review`):")
        for item in c["review"]:
            first, second = item["judge"], item["confirm"]
            out.append(
                f"  - {item['id']}: {md_text(item['paper'])} {md_text(item['title'])}:"
                f" judged {_said(first)}, confirmation {_said(second)}"
            )
    if c["rulings"]:
        out.append("- A person's rulings (they hold until lifted: `claimtrack verdict ID --lift PAPER`):")
        out += [f"  - {md_text(r['line'])}" for r in c["rulings"]]
    if c["pending"]:
        out.append("- Not yet judged:")
        for p in c["pending"]:
            ref = p["paper_id"] if ":" in p["paper_id"] else f"arXiv:{p['paper_id']}"
            out.append(f"  - {ref} ({p['published'] or 'undated'}, score {p['score']:.3g}) {md_text(p['title'])}")
    return [*out, ""]


def _said(judgement: dict[str, Any]) -> str:
    if "stance" not in judgement:
        return "failed"
    return f"{judgement['stance']} ({judgement['confidence']:.2f})"
