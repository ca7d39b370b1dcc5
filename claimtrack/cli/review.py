"""`claimtrack review`: the pairs whose two judgements disagreed, and a person's accept or reject of each."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer

from claimtrack.cli.common import print_json, workspace
from claimtrack.errors import InvalidArgument

ACTIONS = ("accept", "reject")


WHY = {
    "disagree": "its judgements disagree",
    "uncertain": "the judge's measurement leaves it uncertain",
    "unqualified": "the judge is not qualified (`claimtrack judge qualify`)",
}


def register(app: typer.Typer) -> None:
    app.command(name="review")(review)


def review(
    ctx: typer.Context,
    target: Annotated[
        str | None,
        typer.Argument(metavar="[CLAIM_ID | accept ITEM | reject ITEM]", help="A claim to list, or a decision."),
    ] = None,
    item: Annotated[str | None, typer.Argument(metavar="[ITEM]", help="The review item (rv-...) to decide.")] = None,
    because: Annotated[str | None, typer.Option("--because", help="Why: recorded in the claim's history.")] = None,
    by: Annotated[str | None, typer.Option(help="Who decides (default: the login name).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the review queue (pairs whose two judgements disagreed), or decide an item.

    `review [CLAIM_ID]` lists open items: the claim, the paper, both stances, quotes and confidences.
    `review accept ITEM` counts the first judgement as confirmed and re-decides the claim at once;
    `review reject ITEM` rules the paper out for the claim. Both are rulings on the (claim, paper) pair that
    hold through any re-judgement until lifted (`verdict ID --lift PAPER`); the listing shows those in force.
    """
    from claimtrack.config import load_settings
    from claimtrack.models import quote_origin
    from claimtrack.review import decide_item, queue
    from claimtrack.rulings import rulings
    from claimtrack.store import Store

    ws = workspace(ctx)
    settings = load_settings()
    if target in ACTIONS:
        if item is None:
            raise InvalidArgument("ITEM", f"name the review item to {target} (see `claimtrack review`)")
        decided = decide_item(
            ws,
            item,
            "accept" if target == "accept" else "reject",
            by=by or getpass.getuser(),
            because=because,
            threshold=settings.judge_threshold,
            margin=settings.status_margin,
        )
        change = decided.change
        if as_json:
            print_json(
                {
                    "item": item,
                    "decision": target,
                    "claim": decided.claim.id,
                    "status": str(decided.claim.status),
                    "change": change.model_dump(mode="json", by_alias=True) if change else None,
                }
            )
            return
        moved = f": {change.from_} -> {change.to}" if change else f"; status stays {decided.claim.status}"
        typer.echo(f"{item} {target}ed for {decided.claim.id}{moved}")
        if change:
            typer.echo(f"  because {change.rationale}")
        return
    if item is not None:
        raise InvalidArgument("ITEM", f"'{target}' is not accept or reject")
    if target is not None:
        Store(ws).load().claim(target)  # an unknown claim id is bad input, with the nearest ids
    waiting = queue(ws, target)
    library = Store(ws).read()
    claims = [library.claim(target)] if target is not None else list(library.claims.values())
    ruled = [(c.id, r) for c in claims for r in rulings(c).values()]
    if as_json:
        print_json([entry.as_dict() for entry in waiting])
        return
    if ruled:
        typer.echo("rulings in force (lift one with `claimtrack verdict ID --lift PAPER --because ...`):")
        for claim_id, ruling in ruled:
            typer.echo(f"  {claim_id}  {ruling.line()}")
    if not waiting:
        typer.echo("nothing waits for review")
        return
    for entry in waiting:
        typer.echo(f"{entry.id}  {entry.claim_id}  {entry.source}  {entry.paper.title}")
        if entry.reason in WHY:
            measured = ""
            if entry.probability:
                ranked = sorted(entry.probability.items(), key=lambda kv: -kv[1])[:3]
                measured = " (measured: " + ", ".join(f"{k} {v:.2f}" for k, v in ranked) + ")"
            typer.echo(f"    waits: {WHY[entry.reason]}{measured}")
        for role, judgement in (("judge", entry.judge), ("confirm", entry.confirm)):
            if "error" in judgement:
                typer.echo(f"    {role:<8}judge-error: {judgement['error']}  ({judgement['by']})")
                continue
            origin = quote_origin(judgement.get("quote_source"), judgement.get("quote_section"))
            quote = f'  "{" ".join((judgement["quote"] or "").split())}"' if judgement["quote"] else ""
            quote += f" ({origin})" if quote and origin else ""
            typer.echo(f"    {role:<8}{judgement['stance']} {judgement['confidence']:.2f}{quote}  ({judgement['by']})")
    decide = "`claimtrack review accept ITEM` or `claimtrack review reject ITEM`"
    typer.echo(f"{len(waiting)} waiting; decide with {decide}")
