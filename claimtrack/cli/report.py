"""Reports: research prompts, status reports and the changelog of status changes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from claimtrack.cli.common import print_json, store
from claimtrack.errors import InvalidArgument

FORMATS = ("md", "html", "json")

report_app = typer.Typer(no_args_is_help=True, help="Research prompts and status reports built from the store.")


def register(app: typer.Typer) -> None:
    app.add_typer(report_app, name="report")
    app.command(name="log")(log)


def _emit(text: str, out: Path | None) -> None:
    """Print, or replace `out` atomically (a crash never leaves half a report)."""
    if out is None:
        typer.echo(text, nl=not text.endswith("\n"))
        return
    from claimtrack.fileio import atomic_write

    if out.is_dir():
        raise InvalidArgument("--out", f"{out} is a folder; name a file")
    atomic_write(out, text)
    typer.echo(f"wrote {out}", err=True)


@report_app.command("prompt")
def prompt(
    ctx: typer.Context,
    line: Annotated[str | None, typer.Option("--line", help="One inquiring line's id (default: every line).")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the Markdown to FILE instead of stdout.")] = None,
) -> None:
    """Write a Markdown research prompt per line: dated claims, anchors, what was found, the re-test task."""
    from claimtrack.reports.common import pending_by_claim
    from claimtrack.reports.prompt import build_prompts
    from claimtrack.review import open_by_claim

    st = store(ctx)
    library = st.load()
    text = build_prompts(library, pending_by_claim(st.ws), line, open_by_claim(st.ws))
    _emit(text, out)


@report_app.command("status")
def status(
    ctx: typer.Context,
    since: Annotated[
        str | None,
        typer.Option(
            "--since", help="Start of 'changed since' (YYYY-MM-DD; default: 30 days before the newest change)."
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="md, html or json.")] = "md",
    out: Annotated[Path | None, typer.Option("--out", help="Write the report to FILE instead of stdout.")] = None,
) -> None:
    """Report each claim's status, why it last changed, its evidence and what waits for review."""
    import json

    from claimtrack.replication.board import open_by_claim as open_jobs
    from claimtrack.reports.common import judge_standing, parse_since, pending_by_claim, recent_runs
    from claimtrack.reports.status import build_status
    from claimtrack.review import open_by_claim

    if fmt not in FORMATS:
        raise InvalidArgument("--format", f"'{fmt}' is not one of {', '.join(FORMATS)}")
    start = parse_since(since) if since is not None else None
    st = store(ctx)
    report = build_status(
        st.load(),
        pending_by_claim(st.ws),
        start,
        open_by_claim(st.ws),
        recent_runs(st.ws),
        open_jobs(st.ws),
        judge_standing(st.ws),
    )
    if fmt == "json":
        text = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    elif fmt == "html":
        from claimtrack.reports.html import render_html

        text = render_html(report)
    else:
        from claimtrack.reports.markdown import render_markdown

        text = render_markdown(report)
    _emit(text, out)


def log(
    ctx: typer.Context,
    claim_id: Annotated[str | None, typer.Argument(metavar="[CLAIM_ID]", help="Only this claim's history.")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only changes on or after this date (YYYY-MM-DD).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list instead of text.")] = False,
) -> None:
    """Show status changes across claims, newest first, each with its evidence and rationale, and the anchor
    decisions people recorded with `claimtrack anchors set`."""
    from claimtrack.reports.changelog import log_entries, render_log
    from claimtrack.reports.common import parse_since

    start = parse_since(since) if since is not None else None
    entries = log_entries(store(ctx).load(), claim_id, start)
    if as_json:
        print_json(entries)
    else:
        typer.echo(render_log(entries))
