"""The status report as one self-contained HTML page: inline CSS and SVG, no script, no fetches.

Every string that comes from a claim, a paper or a person passes through `esc` (html.escape with
quotes), in text, attributes and SVG alike: a title holding markup is shown as text, never run.
"""

from __future__ import annotations

import datetime as dt
import html
from typing import Any

from claimtrack.replication.board import describe
from claimtrack.reports.common import STANCE_ORDER, STATUS_ORDER, evidence_sources, failed_sources, plural

STATUS_COLOURS = {"untested": "#8a94a6", "holding": "#2f8f5b", "relaxed": "#d08a1e", "superseded": "#c0392b"}
STANCE_COLOURS = {
    "supports": "#2f8f5b",
    "relaxes": "#d08a1e",
    "contradicts": "#c0392b",
    "supersedes": "#7b3fa0",
    "unrelated": "#b8bfcc",
}


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def render_html(report: dict[str, Any]) -> str:
    claims = report["claims"]
    body = [_header(report), _runs(report["runs"]), _changed(report), _timeline(report)]
    for line in report["lines"]:
        body.append(_line(line, claims))
    if report["unlined"]:
        body.append(
            _line(
                {
                    "id": "no-line",
                    "question": "Claims in no inquiring line",
                    "framing": "",
                    "claims": report["unlined"],
                    "missing": [],
                },
                claims,
            )
        )
    body.append(
        f"<footer>Report schema {esc(report['schema'])}. Built from the claim store and the ledger;"
        " the same store gives the same page.</footer>"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        "<title>claimtrack status report</title>\n"
        f"<style>{_CSS}</style>\n</head>\n<body>\n<main>\n" + "\n".join(body) + "\n</main>\n</body>\n</html>\n"
    )


def _short(claim_id: str, limit: int = 36) -> str:
    """Chart labels fit their column; the full id is in the table beside the chart."""
    return claim_id if len(claim_id) <= limit else claim_id[: limit - 1] + "…"


def _anchor(line_id: str, claim_id: str) -> str:
    """A claim shown under several lines gets one anchor per line: ids stay unique in the page."""
    return esc(f"c-{line_id}-{claim_id}")


def _badge(status: str) -> str:
    return f'<span class="badge s-{esc(status)}">{esc(status)}</span>'


def _header(report: dict[str, Any]) -> str:
    totals = report["totals"]
    cards = "".join(
        f'<div class="card"><span class="num" style="color:{STATUS_COLOURS[s]}">{n}</span>{esc(s)}</div>'
        for s, n in totals["by_status"].items()
    )
    cards += f'<div class="card"><span class="num">{totals["evidence"]}</span>evidence</div>'
    cards += f'<div class="card"><span class="num">{totals["review"]}</span>waiting for review</div>'
    cards += f'<div class="card"><span class="num">{totals["pending"]}</span>not yet judged</div>'
    lines = "".join(
        f'<li><a href="#line-{esc(line["id"])}">{esc(line["question"])}</a></li>' for line in report["lines"]
    )
    return (
        f'<header><h1>claimtrack status report</h1><p class="sub">{plural(totals["claims"], "dated claim")} in'
        f' {plural(len(report["lines"]), "inquiring line")}</p><div class="cards">{cards}</div>'
        f"<nav><ul>{lines}</ul></nav></header>"
    )


def _runs(runs: dict[str, Any]) -> str:
    """The health of recent runs, so that failed runs are not read as "checked, nothing changed"."""
    warning = f'<p class="warn"><b>{esc(runs["warning"])}</b></p>' if runs["warning"] else ""
    if not runs["recent"]:
        return (
            f'<section id="runs"><h2>Recent runs</h2>{warning}<p>No run is recorded in this workspace\'s ledger'
            " yet.</p></section>"
        )

    def count(value: int | None) -> str:
        return "?" if value is None else str(value)

    rows = "".join(
        f'<tr data-run="{esc(r["id"])}"><td class="id">{esc(r["id"])}</td>'
        f'<td class="date">{esc(r["started_at"][:16].replace("T", " "))}</td>'
        f'<td>{esc(r["outcome"])}{" (offline)" if r["offline"] else ""}</td><td class="num">{count(r["claims"])}</td>'
        f'<td class="num">{count(r["failed"])}</td><td class="num">{count(r["status_changes"])}</td>'
        f"<td>{esc(failed_sources(r)) or '-'}</td></tr>"
        for r in runs["recent"]
    )
    return (
        f'<section id="runs"><h2>Recent runs</h2>{warning}<table class="runs"><thead><tr><th>Run</th>'
        "<th>Started</th><th>Outcome</th><th>Claims checked</th><th>Failed</th><th>Status changes</th>"
        f"<th>Sources that failed</th></tr></thead><tbody>{rows}</tbody></table></section>"
    )


