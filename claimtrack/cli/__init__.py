"""The command line: a thin layer over the library. One sub-app per noun; each docstring is its help."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from typer.core import TyperGroup

from claimtrack.errors import ClaimtrackError, LedgerUnreadable, plain
from claimtrack.ledger import is_damage


class _Group(TyperGroup):
    """Turns claimtrack's typed errors into one line on stderr and their exit code: no traceback. A bad option
    value is one line too (click would add a usage block, and typer's pydantic wording), and a ledger found
    damaged in the middle of a command is named with what to do."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except typer.BadParameter as exc:
            name = exc.param.opts[0] if exc.param is not None and exc.param.opts else (exc.param_hint or "argument")
            if exc.param is not None and exc.param.param_type_name == "argument":
                name = (exc.param.human_readable_name or name).upper()
            typer.echo(f"error: {name}: {plain(exc.message)}", err=True)
            raise typer.Exit(2) from None
        except sqlite3.DatabaseError as exc:
            if not is_damage(exc):
                raise
            error: ClaimtrackError = LedgerUnreadable(_ledger_path(ctx), str(exc))
            typer.echo(f"error: {error.message()}", err=True)
            raise typer.Exit(error.exit_code) from None
        except ClaimtrackError as exc:
            typer.echo(f"error: {exc.message()}", err=True)
            raise typer.Exit(exc.exit_code) from None


def _ledger_path(ctx: click.Context) -> str:
    from claimtrack.workspace import find_workspace

    try:
        return str(find_workspace(ctx.find_root().obj).ledger_path)
    except ClaimtrackError:
        return "the ledger"


app = typer.Typer(
    cls=_Group,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Keep dated research claims honest: store them, re-check them against newer work, report.",
)


def _print_version(value: bool) -> None:
    if value:
        from claimtrack import __version__

        typer.echo(f"claimtrack {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    workspace: Annotated[
        Path | None,
        typer.Option(
            "--workspace",
            "-w",
            help="Workspace folder (default: $CLAIMTRACK_HOME, else the nearest folder upward with claims/).",
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", help="Print the version and exit.", is_eager=True, callback=_print_version)
    ] = False,
    verbose: Annotated[
        int,
        typer.Option(
            "--verbose",
            "-v",
            count=True,
            show_default=False,
            help="Log more on stderr: -v each request and LLM call, -vv cache hits too.",
        ),
    ] = 0,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Errors only on stderr: no warnings, no progress lines.")
    ] = False,
) -> None:
    from claimtrack.cli import logs

    logs.configure(verbose - quiet)
    ctx.obj = workspace


def _register() -> None:
    from claimtrack.cli import agent, anchors, bench, claims, papers, replicate, report, review

    claims.register(app)
    anchors.register(app)
    papers.register(app)
    agent.register(app)
    replicate.register(app)
    report.register(app)
    review.register(app)
    bench.register(app)


_register()


def main() -> None:
    app()
