"""What every command shares: the workspace from the context, and JSON output."""

from __future__ import annotations

import json
from typing import Any

import typer

from claimtrack.store import Store
from claimtrack.workspace import Workspace, find_workspace


def workspace(ctx: typer.Context) -> Workspace:
    root = ctx.find_root()
    return find_workspace(root.obj)


def store(ctx: typer.Context) -> Store:
    return Store(workspace(ctx))


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def table(rows: list[list[str]], header: list[str]) -> str:
    """Plain aligned columns: readable in a terminal, greppable in a pipe."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)