def _changed(report: dict[str, Any]) -> str:
    if report["since_rule"] == "none":
        return '<section id="changed"><h2>Changed since</h2><p>No status change is recorded yet.</p></section>'
    rule = " <small>(30 days before the newest change)</small>" if report["since_rule"] == "window" else ""
    head = f'<section id="changed"><h2>Changed since {esc(report["since"])}{rule}</h2>'
    if not report["changed"]:
        return head + "<p>Nothing changed in this period.</p></section>"
    rows = []
    for c in report["changed"]:
        scope = f'<div class="scope">Still holds within: {esc(c["scope"])}</div>' if c["scope"] else ""
        sources = evidence_sources(report["claims"][c["claim"]], c["evidence"])
        evidence = f'<div class="ids">Evidence: {esc("; ".join(sources))}</div>' if sources else ""
        pin = ' <span class="pin">pinned</span>' if c["pinned"] else ""
        target = _anchor(c["lines"][0] if c["lines"] else "no-line", c["claim"])
        rows.append(
            f'<tr><td class="date">{esc(c["at"][:10])}</td><td><a href="#{target}">'
            f'{esc(c["title"])}</a><div class="id">{esc(c["claim"])}</div></td>'
            f'<td class="nowrap">{_badge(c["from"])} → {_badge(c["to"])}{pin}</td>'
            f'<td>{esc(c["rationale"])}{scope}{evidence}<div class="by">by {esc(c["by"])}</div></td></tr>'
        )
    return (
        head + '<table class="changes"><thead><tr><th>Date</th><th>Claim</th><th>Change</th>'
        f"<th>Why</th></tr></thead><tbody>{''.join(rows)}</tbody></table></section>"
    )


