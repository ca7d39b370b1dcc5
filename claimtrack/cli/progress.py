"""Progress on stderr: a bar on a terminal, plain lines otherwise (logs, cron, CI), none with -q. A run's is over
its claims; claims and pairs run concurrently, so each line also says how many pairs are judged of those planned
and how many LLM calls are in flight. `counter` is the plain count of other long commands (papers import and
index, judge qualify)."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator

import typer

from claimtrack.agent.progress import Progress, Status
from claimtrack.agent.summary import RunSummary, failure_cause
from claimtrack.cli import logs


@contextlib.contextmanager
def reporter() -> Iterator[Progress]:
    if logs.quiet():
        yield lambda status: None
        return
    if not sys.stderr.isatty():
        seen: set[str] = set()

        def plain(status: Status) -> None:
            step = status.step
            if (
                step in ("discovering", "done")
                or step.startswith(("replicating", "judging"))
                or status.claim_id not in seen
            ):
                typer.echo(f"[{status.number}/{status.total}] {status.claim_id}: {step} ({_counts(status)})", err=True)
            seen.add(status.claim_id)

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

        def fancy(status: Status) -> None:
            nonlocal task
            if task is None:
                task = bar.add_task("", total=status.total)
            described = f"{status.claim_id}: {status.step} ({_counts(status)})"
            bar.update(task, completed=status.claims_done, description=described)

        yield fancy


@contextlib.contextmanager
def counter(
    total: int, first: str, *, counts: bool = True, estimate: bool = True
) -> Iterator[Callable[[int, str], None]]:
    """show(done, text) on stderr: on a terminal, a bar described by the text, with done/total when `counts` (else
    a percentage) and the time left when `estimate` (else the time taken: the text tells its own estimate);
    otherwise the text at first, then at most every 10 s, and at the end; nothing with -q."""
    if logs.quiet():
        yield lambda done, text: None
        return
    if not sys.stderr.isatty():
        shown = {"at": 0.0, "line": ""}

        def plain(done: int, text: str) -> None:
            due = time.monotonic() - shown["at"] >= 10
            if text != shown["line"] and (due or done == total):
                typer.echo(text, err=True)
                shown.update(at=time.monotonic(), line=text)

        yield plain
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    amount = MofNCompleteColumn() if counts else TaskProgressColumn()
    time_column = TimeRemainingColumn() if estimate else TimeElapsedColumn()
    with Progress(
        TextColumn("{task.description}"), BarColumn(), amount, time_column, console=Console(stderr=True)
    ) as bar:
        task = bar.add_task(first, total=total)
        yield lambda done, text: bar.update(task, completed=done, description=text)


def _counts(status: Status) -> str:
    return f"pairs judged {status.pairs_judged}/{status.pairs_planned}, {status.calls_in_flight} LLM calls in flight"


def summary_text(summary: RunSummary, *, judging: bool) -> str:
    """The end-of-run summary a person reads: totals, every status change, then failures grouped by source and
    cause (one line each, with the claims they hit) and notes."""
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
        steps = (
            f" ({totals['pairs_set_aside']} set aside at first look, {totals['pairs_read_in_full']} read in full text)"
            if summary.fulltext
            else " (titles and abstracts only)"
        )
        out.append(
            f"judge: {summary.llm}: {totals['pairs_judged']} pairs judged{steps}, {totals['pairs_cached']} from"
            f" cache, {totals['judge_errors']} judge errors; {totals['pairs_confirmed']} confirmed,"
            f" {totals['pairs_to_review']} waiting for review (`claimtrack review`)"
        )
        if summary.judge_standing:
            out.append(summary.judge_standing)
        failed = f" ({totals['llm_failed_calls']} failed)" if totals["llm_failed_calls"] else ""
        share = f" ({totals['confirm_share']:.0%} of the rest)" if totals["confirm_share"] is not None else ""
        out.append(
            f"LLM {totals['llm_calls']} calls{failed}, {totals['llm_tokens_in']} tokens in,"
            f" {totals['llm_tokens_out']} out, {totals['llm_seconds']:.1f} s;"
            f" confirmation cost {totals['confirm_tokens']} tokens{share}"
        )
        if totals["tokens_per_pair"] is not None:
            out.append(
                f"judge tokens per pair judged: {totals['tokens_per_pair']}"
                f" ({totals['tokens_per_pair_with_confirmation']} with confirmation)"
            )
    if summary.offline:
        out.append("offline: discovery used the ledger and imported snapshots only")
    jobs = summary.replication_jobs
    if summary.collected or any(jobs.values()):
        out.append(
            f"replication: {len(summary.collected)} jobs collected; {jobs.get('pending', 0)} claims wait on a pending"
            f" job, {jobs.get('failed', 0)} on a failed one (`claimtrack replicate --jobs`)"
        )
    out.append(f"status changes: {totals['status_changes']}")
    for claim in summary.changes:
        change = claim.change or {}
        scope = f" [scope: {change['scope']}]" if change.get("scope") else ""
        out.append(f"  {claim.claim_id}: {change['from']} -> {change['to']}{scope}")
        out.append(f"    because {change['rationale']}")
    contested = [c for c in summary.claims if c.contested]
    if contested:
        out.append(f"contested (status kept, the evidence nearly as probable for another outcome): {len(contested)}")
        out += [f"  {c.claim_id}: {c.contested}" for c in contested]
    for group in summary.failure_groups():
        out.append(f"  FAILED {group['source']}: {group['cause']} ({_claims(group['claims'])})")
    notes: dict[str, list[str]] = {}
    for claim in summary.claims:
        for note in claim.notes:
            notes.setdefault(failure_cause(note), []).append(claim.claim_id)
    for note, hit in notes.items():
        out.append(f"  note: {note} ({_claims(list(dict.fromkeys(hit)))})")
    advice = summary.what_to_do()
    if advice:
        out.append(advice)
    return "\n".join(out)


def _claims(ids: list[str]) -> str:
    named = ", ".join(ids[:3]) + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")
    return f"{len(ids)} claims: {named}" if len(ids) > 1 else named
