"""`claimtrack papers import|search` and `claimtrack discover`: the literature side of the CLI."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from claimtrack.cli.common import print_json, table, workspace

papers_app = typer.Typer(no_args_is_help=True, help="Papers in the ledger: import a snapshot, search the index.")


@papers_app.command("import")
def import_(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="arXiv metadata snapshot: JSON lines (.jsonl or .jsonl.gz).")],
    category: Annotated[
        list[str],
        typer.Option("--category", help="Keep papers in this category (prefix, e.g. cs.CL or cs.); repeatable."),
    ] = [],  # noqa: B006
    since: Annotated[
        str | None, typer.Option(help="Keep papers first published on or after this date (YYYY-MM-DD).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Import arXiv's metadata snapshot, streaming; re-importing the same file adds nothing twice."""
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
    with Ledger.open(ws) as ledger:
        summary = import_snapshot(ledger, file, categories=category, since=since_date)
    for number, problem in summary.bad:
        typer.echo(f"{file}:{number}: skipped: {problem}", err=True)
    if as_json:
        print_json(summary.as_dict())
    else:
        typer.echo(
            f"read {summary.lines} records: {summary.new} new, {summary.updated} already known, "
            f"{summary.filtered} filtered out, {len(summary.bad)} unreadable"
        )
    if summary.bad and summary.new + summary.updated == 0:
        raise typer.Exit(2)


@papers_app.command("search")
def search(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="What to look for (words, a claim, a question).")],
    k: Annotated[int, typer.Option("--k", min=1, help="How many papers to show.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print results as JSON.")] = False,
) -> None:
    """Hybrid (BM25 + MiniLM) search over every stored paper; embeds papers not yet indexed first."""
    from claimtrack.config import load_settings
    from claimtrack.discovery.index import PaperIndex
    from claimtrack.ledger import Ledger
    from claimtrack.papers import get_paper

    ws = workspace(ctx)
    with Ledger.open(ws) as ledger:
        index = PaperIndex(ws.state_dir, ledger, load_settings())
        if len(index.bm25()) == 0:
            typer.echo(
                "no papers stored yet: run `claimtrack papers import FILE` or `claimtrack discover CLAIM_ID`", err=True
            )
            raise typer.Exit(1)
        index.sync(progress=lambda n: typer.echo(f"indexed {n} papers", err=True) if n % 1024 == 0 else None)
        hits = index.search(text, k)
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


def discover_command(
    ctx: typer.Context,
    claim_id: Annotated[str, typer.Argument(help="The claim to find newer work for.")],
    k: Annotated[int, typer.Option("--k", min=1, help="How many ranked candidates to keep.")] = 20,
    offline: Annotated[bool, typer.Option("--offline", help="Query no source; rank what is already stored.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Fetch newer papers for a claim (arXiv, citing papers, snapshot), rank them, record the top k. No judging."""
    from dataclasses import asdict

    from claimtrack.cli.common import store
    from claimtrack.config import load_settings
    from claimtrack.discovery.discover import discover
    from claimtrack.ledger import Ledger

    claim = store(ctx).load().claim(claim_id)
    ws = workspace(ctx)
    with Ledger.open(ws) as ledger:
        result = discover(ws, ledger, claim, settings=load_settings(), offline=offline, k=k)
    for failure in result.failures:
        typer.echo(f"{failure.source}: {failure.message}", err=True)
    for note in result.notes:
        typer.echo(f"note: {note}", err=True)
    if as_json:
        data = asdict(result)
        for candidate, original in zip(data["candidates"], result.candidates, strict=True):
            candidate["paper"] = original.paper.model_dump(mode="json")
        print_json(data)
        return
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


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def register(app: typer.Typer) -> None:
    app.add_typer(papers_app, name="papers")
    app.command("discover")(discover_command)
