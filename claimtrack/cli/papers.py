"""`claimtrack papers import|search` and `claimtrack discover`: the literature side of the CLI."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from claimtrack.cli.common import print_json, table, workspace
from claimtrack.errors import UNCHECKED_EXIT

papers_app = typer.Typer(
    no_args_is_help=True, help="Papers in the ledger: import a snapshot, search them, embed them ahead of time."
)


@papers_app.command("import")
def import_(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(
            help="arXiv metadata snapshot as downloaded: JSON lines, gzipped or zipped (docs/discovery.md)."
        ),
    ],
    category: Annotated[
        list[str],
        typer.Option("--category", help="Keep papers in this category (prefix, e.g. cs.CL or cs.); repeatable."),
    ] = [],  # noqa: B006
    since: Annotated[
        str | None, typer.Option(help="Keep papers first published on or after this date (YYYY-MM-DD).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Import arXiv's metadata snapshot, streaming, with a progress bar; a paper already stored is updated only
    if it changed."""
    from claimtrack.cli.progress import counter
    from claimtrack.discovery.snapshot import import_snapshot
    from claimtrack.errors import InvalidArgument
    from claimtrack.ledger import Ledger

    since_date = None
    if since:
        try:
            since_date = dt.date.fromisoformat(since)
        except ValueError:
            raise InvalidArgument("--since", f"'{since}' is not a date (YYYY-MM-DD)") from None
    ws = workspace(ctx)
    size = file.stat().st_size if file.is_file() else 0
    with Ledger.open(ws) as ledger, counter(size, _reading_line(0, 0), counts=False) as show:
        summary = import_snapshot(
            ledger,
            file,
            categories=category,
            since=since_date,
            progress=lambda done, detail: show(done, _reading_line(done, detail)),
        )
    for number, problem in summary.bad:
        typer.echo(f"{file}:{number}: skipped: {problem}", err=True)
    if as_json:
        print_json(summary.as_dict())
    else:
        typer.echo(
            f"read {summary.lines} records: {summary.new} new, {summary.updated} updated, "
            f"{summary.unchanged} unchanged, {summary.filtered} filtered out, {len(summary.bad)} unreadable"
        )
    if summary.bad and summary.new + summary.updated + summary.unchanged == 0:
        raise typer.Exit(2)


@papers_app.command("search")
def search(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="What to look for (words, a claim, a question).")],
    k: Annotated[int, typer.Option("--k", min=1, help="How many papers to show.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print results as JSON.")] = False,
) -> None:
    """Hybrid search over every stored paper: FTS5 finds a pool, MiniLM re-scores it (embedding what it lacks)."""
    from claimtrack.config import load_settings
    from claimtrack.discovery.index import PaperIndex
    from claimtrack.ledger import Ledger
    from claimtrack.papers import get_paper

    ws = workspace(ctx)
    with Ledger.open(ws) as ledger:
        if ledger.conn.execute("SELECT 1 FROM papers LIMIT 1").fetchone() is None:
            typer.echo(
                "no papers stored yet: run `claimtrack papers import FILE` or `claimtrack discover CLAIM_ID`", err=True
            )
            raise typer.Exit(1)
        hits = PaperIndex(ws.state_dir, ledger, load_settings()).search(text, k).hits
        rows = []
        for rank, hit in enumerate(hits, start=1):
            paper = get_paper(ledger, hit.id)
            rows.append(
                {
                    "rank": rank,
                    "id": hit.id,
                    "score": round(hit.score, 4),
                    "title": paper.title if paper else "",
                    "published": paper.published if paper else None,
                    "terms": hit.terms,
                    "cosine": None if hit.cosine is None else round(hit.cosine, 3),
                }
            )
    if as_json:
        print_json(rows)
        return
    typer.echo(
        table(
            [[r["rank"], f"{r['score']:.4f}", r["published"] or "?", r["id"], _cut(r["title"], 70)] for r in rows],
            ["#", "score", "date", "paper", "title"],
        )
    )


