"""Run progress on stderr: a bar per claim on a terminal, plain lines otherwise (logs, cron, CI), none with -q."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

import typer

from claimtrack.agent.run import Progress, RunSummary
from claimtrack.cli import logs


@contextlib.contextmanager
def reporter() -> Iterator[Progress]:
    if logs.quiet():
        yield lambda number, total, claim_id, step: None
        return
    if not sys.stderr.isatty():
        last: dict[str, str] = {}

        def plain(number: int, total: int, claim_id: str, step: str) -> None:
            if step in ("discovering", "done") or step.startswith("replicating") or last.get(claim_id) is None:
                typer.echo(f"[{number}/{total}] {claim_id}: {step}", err=True)
            last[claim_id] = step

        yield plain
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as Bar

    with Bar(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    ) as bar:
        task = None

        def fancy(number: int, total: int, claim_id: str, step: str) -> None:
            nonlocal task
            if task is None:
                task = bar.add_task("", total=total)
            bar.update(task, completed=number - (step != "done"), description=f"{claim_id}: {step}")

        yield fancy


def summary_text(summary: RunSummary, *, judging: bool) -> str:
    """The end-of-run summary a person reads: totals, then every status change and every failure."""
    totals = summary.as_dict()["totals"]
    claims = totals["claims"]
    out = [f"run {summary.run_id}: {claims} claim{'' if claims == 1 else 's'} checked, {totals['failed']} failed"]
    out.append(f"papers: {totals['papers_found']} candidates ({totals['new_papers']} new to the ledger)")
    if summary.llm is None:
        reason = (
            "judging turned off (--no-judge)"
            if not judging
            else "no LLM configured (set OPENAI_API_KEY or OPENAI_BASE_URL)"
        )
        out.append(
            f"judge: {reason}; {totals['unjudged']} candidates stored unjudged, no status changes from literature"
        )
    else:
        out.append(
            f"judge: {summary.llm}: {totals['pairs_judged']} pairs judged, {totals['pairs_cached']} from cache,"
            f" {totals['judge_errors']} judge errors; LLM {totals['llm_calls']} calls,"
            f" {totals['llm_tokens_in']} tokens in, {totals['llm_tokens_out']} out"
        )
    if summary.offline:
        out.append("offline: discovery used the ledger and imported snapshots only")
    out.append(f"status changes: {totals['status_changes']}")
    for claim in summary.changes:
        change = claim.change or {}
        scope = f" [scope: {change['scope']}]" if change.get("scope") else ""
        out.append(f"  {claim.claim_id}: {change['from']} -> {change['to']}{scope}")
        out.append(f"    because {change['rationale']}")
    for claim in summary.failed:
        for failure in claim.failures:
            out.append(f"  FAILED {claim.claim_id}: {failure}")
    for claim in summary.claims:
        for note in claim.notes:
            out.append(f"  note {claim.claim_id}: {note}")
    return "\n".join(out)
