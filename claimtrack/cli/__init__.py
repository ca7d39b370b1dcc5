"""The command line: a thin layer over the library. One sub-app per noun; each docstring is its help."""

from __future__ import annotations

import functools
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
    damaged in the middle of a command is named with what to do. Every command under it also accepts the
    global options after its name (`claimtrack run --due -q`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _accept_global_options(self.commands.values())

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


def _accept_global_options(commands: Any) -> None:
    """Give each command (and sub-command) hidden copies of -w/--workspace, -v and -q, so they may follow its
    name as well; given there, they apply on top of those given before it."""
    for command in commands:
        if not {name for param in command.params for name in param.opts} & _GLOBAL_NAMES:
            command.params += list(_late_options())
        if isinstance(command, TyperGroup):
            _accept_global_options(command.commands.values())


def _late_workspace(ctx: typer.Context, value: Path | None) -> None:
    if value is not None:
        ctx.find_root().obj = value


def _late_verbose(ctx: typer.Context, value: int) -> None:
    _adjust(ctx, verbose=value)


def _late_quiet(ctx: typer.Context, value: bool) -> None:
    _adjust(ctx, quiet=value)


def _adjust(ctx: typer.Context, *, verbose: int = 0, quiet: bool = False) -> None:
    if verbose or quiet:
        from claimtrack.cli import logs

        levels = ctx.find_root().meta.setdefault(_LEVELS_KEY, {"verbose": 0, "quiet": False})
        levels["verbose"] += verbose
        levels["quiet"] = levels["quiet"] or quiet
        logs.configure(levels["verbose"] - levels["quiet"])


@functools.cache
def _late_options() -> tuple[Any, ...]:
    """The options as typer builds them, taken from a stand-in command once and shared by every command (they
    keep no state between invocations); they pass nothing to the command."""

    def stand_in(
        workspace: Annotated[
            Path | None, typer.Option("--workspace", "-w", hidden=True, callback=_late_workspace)
        ] = None,
        verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, hidden=True, callback=_late_verbose)] = 0,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", hidden=True, callback=_late_quiet)] = False,
    ) -> None:
        pass

    holder = typer.Typer(add_completion=False)
    holder.command()(stand_in)
    params = typer.main.get_command(holder).params
    for param in params:
        param.expose_value = False
    return tuple(params)


_GLOBAL_NAMES = frozenset({"-w", "--workspace", "-v", "--verbose", "-q", "--quiet"})
_LEVELS_KEY = "claimtrack.verbosity"


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

    ctx.meta[_LEVELS_KEY] = {"verbose": verbose, "quiet": quiet}
    logs.configure(verbose - quiet)
    ctx.obj = workspace


def _register() -> None:
    from claimtrack.cli import agent, anchors, bench, claims, judge, papers, replicate, report, review, serve

    claims.register(app)
    anchors.register(app)
    papers.register(app)
    agent.register(app)
    judge.register(app)
    replicate.register(app)
    report.register(app)
    review.register(app)
    serve.register(app)
    bench.register(app)


_register()


def main() -> None:
    app()
