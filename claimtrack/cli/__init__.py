"""The command line: a thin layer over the library. One sub-app per noun; each docstring is its help."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import click
import typer
from typer.core import TyperGroup

from claimtrack.errors import ClaimtrackError


class _Group(TyperGroup):
    """Turns claimtrack's typed errors into one line on stderr and their exit code: no traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ClaimtrackError as exc:
            typer.echo(f"error: {exc.message()}", err=True)
            raise typer.Exit(exc.exit_code) from None


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
    from claimtrack.cli import agent, anchors, bench, claims, judge, papers, replicate, report, review

    claims.register(app)
    anchors.register(app)
    papers.register(app)
    agent.register(app)
    judge.register(app)
    replicate.register(app)
    report.register(app)
    review.register(app)
    bench.register(app)


_register()


def main() -> None:
    app()