def _timeline(report: dict[str, Any]) -> str:
    """Status changes over time: one row per claim that ever changed, a dot per change in its new colour."""
    rows = [c for c in report["claims"].values() if c["history"]]
    if not rows:
        return '<section id="timeline"><h2>Timeline of status changes</h2><p>No changes yet.</p></section>'
    rows.sort(key=lambda c: (c["history"][0]["at"], c["id"]))
    stamps = [dt.datetime.fromisoformat(h["at"]) for c in rows for h in c["history"]]
    start, end = min(stamps), max(stamps)
    span = max((end - start).total_seconds(), 86400.0)
    label_w, width, row_h, top = 300, 1000, 26, 30
    plot_w = width - label_w - 30
    height = top + row_h * len(rows) + 10

    def x(stamp: str) -> float:
        return label_w + 10 + plot_w * (dt.datetime.fromisoformat(stamp) - start).total_seconds() / span

    x_end = width - 20
    parts = [
        f'<svg class="timeline" viewBox="0 0 {width} {height}" role="img" aria-label="Timeline of status changes">'
    ]
    ticks = 1 if span <= 86400.0 else 5
    for t in range(ticks + 1 if ticks > 1 else 1):
        stamp = start + dt.timedelta(seconds=span * t / ticks)
        tx = label_w + 10 + plot_w * t / ticks
        anchor = "start" if t == 0 else ("end" if t == ticks else "middle")
        parts.append(f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="22" y2="{height - 6}" class="tick"/>')
        parts.append(
            f'<text x="{tx:.1f}" y="16" class="axis" text-anchor="{anchor}">{esc(stamp.date().isoformat())}</text>'
        )
    for i, claim in enumerate(rows):
        y = top + i * row_h + row_h / 2
        label = _short(claim["id"])
        parts.append(f'<line x1="{label_w + 10}" x2="{x_end}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(
            f'<text x="{label_w}" y="{y + 4:.1f}" text-anchor="end" class="label">{esc(label)}'
            f"<title>{esc(claim['title'])}</title></text>"
        )
        history = claim["history"]
        for change, following in zip(history, [*history[1:], None], strict=True):
            x2 = x(following["at"]) if following else x_end
            parts.append(
                f'<line x1="{x(change["at"]):.1f}" x2="{x2:.1f}" y1="{y:.1f}" y2="{y:.1f}" class="span"'
                f' stroke="{STATUS_COLOURS.get(change["to"], "#444")}"/>'
            )
        for change in history:
            colour = STATUS_COLOURS.get(change["to"], "#444")
            parts.append(
                f'<circle cx="{x(change["at"]):.1f}" cy="{y:.1f}" r="7" fill="{colour}"><title>'
                f"{esc(change['at'][:10])}: {esc(change['from'])} → {esc(change['to'])}. {esc(change['rationale'])}"
                "</title></circle>"
            )
    parts.append("</svg>")
    legend = "".join(f'<span><i style="background:{STATUS_COLOURS[str(s)]}"></i>{esc(s)}</span>' for s in STATUS_ORDER)
    return (
        f'<section id="timeline"><h2>Timeline of status changes</h2><div class="legend">{legend}</div>'
        f"{''.join(parts)}</section>"
    )


def _stance_chart(line_id: str, claim_ids: list[str], claims: dict[str, Any]) -> str:
    """Evidence per claim as stacked bars of stance counts, one bar per claim."""
    label_w, width, row_h, top = 300, 1000, 24, 8
    most = max([sum(claims[c]["stance_counts"].values()) for c in claim_ids] + [1])
    unit = min((width - label_w - 60) / most, 48.0)  # one paper is a block, not a full-width bar
    height = top + row_h * len(claim_ids) + 8
    parts = [
        f'<svg class="stances" viewBox="0 0 {width} {height}" role="img" data-line="{esc(line_id)}"'
        ' aria-label="Evidence per claim by stance">'
    ]
    for i, claim_id in enumerate(claim_ids):
        counts = claims[claim_id]["stance_counts"]
        y = top + i * row_h
        label = _short(claim_id)
        parts.append(f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end" class="label">{esc(label)}</text>')
        x = float(label_w)
        for stance in STANCE_ORDER:
            n = counts.get(str(stance), 0)
            if n:
                parts.append(
                    f'<rect x="{x:.1f}" y="{y + 3}" width="{unit * n:.1f}" height="{row_h - 6}"'
                    f' fill="{STANCE_COLOURS[str(stance)]}"><title>{n} {esc(stance)}</title></rect>'
                )
                x += unit * n
        total = sum(counts.values())
        parts.append(f'<text x="{x + 6:.1f}" y="{y + 15}" class="count">{total if total else "no evidence"}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _line(line: dict[str, Any], claims: dict[str, Any]) -> str:
    rows = []
    for claim_id in line["claims"]:
        c = claims[claim_id]
        changed = c["last_change"]["at"][:10] if c["last_change"] else "never"
        why = f'<div class="why">{esc(c["last_change"]["rationale"])}</div>' if c["last_change"] else ""
        rows.append(
            f'<tr data-claim="{esc(claim_id)}"><td><a href="#{_anchor(line["id"], claim_id)}">{esc(c["title"])}</a>'
            f'<div class="id">{esc(claim_id)}</div></td><td>{_badge(c["status"])}</td>'
            f'<td class="nowrap">{esc(c["claimed"] or "?")}</td>'
            f'<td><span class="nowrap">{esc(changed)}</span>{why}</td>'
            f'<td class="num">{len(c["evidence"])}</td><td class="num">{len(c["review"])}</td>'
            f'<td class="num">{len(c["pending"])}</td></tr>'
        )
    missing = "".join(f'<p class="missing">Listed but missing from the store: {esc(m)}</p>' for m in line["missing"])
    legend = "".join(f'<span><i style="background:{STANCE_COLOURS[str(s)]}"></i>{esc(s)}</span>' for s in STANCE_ORDER)
    chart = _stance_chart(line["id"], line["claims"], claims) if line["claims"] else ""
    details = "".join(_claim(claims[c], line["id"]) for c in line["claims"])
    return (
        f'<section class="line" id="line-{esc(line["id"])}"><h2>{esc(line["question"])}</h2>'
        f'<p class="framing">{esc(line["framing"])} <span class="id">line {esc(line["id"])}</span></p>'
        f'<table class="overview" data-line="{esc(line["id"])}"><thead><tr><th>Claim</th><th>Status</th>'
        "<th>Claimed</th><th>Last changed</th><th>Evidence</th><th>Review</th><th>Unjudged</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>{missing}"
        f'<h3>Evidence per claim</h3><div class="legend">{legend}</div>{chart}'
        f"<h3>Claims</h3>{details}</section>"
    )


def _claim(c: dict[str, Any], line_id: str) -> str:
    anchors = (
        "".join(
            f"<li>arXiv:{esc(a['arxiv'])} ({esc(a['date'] or 'undated')}) {esc(a['title'])}</li>" for a in c["anchors"]
        )
        or '<li class="warn">No anchor paper: not grounded in a paper yet.</li>'
    )
    change = c["last_change"]
    if change:
        scope = f" Still holds within: {esc(change['scope'])}." if change["scope"] else ""
        status_line = (
            f"<p>Last changed {esc(change['at'][:10])}, {_badge(change['from'])} → {_badge(change['to'])}"
            f" by {esc(change['by'])}: {esc(change['rationale'])}{scope}</p>"
        )
    else:
        status_line = "<p>Status never changed.</p>"
    checked = esc(c["last_checked"][:10]) if c["last_checked"] else "never"
    if c.get("replication_job"):
        status_line += f'<p class="warn">{esc(describe(c["replication_job"]))}</p>'
    evidence = "".join(_evidence(e) for e in c["evidence"]) or '<p class="none">No evidence yet.</p>'
    pending = ""
    if c["pending"]:
        items = "".join(
            f"<li>{esc(p['paper_id'] if ':' in p['paper_id'] else 'arXiv:' + p['paper_id'])}"
            f" ({esc(p['published'] or 'undated')}, score {p['score']:.3g}) {esc(p['title'])}"
            f"{' <span class=why>' + esc(p['why']) + '</span>' if p['why'] else ''}</li>"
            for p in c["pending"]
        )
        pending = f'<h4>Not yet judged ({len(c["pending"])})</h4><ul class="pending">{items}</ul>'
    return (
        f'<article class="claim" id="{_anchor(line_id, c["id"])}"><h4>{esc(c["title"])} {_badge(c["status"])}</h4>'
        f'<div class="id">{esc(c["id"])} · claimed {esc(c["claimed"] or "?")} · last checked {checked}</div>'
        f'<p class="statement">{esc(c["statement"])}</p><ul class="anchors">{anchors}</ul>{status_line}'
        f"{_contested(c)}{evidence}{_replications(c['replications'])}{_review(c['review'])}{_rulings(c['rulings'])}{pending}</article>"
    )


def _replications(records: list[dict[str, Any]]) -> str:
    """Finished replication jobs, one model or two: measurements beside the literature."""
    if not records:
        return ""
    rows = "".join(
        f'<li data-job="{esc(r["job"])}"><span class="nowrap">{esc(r["at"][:10])}</span> {esc(r["text"])}'
        f' <span class="id">job {esc(r["job"])}</span></li>'
        for r in records
    )
    return (
        f'<h4>Replications ({len(records)})</h4><p class="why">lm-eval probes; only a two-model comparison can'
        f' move the status.</p><ul class="pending replications">{rows}</ul>'
    )


def _rulings(items: list[dict[str, Any]]) -> str:
    """A person's rulings on the claim's papers, in force until lifted."""
    if not items:
        return ""
    rows = "".join(f"<li>{esc(r['line'])}</li>" for r in items)
    return f'<h4>Rulings ({len(items)})</h4><ul class="pending">{rows}</ul>'


def _contested(c: dict[str, Any]) -> str:
    """The balance that keeps the status in force though another outcome is nearly as probable."""
    if not c.get("contested"):
        return ""
    return f'<p class="contested"><b>Contested</b>, so the status stays: {esc(c["contested"])}</p>'


def _review(items: list[dict[str, Any]]) -> str:
    """Pairs whose two judgements disagree, waiting for a person (claimtrack review)."""
    if not items:
        return ""

    def said(j: dict[str, Any]) -> str:
        return f"{esc(j['stance'])} ({j['confidence']:.2f})" if "stance" in j else "failed"

    rows = "".join(
        f"<li>{esc(i['id'])}: {esc(i['paper'])} {esc(i['title'])}: judged {said(i['judge'])},"
        f" confirmation {said(i['confirm'])}</li>"
        for i in items
    )
    return f'<h4>Waiting for review ({len(items)})</h4><ul class="pending">{rows}</ul>'


def _evidence(e: dict[str, Any]) -> str:
    colour = STANCE_COLOURS.get(e["stance"], "#444")
    title = f' <span class="etitle">{esc(e["title"])}</span>' if e["title"] else ""
    origin = f" <cite>({esc(e['quote_origin'])})</cite>" if e["quote_origin"] else ""
    quote = f"<blockquote>{esc(e['quote'])}{origin}</blockquote>" if e["quote"] else ""
    numbers = f'<div class="numbers">{esc(e["numbers_text"])}</div>' if e["numbers_text"] else ""
    scope = f'<div class="scope">Scope: {esc(e["scope_note"])}</div>' if e["scope_note"] else ""
    why = f'<div class="why">{esc(e["rationale"])}</div>' if e["rationale"] else ""
    conf = f", confidence {e['confidence']:.2f}" if e["confidence"] is not None else ""
    return (
        f'<div class="evidence" style="border-left-color:{colour}">'
        f'<div><b style="color:{colour}">{esc(e["stance"])}</b>'
        f" {esc(e['source'])} ({esc(e['date_text'])}, {esc(e['kind'])}{conf}){title}</div>{quote}{numbers}{scope}{why}"
        f'<div class="by">judged by {esc(e["judged_by"])} on {esc(e["judged_at"][:10])}</div></div>'
    )


_CSS = """
:root{--ink:#1d2330;--muted:#5b6475;--line:#dfe3ea;--bg:#f6f7f9}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:1180px;margin:0 auto;padding:24px 28px 48px}
h1{margin:0;font-size:26px}h2{font-size:20px;margin:0 0 8px}h3{font-size:16px;margin:20px 0 6px;color:var(--muted)}
h4{font-size:15px;margin:0 0 4px}
header,section{background:#fff;border:1px solid var(--line);border-radius:10px;padding:18px 22px;margin:0 0 18px}
.sub{color:var(--muted);margin:2px 0 12px}
.cards{display:flex;flex-wrap:wrap;gap:10px}
.card{border:1px solid var(--line);border-radius:8px;padding:6px 14px;min-width:110px;color:var(--muted);font-size:13px}
.card .num{display:block;font-size:24px;font-weight:700;color:var(--ink)}
nav ul{margin:12px 0 0;padding-left:18px;columns:2;font-size:14px}
a{color:#245c9e;text-decoration:none}a:hover{text-decoration:underline}
table{width:100%;border-collapse:collapse;font-size:14px}
th{text-align:left;font-weight:600;color:var(--muted);border-bottom:2px solid var(--line);padding:6px 8px}
td{border-bottom:1px solid var(--line);padding:6px 8px;vertical-align:top}
td.num{text-align:right}table.overview td:first-child{width:44%}.nowrap{white-space:nowrap}
.date{white-space:nowrap;font-variant-numeric:tabular-nums}
.id{color:var(--muted);font:12px ui-monospace,SFMono-Regular,Menlo,monospace;word-break:break-all}
.badge{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;font-weight:600;color:#fff;
  white-space:nowrap}
.s-untested{background:#8a94a6}.s-holding{background:#2f8f5b}.s-relaxed{background:#d08a1e}.s-superseded{background:#c0392b}
.pin{font-size:11px;color:var(--muted);border:1px solid var(--line);border-radius:8px;padding:0 6px}
.why,.by,.ids,.scope{font-size:13px;color:var(--muted)}
.framing{color:var(--muted);margin-top:0}
.legend{display:flex;flex-wrap:wrap;gap:14px;font-size:13px;color:var(--muted);margin:4px 0}
.legend i{display:inline-block;width:11px;height:11px;border-radius:3px;margin-right:5px;vertical-align:-1px}
svg{width:100%;height:auto;display:block}
svg .label{font:13px ui-monospace,SFMono-Regular,Menlo,monospace;fill:#1d2330}
svg .axis,svg .count{font:12px system-ui,sans-serif;fill:#5b6475}
svg .grid{stroke:#e6e9ef;stroke-width:1}svg .tick{stroke:#eef0f4;stroke-width:1}
svg .span{stroke-width:5;stroke-opacity:.45;stroke-linecap:round}
.claim{border-top:1px solid var(--line);padding:12px 0}
.statement{margin:6px 0}
.anchors,.pending{margin:4px 0;padding-left:20px;font-size:14px}
.warn{color:#c0392b}
.evidence{border-left:4px solid #999;background:#fafbfc;padding:6px 12px;margin:8px 0;font-size:14px}
.etitle{font-style:italic}
blockquote{margin:4px 0;padding:0 0 0 10px;border-left:2px solid var(--line);color:#333}
.numbers{font:13px ui-monospace,SFMono-Regular,Menlo,monospace}
.none{color:var(--muted);font-size:14px}
footer{color:var(--muted);font-size:12px;text-align:center}
@media (max-width:760px){main{padding:10px}nav ul{columns:1}}
@media print{
 body{background:#fff;font-size:11pt}main{max-width:none;padding:0}
 header,section{border:none;padding:0;margin:0 0 14pt}
 section.line{break-before:page}
 .claim,.evidence,tr,svg{break-inside:avoid}
 a{color:inherit}
 .badge,.legend i,.evidence{-webkit-print-color-adjust:exact;print-color-adjust:exact}
}
"""
