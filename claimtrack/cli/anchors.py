"""`claimtrack anchors`: link claims to their arXiv papers, check the links, and record a person's decisions."""

from __future__ import annotations

import contextlib
import getpass
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated

import typer

from claimtrack.cli.common import print_json, store
from claimtrack.errors import UNCHECKED_EXIT, InvalidArgument

if TYPE_CHECKING:
    from claimtrack.anchors.arxiv import ArxivLookup
    from claimtrack.config import Settings
    from claimtrack.store import Store

anchors_app = typer.Typer(
    no_args_is_help=True, help="Link claims to their arXiv papers, check the links against arXiv, confirm them."
)
PERSONS = ("verified", "likely", "uncertain")
ClaimIds = Annotated[
    list[str] | None, typer.Argument(metavar="[CLAIM_ID]...", help="Claims to work on (default: every claim).")
]


def register(app: typer.Typer) -> None:
    app.add_typer(anchors_app, name="anchors")


@contextlib.contextmanager
def _arxiv(st: Store, settings: Settings) -> Iterator[ArxivLookup]:
    from claimtrack.anchors.arxiv import ArxivLookup
    from claimtrack.ledger import Ledger

    with Ledger.open(st.ws) as ledger, ArxivLookup(ledger, settings) as lookup:
        yield lookup


@anchors_app.command("resolve")
def resolve(ctx: typer.Context, claim_ids: ClaimIds = None) -> None:
    """Link claims that have no anchor (their line's research-prompt anchors, else an arXiv search above the
    match threshold) and fill in anchors whose arXiv metadata is missing. Links are `confidence: resolved`.
    Exit 3 when arXiv could not be reached (what is left is listed)."""
    from claimtrack.anchors.resolve import Linker, resolve_claims
    from claimtrack.config import load_settings

    st, settings = store(ctx), load_settings()
    st.load()  # a broken store or an unknown id is refused before arXiv is asked
    with contextlib.ExitStack() as stack:
        linker = Linker(settings, lambda: stack.enter_context(_arxiv(st, settings)))
        lines = resolve_claims(st, claim_ids or [], linker)
    for line in lines:
        typer.echo(line)
    if not lines:
        typer.echo("nothing to resolve: every claim has an anchor with its metadata")
    if linker.offline:
        raise typer.Exit(UNCHECKED_EXIT)


@anchors_app.command("verify")
def verify(
    ctx: typer.Context,
    claim_ids: ClaimIds = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as a JSON list.")] = False,
    no_fulltext: Annotated[
        bool, typer.Option("--no-fulltext", help="Look figures up in abstracts only; fetch no full text.")
    ] = False,
) -> None:
    """Check every anchor against arXiv: the id exists and is not withdrawn; title, first author (a person's
    name) and date agree; each figure in `numbers` is in the paper's abstract, or else in its full text.
    Prints `file: field: message` per drift (and per figure marked unconfirmed, and per anchor not checked);
    exit 0 when no drift, 1 when any, 3 when arXiv could not be asked (nothing was checked)."""
    from claimtrack.anchors.arxiv import ArxivLookup
    from claimtrack.anchors.verify import DRIFT, UNCHECKED, fulltext_of, verify_claims
    from claimtrack.config import load_settings
    from claimtrack.fulltext import Reader
    from claimtrack.ledger import Ledger

    st, settings = store(ctx), load_settings()
    library = st.load()
    for claim_id in claim_ids or []:
        library.claim(claim_id)  # unknown ids: exit 2 before arXiv is asked
    with Ledger.open(st.ws) as ledger, ArxivLookup(ledger, settings) as lookup, Reader(ledger, settings) as reader:
        fuller = None if no_fulltext else fulltext_of(reader)
        checked, findings = verify_claims(st, claim_ids or [], lookup, fuller=fuller)
    drift = [f for f in findings if f.kind == DRIFT]
    unchecked = [f for f in findings if f.kind == UNCHECKED]
    if as_json:
        print_json([f.as_json() for f in findings])
    else:
        for finding in findings:
            typer.echo(finding.line())
        unconfirmed = len(findings) - len(drift) - len(unchecked)
        typer.echo(
            f"{checked} anchors checked: {len(drift)} drift, {unconfirmed} figures marked unconfirmed"
            + (f", {len(unchecked)} anchors not checked" if unchecked else ""),
            err=True,
        )
    if drift:
        raise typer.Exit(1)
    if unchecked:
        raise typer.Exit(UNCHECKED_EXIT)


@anchors_app.command("set")
def set_(
    ctx: typer.Context,
    claim_id: Annotated[str, typer.Argument(metavar="CLAIM_ID", help="The claim's id.")],
    arxiv: Annotated[str, typer.Option("--arxiv", help="The paper: 2505.13775, or 2505.13775v2 for one version.")],
    confidence: Annotated[
        str, typer.Option(help="verified (id, title and date seen, the paper carries the claim), likely or uncertain.")
    ] = "verified",
    because: Annotated[str | None, typer.Option("--because", help="Why; recorded in the claim's history.")] = None,
    by: Annotated[str | None, typer.Option(help="Who decides (default: the login name).")] = None,
) -> None:
    """Link a claim to its paper, or confirm or correct its anchor: the metadata comes from arXiv, the anchor
    takes your confidence, and the decision is dated in the claim's history."""
    from claimtrack.anchors.decision import set_anchor
    from claimtrack.anchors.resolve import MAX_CATEGORIES, anchor_from
    from claimtrack.config import load_settings
    from claimtrack.ids import parse_arxiv_id
    from claimtrack.models import AnchorConfidence

    if confidence not in PERSONS:
        raise InvalidArgument("--confidence", f"'{confidence}' is not one of {', '.join(PERSONS)}")
    try:
        paper, version = parse_arxiv_id(arxiv)
    except ValueError as exc:
        raise InvalidArgument("--arxiv", str(exc)) from None
    st, settings = store(ctx), load_settings()
    st.load().claim(claim_id)  # an unknown claim is refused before arXiv is asked
    with _arxiv(st, settings) as lookup:
        record = lookup.record((paper, version))
    if record is None:
        raise InvalidArgument("--arxiv", f"arXiv lists no paper {arxiv}")
    anchor = anchor_from(record, found_by=None, score=None, confidence=AnchorConfidence(confidence), version=version)
    claim, decision = set_anchor(
        st,
        claim_id,
        anchor,
        by=by or getpass.getuser(),
        because=because or f"Checked against arXiv's listing of {record.ref}.",
        categories=record.categories[:MAX_CATEGORIES],
    )
    typer.echo(f"{claim.id}: arXiv:{record.ref} '{record.title}' ({record.first_author}, {anchor.date}) {confidence}")
    for change in decision.changes:
        typer.echo(f"  {change}")
