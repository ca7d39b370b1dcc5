"""Commands that read and edit the claim store."""

from __future__ import annotations

import datetime as dt
import getpass
from pathlib import Path
from typing import Annotated

import typer

from claimtrack.cli.common import print_json, store, table, workspace
from claimtrack.errors import InvalidArgument
from claimtrack.models import Status


def register(app: typer.Typer) -> None:
    for command in (status, show, lines, verdict, validate, import_line, init):
        app.command(name=command.__name__.replace("_", "-"))(command)


def status(
    ctx: typer.Context,
    line: Annotated[str | None, typer.Option(help="Only claims in this inquiring line.")] = None,
    status: Annotated[Status | None, typer.Option("--status", help="Only claims with this status.")] = None,
    due: Annotated[bool, typer.Option("--due", help="Only claims whose review cadence has passed.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list instead of a table.")] = False,
) -> None:
    """List claims with their status, year, anchor and last check."""
    from claimtrack.replication.board import describe, open_by_claim
    from claimtrack.views import status_cells, status_row

    st = store(ctx)
    library = st.load()
    now = dt.datetime.now(dt.UTC)
    claims = list(library.claims.values())
    if line is not None:
        wanted = library.line(line).claims
        claims = [library.claims[c] for c in wanted if c in library.claims]
    if status is not None:
        claims = [c for c in claims if c.status == status]
    if due:
        claims = [c for c in claims if c.is_due(now)]
    jobs = open_by_claim(st.ws)
    if as_json:
        print_json([status_row(c, library, now) | {"replication_job": jobs.get(c.id)} for c in claims])
        return
    if not claims:
        typer.echo("no claims match")
        return
    typer.echo(
        table([status_cells(c) for c in claims], ["ID", "STATUS", "YEAR", "ANCHOR", "LAST CHECKED", "REPLICATED"])
    )
    for claim in claims:
        if claim.id in jobs:
            typer.echo(f"{claim.id}: {describe(jobs[claim.id])}")


def show(
    ctx: typer.Context,
    claim_id: Annotated[str, typer.Argument(metavar="ID", help="The claim's id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the claim as JSON.")] = False,
) -> None:
    """Print one claim whole: statement, scope, anchors, numbers, evidence, status history."""
    from claimtrack.replication.board import describe, open_by_claim
    from claimtrack.views import claim_json, claim_text

    st = store(ctx)
    library = st.load()
    claim = library.claim(claim_id)
    job = open_by_claim(st.ws).get(claim.id)
    if as_json:
        print_json(claim_json(claim, library) | {"replication_job": job})
    else:
        typer.echo(claim_text(claim, library))
        if job:
            typer.echo(describe(job))


def lines(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list instead of text.")] = False,
) -> None:
    """List the inquiring lines with their claims, in order."""
    library = store(ctx).load()
    if as_json:
        print_json(
            [
                {"id": ln.id, "question": ln.question, "framing": ln.framing, "claims": ln.claims}
                for ln in library.lines.values()
            ]
        )
        return
    for ln in library.lines.values():
        typer.echo(f"{ln.id}: {ln.question}")
        for claim_id in ln.claims:
            claim = library.claims.get(claim_id)
            typer.echo(f"  {claim.status if claim else 'missing':<10}  {claim_id}")
        typer.echo("")