@papers_app.command("index")
def index(
    ctx: typer.Context,
    batch: Annotated[int, typer.Option("--batch", min=1, help="Papers embedded and stored per step.")] = 256,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Embed every stored paper ahead of time (discover and search otherwise embed only what they rank).

    Resumable: each batch is kept as soon as it is embedded, so a run that is stopped or killed continues
    where it stopped, and papers already embedded with the same text are never embedded again."""
    from claimtrack.cli.progress import counter
    from claimtrack.config import load_settings
    from claimtrack.discovery.index import PaperIndex
    from claimtrack.ledger import Ledger

    ws = workspace(ctx)
    with Ledger.open(ws) as ledger:
        total = ledger.conn.execute("SELECT COUNT(*) FROM papers").fetchone()[0]
        paper_index = PaperIndex(ws.state_dir, ledger, load_settings())
        line = _embedding_line(total)
        with counter(total, line(0, 0)) as show:
            embedded = paper_index.sync(batch=batch, progress=lambda done, detail: show(done, line(done, detail)))
        stored = paper_index.collection.count()
    if as_json:
        print_json({"papers": total, "embedded": embedded, "in_index": stored})
    else:
        typer.echo(f"{total} papers: {embedded} embedded now, {stored} in the index")


def discover_command(
    ctx: typer.Context,
    claim_id: Annotated[str, typer.Argument(help="The claim to find newer work for.")],
    k: Annotated[int, typer.Option("--k", min=1, help="How many ranked candidates to keep.")] = 20,
    offline: Annotated[bool, typer.Option("--offline", help="Query no source; rank what is already stored.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Fetch newer papers for a claim (arXiv, citing papers, snapshot), rank them, record the top k. No judging.

    Exit 0 when every source answered, 1 when some failed (the others' papers are ranked and saved), 3 when
    every source failed (only papers stored before are ranked); --json lists the failures in each case."""
    from dataclasses import asdict

    from claimtrack.cli.common import store
    from claimtrack.config import load_settings
    from claimtrack.discovery.discover import discover
    from claimtrack.ledger import Ledger

    claim = store(ctx).load().claim(claim_id)
    ws = workspace(ctx)
    with Ledger.open(ws) as ledger:
        result = discover(ws, ledger, claim, settings=load_settings(), offline=offline, k=k)
    from claimtrack.agent.summary import what_to_do

    for failure in result.failures:
        typer.echo(f"{failure.source}: {failure.message}", err=True)
    for note in result.notes:
        typer.echo(f"note: {note}", err=True)
    advice = what_to_do(
        ((f.source, f.message) for f in result.failures), offline=f"claimtrack discover {claim.id} --offline"
    )
    if advice:
        typer.echo(advice, err=True)
    code = 0 if offline or not result.failures else UNCHECKED_EXIT if result.nothing_reached else 1
    if as_json:
        data = asdict(result)
        for candidate, original in zip(data["candidates"], result.candidates, strict=True):
            candidate["paper"] = original.paper.model_dump(mode="json")
        print_json(data)
        raise typer.Exit(code)
    fetched = ", ".join(f"{s} {n}" for s, n in result.fetched.items()) or "nothing fetched"
    typer.echo(f"{claim.id}: {fetched}; {result.new_papers} new papers; {len(result.candidates)} candidates")
    if result.candidates:
        typer.echo(
            table(
                [
                    [
                        c.rank,
                        f"{c.score:.4f}",
                        c.paper.published or "?",
                        ",".join(c.sources),
                        c.paper.id,
                        _cut(c.paper.title, 60),
                        c.why,
                    ]
                    for c in result.candidates
                ],
                ["#", "score", "date", "source", "paper", "title", "why"],
            )
        )
    if code:
        raise typer.Exit(code)


def _embedding_line(total: int) -> Callable[[int, int], str]:
    return lambda checked, embedded: f"checked {checked}/{total} papers, embedded {embedded}"


def _reading_line(read: int, total: int) -> str:
    return f"importing: read {read / 1e6:,.0f} of {total / 1e6:,.0f} MB"


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def register(app: typer.Typer) -> None:
    app.add_typer(papers_app, name="papers")
    app.command("discover")(discover_command)