def verdict(
    ctx: typer.Context,
    claim_id: Annotated[str, typer.Argument(metavar="ID", help="The claim's id.")],
    because: Annotated[str, typer.Option("--because", help="Why: the rationale recorded in the history.")],
    status: Annotated[Status | None, typer.Option("--status", help="holding, relaxed or superseded.")] = None,
    lift: Annotated[
        str | None,
        typer.Option("--lift", metavar="PAPER", help="Lift a person's ruling on this paper (arXiv:ID, doi:...)."),
    ] = None,
    evidence: Annotated[
        list[str] | None, typer.Option("--evidence", help="arXiv:ID of a paper behind the verdict (repeatable).")
    ] = None,
    scope: Annotated[str | None, typer.Option(help="For relaxed: where the claim still holds.")] = None,
    by: Annotated[str | None, typer.Option(help="Who decides (default: the login name).")] = None,
) -> None:
    """Record a person's verdict: a dated status change that overrules the papers it was made against until a
    person lifts the ruling; or, with --lift PAPER, lift a ruling (a verdict's, or a review's accept or reject)."""
    from claimtrack.verdict import record_verdict

    if (status is None) == (lift is None):
        raise InvalidArgument("--status", "give --status for a verdict, or --lift PAPER to lift a ruling (not both)")
    if lift is not None:
        from claimtrack.config import load_settings
        from claimtrack.review import lift as lift_ruling

        settings = load_settings()
        claim, lifted, moved = lift_ruling(
            workspace(ctx),
            claim_id,
            lift,
            by=by or getpass.getuser(),
            because=because,
            threshold=settings.judge_threshold,
            margin=settings.status_margin,
        )
        typer.echo(f"{claim.id}: lifted the ruling ({lifted.lifted}) on {lifted.source}")
        typer.echo(f"  {moved.from_} -> {moved.to}: {moved.rationale}" if moved else f"  status stays {claim.status}")
        return
    assert status is not None
    claim = record_verdict(
        store(ctx), claim_id, status, because, by=by or getpass.getuser(), evidence=evidence or [], scope=scope
    )
    change = claim.latest_change
    assert change is not None  # record_verdict just recorded it
    typer.echo(f"{claim.id}: {change.from_} -> {change.to} (pinned: the papers it overrules stay out until lifted)")


def validate(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print problems as a JSON list.")] = False,
) -> None:
    """Check the whole store; print each problem as `file: field: message` (exit 2 if any)."""
    from claimtrack.validate import validate_store

    library, problems = validate_store(store(ctx))
    if as_json:
        print_json([{"file": p.file, "field": p.field, "message": p.message} for p in problems])
    else:
        for problem in problems:
            typer.echo(str(problem))
        if not problems:
            typer.echo(f"ok: {len(library.claims)} claims, {len(library.lines)} lines")
    if problems:
        raise typer.Exit(2)


def import_line(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="An inquiring-line document in the seed library's text format.")],
    line_id: Annotated[
        str | None, typer.Option("--id", help="Id for the line (default: a slug of its question).")
    ] = None,
    anchors: Annotated[
        Path | None,
        typer.Option(help="Anchor sheet (YAML list: id, title, year, anchor) to give notes their ids and papers."),
    ] = None,
    offline: Annotated[
        bool, typer.Option("--offline", help="Ask arXiv nothing; anchors that need it are listed as left to resolve.")
    ] = False,
) -> None:
    """Add an inquiring line and its notes to the store, merging notes that are already there, and link each
    note to its paper (the research prompt's anchors, else an arXiv search): `confidence: resolved`."""
    from claimtrack.config import load_settings
    from claimtrack.importer import import_line as run_import

    report = run_import(
        store(ctx), file, line_id=line_id, sheet_path=anchors, settings=load_settings(), offline=offline
    )
    typer.echo(f"line {report.line_id}: {len(report.created)} new claims, {len(report.merged)} merged")
    for claim_id in report.created:
        typer.echo(f"  + {claim_id}")
    for claim_id in report.merged:
        typer.echo(f"  = {claim_id}")
    for linked in report.linked:
        typer.echo(f"anchor {linked}")
    for pending in report.pending:
        typer.echo(f"to resolve {pending}")
    if report.pending:
        typer.echo("then run `claimtrack anchors resolve` for what is left, or `claimtrack anchors set` to decide")
    for warning in report.warnings:
        typer.echo(f"warning: {warning}", err=True)


def init(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="Folder to make into a workspace.")],
) -> None:
    """Make a new, empty workspace (claims/, prompts and probes) for an installed claimtrack."""
    from claimtrack.workspace import init_workspace

    ws = init_workspace(directory)
    typer.echo(f"workspace ready at {ws.root}; add lines with `claimtrack -w {ws.root} import-line FILE`")
